"""The editor's live preview of a content item: what she would read, from an unsaved buffer.

``preview_item(text, path)`` parses the buffer as a content item and answers with the same
located diagnostics as the compile endpoint, and, when the item parses and its templates
render, a ``preview``:

- ``summary``: the summary rendered with the demo facts (``SAMPLE_FACTS``, the lint's), and
  the content lint's verdict on it. A summary that names a condition, test or drug
  (``sensitive-summary``) is refused: the preview shows the neutral summary in its place, as
  the wording that may reach a lock screen;
- ``wechat`` and ``sms``: the channel views of ``delivery.preview.render_views`` (so the
  adapters' own leak check, ``external_params``, runs on them too);
- ``inbox``: the title and the body as HTML.

The body's HTML is made here, on the server, and is the one HTML the editor page inserts.
It is safe because of how it is made, not because of a clean-up afterwards: the body is
rendered by the sandboxed Jinja environment as plain text, then by markdown-it with raw HTML
off (``<script>``, ``<img onerror=..>`` and every other tag stay escaped text), images off,
and a link check that admits only ``http:``, ``https:`` and ``content:`` targets (so no
``javascript:`` or ``data:`` link). markdown-it escapes every text and attribute it writes;
the only attributes it can write are ``href``, and the ``rel``, ``class`` and ``data-*``
added below.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Sequence
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.renderer import RendererHTML
from markdown_it.token import Token
from markdown_it.utils import EnvType, OptionsDict

from carepath.delivery.preview import ChannelView, render_views
from carepath.delivery.rendering import NEUTRAL_SUMMARY, SAMPLE_FACTS, render_text
from carepath.engine.content import ContentItem, parse_content_item
from carepath.engine.messages import Translate, untranslated
from carepath.errors import CompileError
from carepath.webapi.staff.editor.diagnostics import diagnose

#: The link targets the body may have; anything else stays text.
_LINK_SCHEMES = ("http://", "https://", "content:")
#: Diagnostics that stop a preview: the item would not be sent as written.
_BLOCKING = ("bad-template",)


def _link_allowed(url: str) -> bool:
    return url.strip().lower().startswith(_LINK_SCHEMES)


def _render_link_open(
    renderer: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    token = tokens[idx]
    href = str(token.attrGet("href") or "")
    if href.startswith("content:"):
        # a link to another item: shown, inert (the editor opens items from its library)
        token.attrs = {"class": "cp-content-link", "data-content": href[len("content:") :]}
        token.tag = "span"
        return renderer.renderToken(tokens, idx, options, env)
    token.attrs = {"href": href, "rel": "noopener noreferrer nofollow", "target": "_blank"}
    return renderer.renderToken(tokens, idx, options, env)


def _render_link_close(
    renderer: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    opening = next(
        (t for t in reversed(tokens[:idx]) if t.type == "link_open" and t.level == tokens[idx].level),
        None,
    )
    if opening is not None and opening.tag == "span":
        return "</span>"
    return "</a>"


@functools.cache
def _markdown() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.disable(["html_block", "html_inline", "image"])
    md.validateLink = _link_allowed  # type: ignore[method-assign]
    md.add_render_rule("link_open", _render_link_open)
    md.add_render_rule("link_close", _render_link_close)
    return md


def markdown_html(text: str) -> str:
    """Markdown to HTML with no raw HTML, no images and http(s)/content: links only."""
    return str(_markdown().render(text))


def preview_item(text: str, path: str | None, translate: Translate = untranslated) -> dict[str, Any]:
    """Diagnostics of the buffer (in ``translate``'s language) and, when it parses and
    renders, what she would read."""
    diagnostics = diagnose("content", text, path, translate)
    payload: dict[str, Any] = {"diagnostics": diagnostics, "preview": None}
    if any(d["code"] in _BLOCKING or d["code"] == "file-too-large" for d in diagnostics):
        return payload
    try:
        item = parse_content_item(text, path or "<content>")
    except CompileError:
        return payload  # located in ``diagnostics``
    sensitive = next((d for d in diagnostics if d["code"] == "sensitive-summary"), None)
    own_summary = _views(item)
    if any(not v.sent and v.note.startswith("the template") for v in own_summary):
        return payload
    views = own_summary if sensitive is None else _views(dataclasses.replace(item, summary=NEUTRAL_SUMMARY))
    by_channel = {v.channel: v for v in views}
    wechat, sms, inbox = by_channel["wechat"], by_channel["sms"], by_channel["inbox"]
    payload["preview"] = {
        "facts": {name: str(value) for name, value in SAMPLE_FACTS.items()},
        "summary": {
            "own": render_text(item.summary, SAMPLE_FACTS),
            "refused": sensitive is not None,
            "code": sensitive["code"] if sensitive else None,
            "message": sensitive["message"] if sensitive else "",
            "sent": NEUTRAL_SUMMARY if sensitive else (sms.text or wechat.text),
        },
        "wechat": _channel(wechat),
        "sms": _channel(sms),
        "inbox": {"title": inbox.title, "html": markdown_html(inbox.text)},
    }
    return payload


def _views(item: ContentItem) -> tuple[ChannelView, ...]:
    # a reminder's rules: WeChat and SMS both carry the summary (a lesson goes to the inbox)
    return render_views("remind", {"content": item.key}, (), {item.key: item}, SAMPLE_FACTS)


def _channel(view: ChannelView) -> dict[str, Any]:
    return {"sent": view.sent, "title": view.title, "text": view.text, "note": view.note}
