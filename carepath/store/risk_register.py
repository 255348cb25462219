"""The high-risk register (高危专案, issue 21 item 1): every pregnancy a staff member may see, by
colour, with what 专案管理 needs beside her — her week, diagnoses, open plans, overdue tasks and
last contact — and the queue of colours a rule suggested that wait for a clinician.

Order: by colour, highest first (红, 橙, 黄, 绿, then no colour; purple is a flag beside the
colour, as the engine keeps it), inside a colour by EDD (nearest first, no EDD last), then by
pregnancy id. Pages are keyset pages (``Cursor``: colour rank, EDD, id): each colour is read from
its place in ``ix_pregnancies_register`` (migration 0030) onward, so a late page costs what the
first does and no OFFSET is ever counted through. A page reads at most a few colour segments
(one statement each), then one statement per kind of fact for the whole page
(``register_lookups``).

Filters (``RegisterFilter``), each in SQL:

- colour: one colour, ``none``, ``purple`` (the flag), or ``high`` — 橙/红/紫, the women the 2017
  规范 (孕产妇妊娠风险评估与管理工作规范) puts under 专案管理;
- confirmation: ``unconfirmed`` — no clinician confirmed her colour (a rule's suggestion, or no
  colour yet); ``confirmed``. Read through the partial index over suggested colours;
- overdue: she has an open task past its due time;
- no contact for N days: no task outcome recorded by staff in the last ``no_contact_days`` days.
  N is the reader's choice (the page's default is a setting): the 规范 asks for follow-up, the
  interval is each hospital's protocol, not a figure this code may invent;
- status: pregnant (the default), delivered, ended, or all.

Visibility is ``scope.visible_patients`` (her hospital's women and those granted to it). Each
woman listed is a ``list`` audit row, each exported one an ``export`` row; names and phones are
masked (opening her record is audited by the record page).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, exists, func, select, text, tuple_
from sqlalchemy.orm import Session

from carepath.engine.clock import format_gestational_age, gestational_days
from carepath.engine.timing import SendWindow
from carepath.store import models_register, register_lookups
from carepath.store.crypto import FieldCipher, mask_name, mask_phone
from carepath.store.db import Database
from carepath.store.models import Patient, Pregnancy, StaffTask
from carepath.store.register_lookups import Contact, Suggestion
from carepath.store.scope import Actor, audit, granted_patients, visible_patients
from carepath.store.short_cache import ShortCache
from carepath.store.state_codec import stored_colour

PAGE_SIZE = 50
#: The list's colour order: highest first, then no colour (None).
COLOURS: tuple[str | None, ...] = ("red", "orange", "yellow", "green", None)
#: The colours under 专案管理 (2017 规范), besides the purple flag.
HIGH = ("red", "orange")
COLOUR_FILTERS = ("", "high", "purple", "red", "orange", "yellow", "green", "none")
CONFIRMATIONS = ("", "unconfirmed", "confirmed")
STATUSES = ("pregnant", "delivered", "ended", "all")
#: The most women one export holds (a filter narrows it; the page says so).
EXPORT_LIMIT = 20_000
#: Pages an export reads at a time (the per-page lookups stay one statement each).
EXPORT_PAGE = 500
#: The longest "no contact for N days" accepted (a year and a half: past any pregnancy).
MAX_CONTACT_DAYS = 540
#: The indexes this read model relies on (migration 0030).
INDEXES = (models_register.BY_COLOUR, models_register.SUGGESTED, models_register.PURPLE)


@dataclass(frozen=True)
class RegisterFilter:
    colour: str = ""
    confirmation: str = ""
    overdue: bool = False
    no_contact_days: int | None = None
    status: str = "pregnant"

    def describe(self) -> str:
        """The filter in the audit log's words."""
        parts = [f"status={self.status}"]
        if self.colour:
            parts.append(f"colour={self.colour}")
        if self.confirmation:
            parts.append(f"confirmation={self.confirmation}")
        if self.overdue:
            parts.append("overdue")
        if self.no_contact_days is not None:
            parts.append(f"no contact {self.no_contact_days}d")
        return ", ".join(parts)


@dataclass(frozen=True)
class Cursor:
    """Where a page starts: after the woman with this sort key."""

    rank: int  # index in COLOURS
    edd: date | None
    pregnancy_id: str

    def encode(self) -> str:
        return f"{self.rank}~{self.edd.isoformat() if self.edd else ''}~{self.pregnancy_id}"

    @classmethod
    def decode(cls, value: str | None) -> Cursor | None:
        """The cursor of a ``next`` link; None for a missing or malformed one (the first page)."""
        if not value:
            return None
        try:
            rank, edd, pregnancy_id = value.split("~", 2)
            cursor = cls(int(rank), date.fromisoformat(edd) if edd else None, pregnancy_id[:80])
        except ValueError:
            return None
        return cursor if 0 <= cursor.rank < len(COLOURS) and cursor.pregnancy_id else None


@dataclass(frozen=True)
class RegisterRow:
    pregnancy_id: str
    patient_id: int
    his_id: str | None
    name: str | None  # masked
    phone: str | None  # masked
    status: str
    colour: str | None
    colour_status: str | None  # suggested | confirmed | None (no colour)
    purple: bool
    edd: date | None
    gestational_age: str | None  # "24+3" while pregnant
    gestational_week: int | None
    diagnoses: list[str] = field(default_factory=list)
    plans: list[str] = field(default_factory=list)
    overdue: int = 0
    last_contact: Contact | None = None
    suggestion: Suggestion | None = None  # only while her colour waits for a clinician


@dataclass(frozen=True)
class RegisterPage:
    rows: list[RegisterRow]
    next: Cursor | None  # None on the last page


def _dialect(session: Session) -> str:
    return "postgresql" if session.get_bind().dialect.name == "postgresql" else "sqlite"


def _suggested(dialect: str) -> Any:
    # word for word the partial index's predicate: only then may the planner use it
    return text(models_register.SUGGESTED_SQL[dialect])


def _purple(dialect: str) -> Any:
    return text(models_register.PURPLE_SQL[dialect])


def _segments(filters: RegisterFilter, dialect: str, *, queue: bool) -> list[tuple[int, list[Any]]]:
    """(colour rank, its conditions) of each colour the filter reads, in the list's order."""
    segments = []
    for rank, colour in enumerate(COLOURS):
        conditions: list[Any] = [
            Pregnancy.risk_colour == colour if colour else Pregnancy.risk_colour.is_(None)
        ]
        chosen = filters.colour
        if chosen in ("red", "orange", "yellow", "green") and colour != chosen:
            continue
        if chosen == "none" and colour is not None:
            continue
        if chosen == "purple" or (chosen == "high" and colour not in HIGH):
            conditions.append(_purple(dialect))
        if (filters.confirmation == "confirmed" or queue) and colour is None:
            continue  # no colour: nothing confirmed, nothing suggested
        if filters.confirmation == "unconfirmed" or queue:
            if colour is not None:  # no colour is unconfirmed as it is
                conditions.append(_suggested(dialect))
        elif filters.confirmation == "confirmed":
            conditions.append(text(f"NOT ({models_register.SUGGESTED_SQL[dialect]})"))
        segments.append((rank, conditions))
    return segments


def _columns() -> list[Any]:
    # her facts once: PostgreSQL parses a ``json`` document again for every ``->`` taken from it
    return [
        Pregnancy.id,
        Pregnancy.patient_id,
        Pregnancy.status,
        Pregnancy.risk_colour,
        Pregnancy.edd,
        Patient.his_patient_id,
        Patient.name_sealed,
        Patient.phone_sealed,
        Pregnancy.state["facts"].label("facts"),
    ]


def _base(actor: Actor, filters: RegisterFilter, now: datetime) -> Any:
    visible = visible_patients(actor, now).subquery()
    statement = (
        select(*_columns())
        .join(Patient, Patient.id == Pregnancy.patient_id)
        .where(Patient.id.in_(select(visible.c.id)))
    )
    if filters.status != "all":
        statement = statement.where(Pregnancy.status == filters.status)
    if filters.overdue:
        statement = statement.where(
            Pregnancy.id.in_(
                select(StaffTask.pregnancy_id).where(StaffTask.status == "open", StaffTask.due_at < now)
            )
        )
    if filters.no_contact_days is not None:
        since = now - timedelta(days=filters.no_contact_days)
        statement = statement.where(
            ~exists().where(
                StaffTask.pregnancy_id == Pregnancy.id,
                StaffTask.status == "done",
                StaffTask.claimed_by.like("staff:%"),
                StaffTask.done_at >= since,
            )
        )
    return statement


def _keyed_rows(
    session: Session,
    actor: Actor,
    filters: RegisterFilter,
    now: datetime,
    *,
    after: Cursor | None,
    want: int,
    queue: bool,
) -> list[Any]:
    """Up to ``want`` rows after ``after`` in the list's order, colour segment by segment, each
    segment in two ordered runs (with an EDD, then without) that an index range serves."""
    dialect = _dialect(session)
    base = _base(actor, filters, now)
    found: list[Any] = []
    for rank, conditions in _segments(filters, dialect, queue=queue):
        if after is not None and rank < after.rank:
            continue
        here = after if after is not None and rank == after.rank else None
        runs: list[tuple[Any, tuple[Any, ...]]] = []
        if here is None or here.edd is not None:
            dated = and_(*conditions, Pregnancy.edd.is_not(None))
            if here is not None:
                dated = and_(dated, tuple_(Pregnancy.edd, Pregnancy.id) > tuple_(here.edd, here.pregnancy_id))
            runs.append((dated, (Pregnancy.edd, Pregnancy.id)))
        undated = and_(*conditions, Pregnancy.edd.is_(None))
        if here is not None and here.edd is None:
            undated = and_(undated, Pregnancy.id > here.pregnancy_id)
        runs.append((undated, (Pregnancy.id,)))
        for condition, order in runs:
            rows = session.execute(base.where(condition).order_by(*order).limit(want - len(found))).all()
            found += [(rank, row) for row in rows]
            if len(found) >= want:
                return found
    return found


def _row(cipher: FieldCipher, row: Any, today: date) -> RegisterRow:
    days = gestational_days(row.edd, today) if row.edd is not None and row.status == "pregnant" else None
    facts = row.facts if isinstance(row.facts, dict) else {}
    status = facts.get("risk_colour_status") or "suggested"  # format 1 kept none: a rule's colour
    return RegisterRow(
        pregnancy_id=row.id,
        patient_id=row.patient_id,
        his_id=row.his_patient_id,
        name=mask_name(cipher.open(row.name_sealed)) if row.name_sealed else None,
        phone=mask_phone(cipher.open(row.phone_sealed)) if row.phone_sealed else None,
        status=row.status,
        colour=row.risk_colour,
        colour_status=status if row.risk_colour else None,
        purple=facts.get("purple") is True,
        edd=row.edd,
        gestational_age=format_gestational_age(days) if days is not None and days >= 0 else None,
        gestational_week=days // 7 if days is not None and days >= 0 else None,
    )


def _filled(
    session: Session, actor: Actor, rows: list[tuple[Any, RegisterRow]], now: datetime
) -> list[RegisterRow]:
    """The page's rows with their diagnoses, plans, overdue counts and last contacts: one
    statement per kind for the whole page."""
    ids = [row.pregnancy_id for _, row in rows]
    if not ids:
        return []
    diagnoses = register_lookups.diagnoses(session, actor.hospital_id, ids)
    plans = register_lookups.plans(session, actor.hospital_id, ids)
    overdue = register_lookups.overdue(session, ids, now)
    contacts = register_lookups.last_contacts(session, ids)
    filled = []
    for raw, row in rows:
        waiting = row.colour_status == "suggested"
        filled.append(
            replace(
                row,
                diagnoses=diagnoses.get(row.pregnancy_id, []),
                plans=plans.get(row.pregnancy_id, []),
                overdue=overdue.get(row.pregnancy_id, 0),
                last_contact=contacts.get(row.pregnancy_id),
                suggestion=register_lookups.suggestion(
                    session, actor.hospital_id, (raw.facts or {}).get("suggested_risk")
                )
                if waiting
                else None,
            )
        )
    return filled


def _page(
    session: Session,
    cipher: FieldCipher,
    actor: Actor,
    filters: RegisterFilter,
    now: datetime,
    *,
    after: Cursor | None,
    limit: int,
    queue: bool,
) -> RegisterPage:
    today = SendWindow().local_date(now)
    keyed = _keyed_rows(session, actor, filters, now, after=after, want=limit + 1, queue=queue)
    shown = [(raw, _row(cipher, raw, today)) for _, raw in keyed[:limit]]
    rows = _filled(session, actor, shown, now)
    more = len(keyed) > limit
    last = keyed[limit - 1] if more else None
    return RegisterPage(rows, Cursor(last[0], last[1].edd, last[1].id) if last is not None else None)


def page(
    db: Database,
    cipher: FieldCipher,
    actor: Actor,
    now: datetime,
    filters: RegisterFilter,
    *,
    after: Cursor | None = None,
    limit: int | None = None,
    queue: bool = False,
) -> RegisterPage:
    """One page of the register (``queue``: only colours waiting for a clinician); each woman
    shown is a ``list`` audit row."""
    with db.transaction() as session:
        found = _page(
            session, cipher, actor, filters, now, after=after, limit=limit or PAGE_SIZE, queue=queue
        )
        detail = ("high-risk register queue" if queue else "high-risk register") + f": {filters.describe()}"
        for row in found.rows:
            audit(
                session, actor, "list", now, detail, patient_id=row.patient_id, pregnancy_id=row.pregnancy_id
            )
        return found


#: The hospitals' own counts, reused for ``reuse_seconds`` (see ``counts``).
_OWN_COUNTS: ShortCache[dict[str, int]] = ShortCache()


def counts(
    db: Database,
    actor: Actor,
    now: datetime,
    status: str = "pregnant",
    *,
    only_queue: bool = False,
    reuse_seconds: float = 0.0,
) -> dict[str, int]:
    """How many women of each colour (``none``: no colour yet), flagged ``purple``, and ``queue``
    (colours waiting for a clinician), among those with ``status`` ('all': any). No patient
    data is read: not audited.

    The women ``scope.visible_patients`` gives, counted in two parts: the hospital's own (a
    pregnancy belongs to her patient's hospital), each count read from an index alone
    (``models_register.COUNTED``); and the few granted from other hospitals, read row by row.
    ``only_queue``: the queue's count alone (the queue's page shows no other).

    ``reuse_seconds``: the hospital's own part is shared by all its staff and costs a whole
    index read (~20–45 ms at 100k pregnancies, two thirds of the page's database time), so the
    page reuses it for that long (``short_cache``; a colour confirmed in this process is
    counted at once: ``forget_counts``). The list itself is always read fresh."""
    with db.reading() as session:
        key = (actor.hospital_id, status, only_queue)
        found = dict(
            _OWN_COUNTS.get(
                db, key, reuse_seconds, lambda: _own_counts(session, actor.hospital_id, status, only_queue)
            )
        )
        chosen = [] if status == "all" else [Pregnancy.status == status]
        granted = session.execute(
            select(Pregnancy.risk_colour, Pregnancy.state["facts"].label("facts")).where(
                Pregnancy.hospital_id != actor.hospital_id,
                Pregnancy.patient_id.in_(granted_patients(actor, now)),
                *chosen,
            )
        )
        for colour, facts in granted:
            shown = stored_colour(facts if isinstance(facts, dict) else {})
            found[colour or "none"] = found.get(colour or "none", 0) + 1
            found["queue"] += 1 if colour and shown["risk_colour_status"] == "suggested" else 0
            found["purple"] += 1 if isinstance(facts, dict) and facts.get("purple") is True else 0
        return found


def forget_counts(db: Database, hospital_id: str) -> None:
    """Count ``hospital_id``'s women afresh on the next page (a colour of hers just changed)."""
    _OWN_COUNTS.forget(db, lambda key: isinstance(key, tuple) and key[0] == hospital_id)


def _own_counts(session: Session, hospital_id: str, status: str, only_queue: bool) -> dict[str, int]:
    dialect = _dialect(session)
    chosen = [] if status == "all" else [Pregnancy.status == status]
    own = [Pregnancy.hospital_id == hospital_id, *chosen]
    found: dict[str, int] = {}
    if not only_queue:
        for colour, n in session.execute(
            select(Pregnancy.risk_colour, func.count()).where(*own).group_by(Pregnancy.risk_colour)
        ):
            found[colour or "none"] = int(n)
    wanted = [("queue", _suggested(dialect))] + ([] if only_queue else [("purple", _purple(dialect))])
    found["purple"] = 0
    for name, condition in wanted:
        counted = select(func.count()).select_from(Pregnancy).where(*own, condition)
        found[name] = int(session.scalar(counted) or 0)
    return found


def export_pages(
    db: Database, cipher: FieldCipher, actor: Actor, now: datetime, filters: RegisterFilter
) -> Iterator[list[RegisterRow]]:
    """Every woman the filter selects (at most ``EXPORT_LIMIT``), a page at a time, in one
    transaction; each one exported is an ``export`` audit row, written with the last page."""
    with db.transaction() as session:
        after: Cursor | None = None
        exported = 0
        detail = f"high-risk register export: {filters.describe()}"
        while exported < EXPORT_LIMIT:
            found = _page(
                session,
                cipher,
                actor,
                filters,
                now,
                after=after,
                limit=min(EXPORT_PAGE, EXPORT_LIMIT - exported),
                queue=False,
            )
            for row in found.rows:
                audit(
                    session,
                    actor,
                    "export",
                    now,
                    detail,
                    patient_id=row.patient_id,
                    pregnancy_id=row.pregnancy_id,
                )
            exported += len(found.rows)
            yield found.rows
            if found.next is None:
                break
            after = found.next
