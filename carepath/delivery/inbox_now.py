"""Her inbox copies filed at once, in the transaction that made them due (issue 18 item 7).

The inbox is internal: when she has just registered, the lesson of her week is in her inbox
when her first page opens, not at the dispatcher's next round. ``file_due_now`` files the inbox
copies of her rows due by ``now`` exactly as the dispatcher's claim would (``inbox_copies.py``,
idempotent on the dedupe key), within the same gates: content no reviewer approved (unless the
hospital allows drafts) and a kill switch leave the row to the dispatcher, which holds it as it
always does. The rows stay ``due``: the dispatcher still claims them, finds the copy filed and
sends only what is external (and holds that for the send window); a lesson, inbox-only, is then
marked sent.

The hospital's approvals and education library come through ``store/recent.py`` (a publish is
seen here within ``pathways.RECHECK_SECONDS``, in the publishing process at once); the kill
switches are read every time.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from carepath.delivery.claiming import ITEM_PATH
from carepath.delivery.inbox_copies import InboxCopies
from carepath.delivery.items import NOTIFICATION_KINDS
from carepath.store import approvals, delivery_state, hospital_settings, publishing
from carepath.store.models import OutboxRow
from carepath.store.recent import PUBLISHED, Published


def file_due_now(session: Session, hospital_id: str, pregnancy_id: str, now: datetime) -> int:
    """File the inbox copies of her messages due by ``now`` (not yet filed); how many were filed.
    Their links are the dispatcher's: ``<public_base_url>/h5/inbox/<id>`` when the hospital has a
    public base URL (``claiming.links_of``), else ``/h5/inbox/<id>``."""
    rows = list(
        session.scalars(
            select(OutboxRow)
            .where(
                OutboxRow.pregnancy_id == pregnancy_id,
                OutboxRow.status == "due",
                OutboxRow.due_at <= now,
                OutboxRow.inbox_item_id.is_(None),
                OutboxRow.kind.in_(tuple(NOTIFICATION_KINDS)),
            )
            .order_by(OutboxRow.due_at, OutboxRow.id)
        )
    )
    if not rows:
        return 0
    paused = delivery_state.pauses(session, hospital_id)
    if any(scope == "all" for scope, _ in paused) or ("pregnancy", pregnancy_id) in paused:
        return 0
    published = PUBLISHED.get(session, hospital_id, _published)
    found = published.approvals
    settings = hospital_settings.current(session, hospital_id)
    drafts = settings.drafts_allowed
    base = settings.public_base_url
    link_base = base.rstrip("/") + ITEM_PATH if base else ITEM_PATH
    inbox = InboxCopies(session, rows, libraries={hospital_id: published.content})
    filed = 0
    for row in rows:
        params = row.params if isinstance(row.params, dict) else {}
        if ("pathway", row.pathway_id) in paused or (not drafts and found.unapproved(params)):
            continue  # the dispatcher holds it, as it would have
        inbox.file(row, now, link_base, found.version_sent(params))
        filed += 1
    inbox.flush()
    return filed


def _published(session: Session, hospital_id: str) -> Published:
    return Published(
        approvals.approvals(session, hospital_id), publishing.content_items(session, hospital_id)
    )
