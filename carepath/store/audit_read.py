"""Reading the audit log (issue 21 item 6): filtered, a page at a time, in words, exported.

The log may hold millions of rows, so pages are keyset pages on (``at``, ``id``) newest first
(the cursor is the last row's pair; no OFFSET), on the indexes of migration 0029: (hospital,
at, id) for the whole log, (patient, at, id) for one woman, (hospital, actor, at, id) for one
member of staff or system. Each page shows who (``audit_words.actor_words``), the action and
the target in Chinese, the woman masked (family name and HIS id only, never her ID number or
phone). Reading the log is itself audited (``read``, the filters), and so is an export
(``export``, the filters and the row count); an export is CSV (UTF-8 with a BOM, which Excel
opens as Chinese), masked like the page, at most ``EXPORT_LIMIT`` rows.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, not_, or_, select, tuple_
from sqlalchemy.orm import Session

from carepath.errors import CarepathError
from carepath.store import audit_words, hospital_settings
from carepath.store.crypto import FieldCipher, mask_name
from carepath.store.db import Database
from carepath.store.models import AuditEntry, Integrator, Patient, Pregnancy, Staff
from carepath.store.scope import Actor, audit

PAGE_SIZE = 50
EXPORT_LIMIT = 100_000
_CHUNK = 1000
#: The "who" choices that are not one actor: women themselves, and every machine.
WHO_PATIENT, WHO_SYSTEM = "patient", "system"
_PEOPLE = ("staff:%", "integrator:%", "patient:%")


class AuditFilterError(CarepathError):
    """A filter that cannot be read: ``bad-cursor``, ``bad-range``, ``unknown-target``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class AuditFilter:
    """What the auditor asked for; every field optional. ``who``: an actor label (``staff:12``),
    ``patient`` or ``system``. ``target``: a woman's HIS id or a pregnancy id, as typed.
    ``since`` / ``until``: hospital dates, both inclusive."""

    who: str = ""
    action: str = ""
    patient_id: int | None = None
    target: str = ""
    since: date | None = None
    until: date | None = None

    def describe(self) -> str:
        parts = [f"{k}={v}" for k, v in (
            ("who", self.who), ("action", self.action), ("patient", self.patient_id or ""),
            ("target", self.target), ("since", self.since or ""), ("until", self.until or ""),
        ) if v]  # fmt: skip
        return ", ".join(parts) or "all"


@dataclass(frozen=True)
class EntryView:
    id: int
    at: datetime
    actor: str
    actor_words: str
    action: str
    action_words: str
    patient_id: int | None
    target_words: str
    detail: str
    detail_words: str | None
    remote_addr: str | None
    count: int


@dataclass(frozen=True)
class AuditPage:
    entries: list[EntryView]
    next_cursor: str | None
    notes: list[str] = field(default_factory=list)


def encode_cursor(entry: EntryView) -> str:
    return f"{int(entry.at.timestamp() * 1_000_000)}-{entry.id}"


def decode_cursor(text: str) -> tuple[datetime, int]:
    micros, _, ident = (text or "").partition("-")
    if not micros.isdigit() or not ident.isdigit():
        raise AuditFilterError("bad-cursor", "the page link is not one this viewer made")
    at = datetime.fromtimestamp(0, UTC) + timedelta(microseconds=int(micros))
    return at, int(ident)


def _zone(session: Session, hospital_id: str) -> ZoneInfo:
    return ZoneInfo(hospital_settings.current(session, hospital_id).timezone)


def _filtered(session: Session, actor: Actor, wanted: AuditFilter) -> Select[Any]:
    statement = select(AuditEntry).where(AuditEntry.hospital_id == actor.hospital_id)
    if wanted.who == WHO_PATIENT:
        statement = statement.where(AuditEntry.actor.like("patient:%"))
    elif wanted.who == WHO_SYSTEM:
        statement = statement.where(not_(or_(*(AuditEntry.actor.like(p) for p in _PEOPLE))))
    elif wanted.who:
        statement = statement.where(AuditEntry.actor == wanted.who)
    if wanted.action:
        statement = statement.where(AuditEntry.action == wanted.action)
    if wanted.patient_id is not None:
        statement = statement.where(AuditEntry.patient_id == wanted.patient_id)
    if wanted.target.strip():
        statement = _target(session, actor, statement, wanted.target.strip())
    if wanted.since and wanted.until and wanted.since > wanted.until:
        raise AuditFilterError("bad-range", "the first day is after the last")
    zone = _zone(session, actor.hospital_id)
    if wanted.since:
        statement = statement.where(AuditEntry.at >= datetime.combine(wanted.since, time(), zone))
    if wanted.until:
        statement = statement.where(
            AuditEntry.at < datetime.combine(wanted.until + timedelta(days=1), time(), zone)
        )
    return statement


def _target(session: Session, actor: Actor, statement: Select[Any], text: str) -> Select[Any]:
    """A woman by her HIS id, else one pregnancy by its id (this hospital's only)."""
    patient_ids = session.scalars(
        select(Patient.id).where(Patient.hospital_id == actor.hospital_id, Patient.his_patient_id == text)
    ).all()
    if patient_ids:
        return statement.where(AuditEntry.patient_id.in_(patient_ids))
    pregnancy = session.scalar(
        select(Pregnancy).where(Pregnancy.hospital_id == actor.hospital_id, Pregnancy.id == text)
    )
    if pregnancy is None:
        raise AuditFilterError("unknown-target", "no woman with this HIS id and no pregnancy with this id")
    return statement.where(
        AuditEntry.patient_id == pregnancy.patient_id,
        or_(AuditEntry.pregnancy_id == pregnancy.id, AuditEntry.pregnancy_id.is_(None)),
    )


def _rows(
    session: Session, statement: Select[Any], after: tuple[datetime, int] | None, limit: int
) -> list[AuditEntry]:
    if after is not None:
        at, ident = after
        # a row value, not (at < x OR at = x AND id < y): PostgreSQL makes the row value an index
        # condition on (…, at, id), so a page a year back starts there instead of filtering down
        # from the newest row (4.7 s → one index probe at 2M rows, bench/audit_log.py)
        statement = statement.where(tuple_(AuditEntry.at, AuditEntry.id) < tuple_(at, ident))
    ordered = statement.order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).limit(limit)
    return list(session.scalars(ordered))


def _views(session: Session, cipher: FieldCipher, actor: Actor, rows: list[AuditEntry]) -> list[EntryView]:
    """The rows in words; names looked up once per page (staff, integrators, women)."""

    def ids(kind: str) -> set[int]:
        found = set()
        for row in rows:
            head, _, ident = row.actor.partition(":")
            if head == kind and ident.isdigit():
                found.add(int(ident))
        return found

    staff = dict(
        session.execute(
            select(Staff.id, Staff.name).where(
                Staff.id.in_(ids("staff")), Staff.hospital_id == actor.hospital_id
            )
        ).all()
    )
    integrators = dict(
        session.execute(
            select(Integrator.id, Integrator.name).where(
                Integrator.id.in_(ids("integrator")), Integrator.hospital_id == actor.hospital_id
            )
        ).all()
    )
    patient_ids = {row.patient_id for row in rows if row.patient_id is not None} | ids("patient")
    women: dict[int, str] = {}
    for patient in session.scalars(
        select(Patient).where(Patient.id.in_(patient_ids), Patient.hospital_id == actor.hospital_id)
    ):
        name = mask_name(cipher.open(patient.name_sealed)) if patient.name_sealed else "未留姓名"
        women[patient.id] = f"{name}（病案号 {patient.his_patient_id}）" if patient.his_patient_id else name
    numbers = dict(
        session.execute(
            select(Pregnancy.id, Pregnancy.number).where(
                Pregnancy.id.in_({row.pregnancy_id for row in rows if row.pregnancy_id})
            )
        ).all()
    )
    views = []
    for row in rows:
        head, _, ident = row.actor.partition(":")
        herself = women.get(int(ident)) if head == "patient" and ident.isdigit() else None
        if row.patient_id is not None:
            target = "孕妇 " + women.get(row.patient_id, "（已不在本院）")
            if row.pregnancy_id in numbers:
                target += f" · 第{numbers[row.pregnancy_id]}次妊娠"
        else:
            target = "—"
        views.append(
            EntryView(
                id=row.id,
                at=row.at,
                actor=row.actor,
                actor_words=audit_words.actor_words(row.actor, staff, integrators, herself),
                action=row.action,
                action_words=audit_words.action_words(row.action),
                patient_id=row.patient_id,
                target_words=target,
                detail=row.detail,
                detail_words=audit_words.detail_words(row.detail),
                remote_addr=row.remote_addr,
                count=row.count or 1,
            )
        )
    return views


def page(
    db: Database,
    cipher: FieldCipher,
    actor: Actor,
    wanted: AuditFilter,
    now: datetime,
    *,
    cursor: str = "",
    limit: int = PAGE_SIZE,
) -> AuditPage:
    """One page of the hospital's log, newest first, after ``cursor``; the read is audited."""
    after = decode_cursor(cursor) if cursor else None
    with db.transaction() as session:
        rows = _rows(session, _filtered(session, actor, wanted), after, limit + 1)
        views = _views(session, cipher, actor, rows[:limit])
        audit(session, actor, "read", now, f"audit log: {wanted.describe()}")
    next_cursor = encode_cursor(views[-1]) if len(rows) > limit and views else None
    return AuditPage(views, next_cursor)


EXPORT_HEADER = ("时间", "操作人", "操作", "对象", "内容", "来源地址", "次数")


def export(
    db: Database, cipher: FieldCipher, actor: Actor, wanted: AuditFilter, now: datetime
) -> Iterator[tuple[str, ...]]:
    """The filtered log as rows of text (``EXPORT_HEADER`` first), masked like the page, at
    most ``EXPORT_LIMIT`` rows; the export is audited before the first row is given."""
    with db.transaction() as session:
        _filtered(session, actor, wanted)  # a filter that cannot be read fails here, not mid-file
        zone = _zone(session, actor.hospital_id)
        audit(session, actor, "export", now, f"audit log export: {wanted.describe()}")
    return _export_rows(db, cipher, actor, wanted, zone)


def _export_rows(
    db: Database, cipher: FieldCipher, actor: Actor, wanted: AuditFilter, zone: ZoneInfo
) -> Iterator[tuple[str, ...]]:
    yield EXPORT_HEADER
    after: tuple[datetime, int] | None = None
    given = 0
    while given < EXPORT_LIMIT:
        with db.reading() as session:
            rows = _rows(session, _filtered(session, actor, wanted), after, min(_CHUNK, EXPORT_LIMIT - given))
            views = _views(session, cipher, actor, rows)
        for view in views:
            yield (
                view.at.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S"),
                view.actor_words,
                view.action_words,
                view.target_words,
                view.detail_words or view.detail,
                view.remote_addr or "",
                str(view.count),
            )
        given += len(views)
        if len(rows) < _CHUNK:
            return
        after = (rows[-1].at, rows[-1].id)


def _integrator_label(ident: int, name: str) -> str:
    """The actor label an integrator's rows carry: the pages' own record under their name."""
    return f"{name}:{ident}" if name in ("staff-pages", "h5") else f"integrator:{ident}"


def who_choices(db: Database, actor: Actor) -> list[tuple[str, str]]:
    """The "who" filter's choices: every member of staff and integrator of the hospital by
    name, then women themselves and the system."""
    with db.reading() as session:
        staff = session.execute(
            select(Staff.id, Staff.name).where(Staff.hospital_id == actor.hospital_id).order_by(Staff.name)
        ).all()
        integrators = session.execute(
            select(Integrator.id, Integrator.name)
            .where(Integrator.hospital_id == actor.hospital_id)
            .order_by(Integrator.name)
        ).all()
    return [
        *((f"staff:{i}", name) for i, name in staff),
        *((_integrator_label(i, name), f"对接系统：{name}") for i, name in integrators),
        (WHO_PATIENT, "孕妇本人"),
        (WHO_SYSTEM, "系统"),
    ]
