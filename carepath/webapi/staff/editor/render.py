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

The body's HTML is made on the server, and is the one HTML the editor page inserts: the body
is rendered by the sandboxed Jinja environment as plain text, then by
``delivery/safe_markdown.py`` (raw HTML off, images off, http(s) and ``content:`` links only),
the same renderer as her inbox item page; ``markdown_html`` stays importable from here.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from carepath.delivery.preview import ChannelView, render_views
from carepath.delivery.rendering import NEUTRAL_SUMMARY, SAMPLE_FACTS, render_text
from carepath.delivery.safe_markdown import markdown_html
from carepath.engine.content import ContentItem, parse_content_item
from carepath.engine.messages import Translate, untranslated
from carepath.errors import CompileError
from carepath.webapi.staff.editor.diagnostics import diagnose

__all__ = ["markdown_html", "preview_item"]

#: Diagnostics that stop a preview: the item would not be sent as written.
_BLOCKING = ("bad-template",)


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
