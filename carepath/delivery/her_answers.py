"""What her answer on her pages made due, filed in her inbox in the same transaction (issue 19
item 3): the confirmation page shows her urgent advice at once, and it is the very copy her
inbox holds and her external notice links to.

``file_at_once`` files, as the dispatcher's claim would, the inbox copies of her messages due
by now (``inbox_now.file_due_now``), then her *urgent* messages that gate left unfiled because
their content is not approved: those are never held, she gets the hospital's emergency notice
in their place (``approvals.gate``, ``emergency_notice.py``), exactly as the dispatcher sends
it. The rows stay ``due``: the dispatcher still sends what is external (an urgent message at
once, at any hour), finding the copy filed. A kill switch leaves everything to the dispatcher.

``advice_html`` renders one urgent copy for her page through the same path as her inbox item
(``her_item``: her safe facts while the filed text is the library's, the safe renderer);
advice not filed (a kill switch) is shown as the emergency notice, never nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from sqlalchemy import select
from sqlalchemy.orm import Session

from carepath.delivery import emergency_notice, her_item
from carepath.delivery.claiming import ITEM_PATH
from carepath.delivery.inbox_copies import InboxCopies
from carepath.delivery.inbox_now import file_due_now
from carepath.delivery.safe_markdown import markdown_html
from carepath.store import approvals, delivery_state, hospital_settings
from carepath.store.db import Database
from carepath.store.her_pages import HerItem
from carepath.store.models import OutboxRow


def file_at_once(session: Session, hospital_id: str, pregnancy_id: str, now: dt.datetime) -> None:
    """File her inbox copies due by ``now``, urgent advice included (see the module)."""
    file_due_now(session, hospital_id, pregnancy_id, now)
    paused = delivery_state.pauses(session, hospital_id)
    if any(scope == "all" for scope, _ in paused) or ("pregnancy", pregnancy_id) in paused:
        return
    rows = [
        row
        for row in session.scalars(
            select(OutboxRow).where(
                OutboxRow.pregnancy_id == pregnancy_id,
                OutboxRow.status == "due",
                OutboxRow.due_at <= now,
                OutboxRow.inbox_item_id.is_(None),
                OutboxRow.kind.in_(("push", "questionnaire", "remind")),
            )
        )
        if isinstance(row.params, dict) and row.params.get("urgent") is True
        and ("pathway", row.pathway_id) not in paused
    ]  # fmt: skip
    if not rows:
        return
    settings = hospital_settings.current(session, hospital_id)
    found = approvals.approvals(session, hospital_id)
    kept, versions, _, notices = approvals.gate(rows, found, drafts_allowed=settings.drafts_allowed, now=now)
    base = settings.public_base_url
    link_base = base.rstrip("/") + ITEM_PATH if base else ITEM_PATH
    inbox = InboxCopies(session, kept)
    notice = emergency_notice.notice(settings.emergency_phone, hospital_id)
    for row in kept:
        inbox.file(
            row, now, link_base, versions.get(row.dedupe_key), notice if row.dedupe_key in notices else None
        )
    inbox.flush()


def emergency_phone(db: Database, hospital_id: str) -> str | None:
    return hospital_settings.current(db, hospital_id).emergency_phone


def advice_html(
    db: Database, hospital_id: str, item: HerItem | None, facts: Mapping[str, object], phone: str | None
) -> tuple[str, str]:
    """(title, safe HTML) of one urgent advice for her page (see the module)."""
    if item is None:
        notice = emergency_notice.notice(phone, hospital_id)
        return notice.title, markdown_html(notice.body)
    with db.reading() as session:
        text = her_item.body_text_in(session, hospital_id, item, facts)
    return item.title, her_item.body_html(text)
