"""Outbox rows held because their content item or form is not approved: the hold, the release
and the count staff see.

The dispatcher holds a due row whose item no reviewer approved (``approvals.py`` decides):
status ``held``, reason ``unapproved-content``; nothing of it reaches her, not even her inbox
copy, and it is never dropped. A held row is not claimed again until it is released — all of
them in one statement per item: when the item is published (approved) in the editor, when
the hospital allows drafts, or when the dispatcher's re-check finds the item approved (a newer
shipped library). Released rows are due again; the dispatcher decides them in its batches and
holds again any whose other item is still unapproved. The engine cancels held rows like due
ones.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from carepath.store.models import OutboxRow
from carepath.store.outbox_batch import OutboxLike

HELD = "held"
UNAPPROVED = "unapproved-content"
#: The outbox params that name a library document, and the document kind each names.
REFERENCES = (("content", "content"), ("form", "form"))


def hold(row: OutboxLike, now: datetime) -> None:
    """Hold ``row`` until its items are approved (the dispatcher, inside its claim)."""
    row.status = HELD
    row.status_reason = UNAPPROVED
    row.next_attempt_at = None
    row.updated_at = now


def release(
    session: Session, hospital_id: str, now: datetime, *, kind: str | None = None, name: str | None = None
) -> int:
    """Make the hospital's held rows due again: those naming ``kind``/``name``, or all of them.
    One statement; returns how many."""
    statement = update(OutboxRow).where(
        OutboxRow.hospital_id == hospital_id,
        OutboxRow.status == HELD,
        OutboxRow.status_reason == UNAPPROVED,
    )
    if kind is not None:
        key = dict(REFERENCES)[kind]
        statement = statement.where(OutboxRow.params[key].as_string() == name)
    result = session.execute(
        statement.values(
            status="due", status_reason=None, next_attempt_at=None, updated_at=now
        ).execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def release_ids(session: Session, ids: list[int], now: datetime) -> int:
    """Make these held rows due again (the re-check found their items approved)."""
    if not ids:
        return 0
    result = session.execute(
        update(OutboxRow)
        .where(OutboxRow.id.in_(ids), OutboxRow.status == HELD)
        .values(status="due", status_reason=None, next_attempt_at=None, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def held_counts(session: Session, hospital_id: str) -> list[tuple[str | None, str | None, int]]:
    """(content key, form id, rows) of the hospital's held rows, most held first."""
    content = OutboxRow.params["content"].as_string()
    form = OutboxRow.params["form"].as_string()
    rows = session.execute(
        select(content, form, func.count())
        .where(
            OutboxRow.hospital_id == hospital_id,
            OutboxRow.status == HELD,
            OutboxRow.status_reason == UNAPPROVED,
        )
        .group_by(content, form)
        .order_by(func.count().desc(), content, form)
    ).all()
    return [(c, f, int(n)) for c, f, n in rows]
