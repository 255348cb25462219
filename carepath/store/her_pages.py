"""What her own pages read: her name and week, her inbox and one item of it.

Every function takes who she is (``patient_id`` and ``hospital_id`` from her session) and
reads only rows of hers: an item of another woman, or of another hospital, is not found
(``InboxItemNotFoundError``), never forbidden, exactly like tenant isolation. Reading her
inbox is reading patient data: her reads are in the audit log as ``patient:<id>``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select, update

from carepath.store import hospital_settings
from carepath.store.crypto import FieldCipher
from carepath.store.db import Database
from carepath.store.inbox import InboxItemNotFoundError
from carepath.store.models import InboxItem, OutboxRow, Patient, Pregnancy
from carepath.store.scope import Actor, audit
from carepath.store.search import gestation


@dataclass(frozen=True)
class HerItem:
    id: int
    pregnancy_id: str
    kind: str
    title: str
    summary: str
    body: str
    filed_at: datetime
    read_at: datetime | None
    content_key: str | None = None


def hospital_today(db: Database, hospital_id: str, now: datetime) -> date:
    zone = ZoneInfo(hospital_settings.current(db, hospital_id).timezone)
    return now.astimezone(zone).date()


def her_home(
    db: Database,
    cipher: FieldCipher,
    *,
    hospital_id: str,
    patient_id: int,
    pregnancy_id: str | None,
    today: date,
) -> dict[str, Any]:
    """Her name (she is signed in: her own, in full) and, while pregnant, her week."""
    with db.reading() as session:
        patient = session.get(Patient, patient_id)
        if patient is None or patient.hospital_id != hospital_id:
            raise InboxItemNotFoundError(f"no patient {patient_id} in hospital {hospital_id}")
        name = cipher.open(patient.name_sealed) if patient.name_sealed else ""
        week = None
        pregnancy = session.get(Pregnancy, pregnancy_id) if pregnancy_id else None
        if pregnancy is not None and pregnancy.patient_id == patient_id:
            week = gestation(pregnancy, today)["gestational_week"]
    return {"name": name, "week": week}


def _mine(hospital_id: str, patient_id: int) -> Any:
    """Her items: every pregnancy of hers, in her hospital."""
    return (
        select(InboxItem)
        .join(Pregnancy, Pregnancy.id == InboxItem.pregnancy_id)
        .where(
            Pregnancy.patient_id == patient_id,
            Pregnancy.hospital_id == hospital_id,
            InboxItem.hospital_id == hospital_id,
        )
    )


def _item(row: InboxItem, content_key: str | None = None) -> HerItem:
    return HerItem(
        row.id,
        row.pregnancy_id,
        row.kind,
        row.title,
        row.summary,
        row.body,
        row.filed_at,
        row.read_at,
        content_key,
    )


def her_inbox(
    db: Database, hospital_id: str, patient_id: int, now: datetime, *, limit: int = 50
) -> list[HerItem]:
    """Her items, newest first (the body too: the page shows titles and summaries)."""
    actor = Actor(hospital_id, "patient", str(patient_id))
    with db.transaction() as session:
        rows = session.scalars(
            _mine(hospital_id, patient_id)
            .order_by(InboxItem.filed_at.desc(), InboxItem.id.desc())
            .limit(limit)
        ).all()
        audit(session, actor, "list", now, f"her inbox: {len(rows)} item(s)", patient_id=patient_id)
        return [_item(row) for row in rows]


def her_item(db: Database, hospital_id: str, patient_id: int, item_id: int, now: datetime) -> HerItem:
    """One item of hers, marked read the first time (and its outbox row: ``read``)."""
    actor = Actor(hospital_id, "patient", str(patient_id))
    with db.transaction() as session:
        row = session.scalar(_mine(hospital_id, patient_id).where(InboxItem.id == item_id))
        if row is None:
            raise InboxItemNotFoundError(f"no inbox item {item_id} of patient {patient_id}")
        if row.read_at is None:
            row.read_at = now
            session.execute(
                update(OutboxRow)
                .where(
                    OutboxRow.dedupe_key == row.dedupe_key,
                    OutboxRow.hospital_id == hospital_id,
                    OutboxRow.read_at.is_(None),
                )
                .values(read_at=now)
                .execution_options(synchronize_session=False)
            )
        content = session.scalar(select(OutboxRow.params).where(OutboxRow.dedupe_key == row.dedupe_key))
        key = content.get("content") if isinstance(content, dict) else None
        audit(
            session,
            actor,
            "read",
            now,
            f"her inbox item {row.id}",
            patient_id=patient_id,
            pregnancy_id=row.pregnancy_id,
        )
        session.flush()
        return _item(row, str(key) if key else None)
