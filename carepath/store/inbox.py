"""Her in-app inbox as the mini-program / H5 backend reads it: one pregnancy's items, newest
first, with the unread count; and the read mark.

Each public function is one transaction (the service owns the session). Tenancy goes through
``scope.owned``: another hospital's pregnancy or item is not found, never forbidden. Reading her
inbox is reading patient data, so every listing and read mark is in the audit log.
Marking an item read is idempotent: the first time sets ``InboxItem.read_at`` and the
``read_at`` of the outbox row it came from (the delivery summary then says ``read``); later
marks change nothing. A withdrawn congratulation (``store/congratulations.py``) is neither
listed nor found.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from carepath.errors import CarepathError
from carepath.store.db import Database
from carepath.store.models import InboxItem, OutboxRow, Patient, Pregnancy
from carepath.store.scope import Actor, PregnancyNotFoundError, audit, owned


class InboxItemNotFoundError(CarepathError):
    """No such item in this pregnancy's inbox."""

    code = "inbox-item-not-found"


def _pregnancy(session: Session, actor: Actor, pregnancy_id: str) -> Pregnancy:
    pregnancy = session.scalar(owned(select(Pregnancy), Pregnancy, actor).where(Pregnancy.id == pregnancy_id))
    if pregnancy is None:
        raise PregnancyNotFoundError(f"no pregnancy {pregnancy_id!r} in hospital {actor.hospital_id}")
    return pregnancy


def _view(item: InboxItem) -> dict[str, Any]:
    return {
        "id": item.id,
        "pregnancy": item.pregnancy_id,
        "kind": item.kind,
        "title": item.title,
        "summary": item.summary,
        "body": item.body,
        "link": item.link,
        "filed_at": item.filed_at.isoformat(),
        "read_at": item.read_at.isoformat() if item.read_at else None,
    }


def list_inbox(
    db: Database,
    actor: Actor,
    pregnancy_id: str,
    now: datetime,
    *,
    limit: int = 20,
    offset: int = 0,
    unread_only: bool = False,
) -> dict[str, Any]:
    """One pregnancy's inbox page, newest first: ``items``, ``total`` (of the filter),
    ``unread`` (of the whole inbox), ``limit`` and ``offset``. Audited."""
    with db.transaction() as session:
        pregnancy = _pregnancy(session, actor, pregnancy_id)
        mine = select(InboxItem).where(
            InboxItem.pregnancy_id == pregnancy.id,
            InboxItem.hospital_id == actor.hospital_id,
            InboxItem.withdrawn_at.is_(None),
        )
        if unread_only:
            mine = mine.where(InboxItem.read_at.is_(None))
        total = session.scalar(select(func.count()).select_from(mine.subquery())) or 0
        unread = (
            session.scalar(
                select(func.count())
                .select_from(InboxItem)
                .where(
                    InboxItem.pregnancy_id == pregnancy.id,
                    InboxItem.hospital_id == actor.hospital_id,
                    InboxItem.read_at.is_(None),
                    InboxItem.withdrawn_at.is_(None),
                )
            )
            or 0
        )
        items = list(
            session.scalars(
                mine.order_by(InboxItem.filed_at.desc(), InboxItem.id.desc()).limit(limit).offset(offset)
            )
        )
        audit(
            session,
            actor,
            "list",
            now,
            f"inbox listed: {len(items)} item(s) from offset {offset}",
            patient_id=pregnancy.patient_id,
            pregnancy_id=pregnancy.id,
        )
        return {
            "items": [_view(item) for item in items],
            "total": total,
            "unread": unread,
            "limit": limit,
            "offset": offset,
        }


def mark_read(db: Database, actor: Actor, pregnancy_id: str, item_id: int, now: datetime) -> dict[str, Any]:
    """Mark one item of her inbox read (idempotent: the first read time stays). Audited."""
    with db.transaction() as session:
        pregnancy = _pregnancy(session, actor, pregnancy_id)
        item = session.scalar(
            select(InboxItem).where(
                InboxItem.id == item_id,
                InboxItem.pregnancy_id == pregnancy.id,
                InboxItem.hospital_id == actor.hospital_id,
                InboxItem.withdrawn_at.is_(None),
            )
        )
        if item is None:
            raise InboxItemNotFoundError(f"no inbox item {item_id} for pregnancy {pregnancy_id!r}")
        first = item.read_at is None
        if first:
            item.read_at = now
            session.execute(
                update(OutboxRow)
                .where(
                    OutboxRow.dedupe_key == item.dedupe_key,
                    OutboxRow.hospital_id == actor.hospital_id,
                    OutboxRow.read_at.is_(None),
                )
                .values(read_at=now)
                .execution_options(synchronize_session=False)
            )
        audit(
            session,
            actor,
            "change" if first else "read",
            now,
            f"inbox item {item.id} marked read" + ("" if first else " (again)"),
            patient_id=pregnancy.patient_id,
            pregnancy_id=pregnancy.id,
        )
        session.flush()
        return _view(item)


def locate_pregnancy(
    db: Database,
    *,
    pregnancy_id: str | None = None,
    hospital_id: str | None = None,
    his_patient_id: str | None = None,
) -> tuple[str, str]:
    """(hospital, pregnancy) for an operator's command: a pregnancy by its id, or a patient's
    latest pregnancy by her HIS id within one hospital; ``PregnancyNotFoundError`` otherwise."""
    with db.reading() as session:
        statement = select(Pregnancy.hospital_id, Pregnancy.id)
        if pregnancy_id is not None:
            statement = statement.where(Pregnancy.id == pregnancy_id)
            if hospital_id is not None:
                statement = statement.where(Pregnancy.hospital_id == hospital_id)
        elif hospital_id is not None and his_patient_id is not None:
            statement = (
                statement.join(Patient, Patient.id == Pregnancy.patient_id)
                .where(Patient.hospital_id == hospital_id, Patient.his_patient_id == his_patient_id)
                .order_by(Pregnancy.number.desc())
            )
        else:
            raise ValueError("give a pregnancy id, or a hospital and her HIS patient id")
        found = session.execute(statement.limit(1)).first()
    if found is None:
        raise PregnancyNotFoundError(
            f"no pregnancy {pregnancy_id!r}"
            if pregnancy_id is not None
            else f"no patient {his_patient_id!r} in hospital {hospital_id}"
        )
    return found[0], found[1]


def waiting(db: Database, hospital_id: str, pregnancy_id: str) -> list[tuple[datetime, int]]:
    """(when, how many) of her outbox messages still to go: held for the send window, the cap,
    a retry, or simply not yet due."""
    when = func.coalesce(OutboxRow.next_attempt_at, OutboxRow.due_at)
    with db.reading() as session:
        rows = session.execute(
            select(when, func.count())
            .where(
                OutboxRow.hospital_id == hospital_id,
                OutboxRow.pregnancy_id == pregnancy_id,
                OutboxRow.status == "due",
            )
            .group_by(when)
            .order_by(when)
        ).all()
    return [(at, int(count)) for at, count in rows]
