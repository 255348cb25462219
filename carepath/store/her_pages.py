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

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from carepath.engine.clock import gestational_days
from carepath.store import audit as refusals
from carepath.store import consents, hospital_settings
from carepath.store.crypto import FieldCipher
from carepath.store.db import Database
from carepath.store.inbox import InboxItemNotFoundError
from carepath.store.models import ChannelBinding, InboxItem, OutboxRow, Patient, Pregnancy
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
    content_version: str | None = None  # of the text filed (``approvals``: the SHA-256 of it)


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
    """Her name (she is signed in: her own, in full), and while pregnant her week, her GA in
    days and her EDD (what her items' safe facts are made of)."""
    with db.reading() as session:
        return her_home_in(
            session,
            cipher,
            hospital_id=hospital_id,
            patient_id=patient_id,
            pregnancy_id=pregnancy_id,
            today=today,
        )


def her_home_in(
    session: Session,
    cipher: FieldCipher,
    *,
    hospital_id: str,
    patient_id: int,
    pregnancy_id: str | None,
    today: date,
) -> dict[str, Any]:
    """``her_home`` in the caller's session (her home page reads the rest in the same one)."""
    patient = session.get(Patient, patient_id)
    if patient is None or patient.hospital_id != hospital_id:
        raise InboxItemNotFoundError(f"no patient {patient_id} in hospital {hospital_id}")
    name = cipher.open(patient.name_sealed) if patient.name_sealed else ""
    found: dict[str, Any] = {"name": name, "week": None, "gestational_days": None, "edd": None}
    pregnancy = session.get(Pregnancy, pregnancy_id) if pregnancy_id else None
    if pregnancy is not None and pregnancy.patient_id == patient_id:
        dates = gestation(pregnancy, today)
        found["week"] = dates["gestational_week"]
        if dates["edd"] is not None:
            found["edd"] = date.fromisoformat(dates["edd"])
            if dates["gestational_week"] is not None:
                found["gestational_days"] = gestational_days(found["edd"], today)
    return found


def _mine(hospital_id: str, patient_id: int) -> Any:
    """Her items: every pregnancy of hers, in her hospital; a withdrawn congratulation
    (``store/congratulations.py``) is not hers to see any more."""
    return (
        select(InboxItem)
        .join(Pregnancy, Pregnancy.id == InboxItem.pregnancy_id)
        .where(
            Pregnancy.patient_id == patient_id,
            Pregnancy.hospital_id == hospital_id,
            InboxItem.hospital_id == hospital_id,
            InboxItem.withdrawn_at.is_(None),
        )
    )


def _item(row: InboxItem, content_key: str | None = None, version: str | None = None) -> HerItem:
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
        version,
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


def her_items_in(session: Session, hospital_id: str, patient_id: int) -> dict[int, HerItem]:
    """Every item of hers by id, each with the content it was filed from (what her printed copy
    renders as her item page does), read in the caller's session. Not audited: the caller's
    read of her data (``her_data.held``) is."""
    rows = session.execute(
        _mine(hospital_id, patient_id)
        .outerjoin(
            OutboxRow,
            (OutboxRow.dedupe_key == InboxItem.dedupe_key) & (OutboxRow.hospital_id == hospital_id),
        )
        .add_columns(OutboxRow.params, OutboxRow.content_version)
    ).all()
    found = {}
    for row, params, version in rows:
        key = params.get("content") if isinstance(params, dict) else None
        found[row.id] = _item(row, str(key) if key else None, version)
    return found


def unread_in(session: Session, hospital_id: str, patient_id: int) -> int:
    """How many of her items she has not opened yet (the count on her home)."""
    found = session.scalar(
        _mine(hospital_id, patient_id)
        .where(InboxItem.read_at.is_(None))
        .with_only_columns(func.count(InboxItem.id))
    )
    return int(found or 0)


def her_item(db: Database, hospital_id: str, patient_id: int, item_id: int, now: datetime) -> HerItem:
    """One item of hers, marked read the first time (and its outbox row: ``read``)."""
    actor = Actor(hospital_id, "patient", str(patient_id))
    with db.transaction() as session:
        row = session.scalar(_mine(hospital_id, patient_id).where(InboxItem.id == item_id))
        if row is None:  # another woman's id, or none: recorded (someone may be trying ids)
            detail = f"her inbox item {item_id}: not hers"
            refusals.record(db, actor, "refused", now, detail, patient_id=patient_id)
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
        sent = session.execute(
            select(OutboxRow.params, OutboxRow.content_version).where(OutboxRow.dedupe_key == row.dedupe_key)
        ).first()
        params, version = (sent[0], sent[1]) if sent is not None else (None, None)
        key = params.get("content") if isinstance(params, dict) else None
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
        return _item(row, str(key) if key else None, version)


def bind_wechat(
    db: Database,
    cipher: FieldCipher,
    hospital_id: str,
    patient_id: int,
    *,
    appid: str,
    openid: str,
    now: datetime,
) -> bool:
    """Bind the official account's openid web authorisation found to her, after she proved her
    phone (her invitation: a push link opened in WeChat). An openid already bound to another
    woman of the hospital is left alone (False): it is not taken by proving a phone."""
    with db.transaction() as session:
        taken = session.scalar(
            select(ChannelBinding.patient_id).where(
                ChannelBinding.hospital_id == hospital_id,
                ChannelBinding.kind == "wechat_oa",
                ChannelBinding.account == appid,
                ChannelBinding.value == openid,
                ChannelBinding.unbound_at.is_(None),
            )
        )
        if taken is not None:
            return taken == patient_id
        consents.bind(
            session, cipher, hospital_id=hospital_id, patient_id=patient_id, kind="wechat_oa", value=openid,
            at=now, account=appid,
        )  # fmt: skip
        actor = Actor(hospital_id, "patient", str(patient_id))
        audit(
            session,
            actor,
            "change",
            now,
            "her WeChat bound (web authorisation + SMS code)",
            patient_id=patient_id,
        )
    return True
