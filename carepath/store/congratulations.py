"""A bereaved mother is never congratulated: once a baby of hers is lost, celebrating content
(``celebrates: true`` in its front matter, ``engine/content.py``) is taken back.

The engine only cancels actions still pending in her state; but a congratulation that already
fired may still be waiting — her inbox copy filed at once, its external notice held for the
send window (``delivery/claiming.py`` ``_file_early``) — or already in her inbox. So when an
evaluation turns ``any_baby_lost`` true (a stillbirth reported with the delivery, a
``newborn.died``) or ends the pregnancy by a loss (``loss.confirmed``, ``engine/loss.py``), in
the same transaction as that evaluation's write (``evaluation.persist_many``):

- every unsent row of the pregnancy (``due``, or ``held`` for unapproved content) whose content
  celebrates ends ``cancelled``, reason ``baby-lost``;
- every inbox copy of celebrating content for the pregnancy gets ``withdrawn_at`` (reason
  ``baby-lost``): her inbox and her item page leave it out (a 404 as for a missing item), staff
  views show it withdrawn.

A row already claimed (``in_flight``) when the event commits is on the wire: its notice may
still reach her (at most the batch in flight, as for the loss hold), but its inbox copy was
filed in the claim's transaction and is withdrawn with the others. Which content celebrates is
the hospital's library as it sends it (``publishing.content_items``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from carepath.engine import loss
from carepath.engine.facts import Facts
from carepath.store import held_content, publishing
from carepath.store.models import InboxItem, OutboxRow, Pregnancy

#: The status reason of a cancelled row and the reason of a withdrawn inbox item.
REASON = "baby-lost"
UNSENT = ("due", held_content.HELD)


def lost_now(before: Facts, after: Facts, loss_change: str | None) -> bool:
    """Whether this evaluation is the moment a baby was lost: ``any_baby_lost`` turned true, or
    a loss ended the pregnancy."""
    return loss_change == loss.CONFIRMED or (
        (after.babies_lost or 0) > 0 and not (before.babies_lost or 0) > 0
    )


def celebrating_keys(session: Session, hospital_id: str) -> frozenset[str]:
    """The content keys of the hospital's library that congratulate her."""
    return frozenset(
        key for key, item in publishing.content_items(session, hospital_id).items() if item.celebrates
    )


def withdraw(session: Session, pregnancy: Pregnancy, now: datetime) -> tuple[int, int]:
    """Cancel the unsent rows and withdraw the inbox copies of celebrating content for
    ``pregnancy``; (rows cancelled, items withdrawn)."""
    keys = celebrating_keys(session, pregnancy.hospital_id)
    if not keys:
        return 0, 0
    rows = session.execute(
        select(OutboxRow.id, OutboxRow.dedupe_key, OutboxRow.status, OutboxRow.params).where(
            OutboxRow.pregnancy_id == pregnancy.id, OutboxRow.hospital_id == pregnancy.hospital_id
        )
    ).all()
    celebrating = [
        (id_, dedupe_key, status)
        for id_, dedupe_key, status, params in rows
        if isinstance(params, dict) and str(params.get("content") or "") in keys
    ]
    unsent = [id_ for id_, _, status in celebrating if status in UNSENT]
    cancelled = 0
    if unsent:
        result = session.execute(
            update(OutboxRow)
            .where(OutboxRow.id.in_(unsent), OutboxRow.status.in_(UNSENT))
            .values(status="cancelled", status_reason=REASON, updated_at=now)
            .execution_options(synchronize_session=False)
        )
        cancelled = int(result.rowcount or 0)  # type: ignore[attr-defined]
    withdrawn = 0
    dedupe_keys = [dedupe_key for _, dedupe_key, _ in celebrating]
    if dedupe_keys:
        result = session.execute(
            update(InboxItem)
            .where(
                InboxItem.pregnancy_id == pregnancy.id,
                InboxItem.hospital_id == pregnancy.hospital_id,
                InboxItem.dedupe_key.in_(dedupe_keys),
                InboxItem.withdrawn_at.is_(None),
            )
            .values(withdrawn_at=now, withdrawn_reason=REASON)
            .execution_options(synchronize_session=False)
        )
        withdrawn = int(result.rowcount or 0)  # type: ignore[attr-defined]
    return cancelled, withdrawn
