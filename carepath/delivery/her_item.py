"""An inbox item as she reads it: its body with her safe facts filled in, as safe HTML.

Her inbox copy was filed when the message fired, rendered without her name or dates (the claim
does not open sealed names). Shown to her, the item is rendered again from its content item
with her safe facts (``rendering.SAFE_FACTS``: her name, GA, EDD, today), but only while the
hospital's library still holds the very text that was filed (the row's ``content_version``
equals the version it would send now); otherwise, or when the item has no content of its own
or the template fails, the filed body is shown as filed. Either way the HTML comes from
``safe_markdown.markdown_html``.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from carepath.delivery.rendering import build_safe_facts, render_text
from carepath.delivery.safe_markdown import markdown_html
from carepath.store import approvals, publishing
from carepath.store.her_pages import HerItem

log = logging.getLogger(__name__)


def her_facts(facts: Mapping[str, Any], today: dt.date) -> dict[str, object]:
    """Her safe facts from ``store.her_pages.her_home``'s answer. Her name is her full name:
    splitting a Chinese name into family and given names is not safe (复姓 such as 欧阳)."""
    return build_safe_facts(
        first_name=str(facts.get("name") or ""),
        today=today,
        gestational_days=facts.get("gestational_days"),
        edd=facts.get("edd"),
    )


def body_text_in(session: Session, hospital_id: str, item: HerItem, facts: Mapping[str, object]) -> str:
    """The Markdown she reads (see the module), read in the caller's session."""
    filed, content_key, version = item.body, item.content_key, item.content_version
    if not content_key or not version:
        return filed
    if approvals.approvals(session, hospital_id).version_sent({"content": content_key}) != version:
        return filed  # the library moved on since: the text as filed
    content = publishing.content_items(session, hospital_id).get(content_key)
    if content is None:
        return filed
    try:
        return render_text(content.body, facts)
    except Exception:  # a template lint missed: she still reads the filed text
        log.exception("rendering %s for her page failed", content_key)
        return filed


def body_html(text: str) -> str:
    return markdown_html(text)
