"""Markdown to HTML that is safe because of how it is made: the one renderer of an item's body
for every page that shows one (the editor's preview for staff, her inbox item for her).

markdown-it with raw HTML off (``<script>``, ``<img onerror=..>`` and every other tag stay
escaped text), images off, and a link check that admits only ``http:``, ``https:`` and
``content:`` targets (so no ``javascript:`` or ``data:`` link). markdown-it escapes every text
and attribute it writes; the only attributes it can write are ``href``, and the ``rel``,
``target``, ``class`` and ``data-*`` added here. A ``content:<key>`` link (an item pointing at
another) is shown inert, as a ``<span class="cp-content-link" data-content="key">``.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

from markdown_it import MarkdownIt
from markdown_it.renderer import RendererHTML
from markdown_it.token import Token
from markdown_it.utils import EnvType, OptionsDict

#: The link targets the body may have; anything else stays text.
LINK_SCHEMES = ("http://", "https://", "content:")


def _link_allowed(url: str) -> bool:
    return url.strip().lower().startswith(LINK_SCHEMES)


def _render_link_open(
    renderer: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    token = tokens[idx]
    href = str(token.attrGet("href") or "")
    if href.startswith("content:"):
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
