"""The workspace's read model (工作台, issue 20 item 2): a staff member's open tasks and her
teams', a page at a time, with what the list shows of each woman, and why each task exists.

*Mine* is a task whose ``assignee_id`` is me or that I claimed; *my team's* is one whose
``team_id`` is a team I am an active member of. Only open tasks are listed: a task leaves the
list when its outcome is recorded or the engine cancels it.

Order: urgent first, then by due time (no due time last), then by id. Pages are keyset pages
(``Cursor``): the next page starts after the last row shown, so a task arriving meanwhile
neither repeats nor hides a row, and a late page costs what the first does. The filter runs on
the partial indexes of open tasks by team, assignee and claimer (migration 0021): with 10k open
tasks a staff member's few hundred are found by index and sorted in memory (docs/workspace.md).

Every listed task is a read of her (masked) identity: one ``list`` audit row per task shown,
as ``store/tasks.py`` does. The counts and the poll stamp read no patient data.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, false, func, or_, select
from sqlalchemy.orm import Session

from carepath.errors import CarepathError
from carepath.store import models_workspace, pathways
from carepath.store.care_teams import my_team_ids
from carepath.store.crypto import FieldCipher, mask_name, mask_phone
from carepath.store.db import Database
from carepath.store.models import EventRecord, OutboxRow, Patient, Pregnancy, Staff, StaffTask
from carepath.store.models_teams import CareTeam, CareTeamMember
from carepath.store.scope import Actor, audit
from carepath.store.state_codec import stored_colour
from carepath.store.tasks import TaskNotFoundError

PAGE_SIZE = 50
#: The list's sections: both (default), mine, my team's.
VIEWS = ("all", "mine", "team")
#: What the colour counts call a woman without a colour.
NO_COLOUR = "none"
#: The indexes this read model relies on (migration 0021).
INDEXES = (models_workspace.OPEN_BY_TEAM, models_workspace.OPEN_BY_ASSIGNEE, models_workspace.OPEN_BY_CLAIMER)


@dataclass(frozen=True)
class Cursor:
    """Where a page starts: after the row with this sort key."""

    rank: int  # 0 urgent, 1 the rest
    no_due: int  # 0 with a due time, 1 without
    due_at: datetime | None
    task_id: int

    def encode(self) -> str:
        due = self.due_at.isoformat() if self.due_at else ""
        return f"{self.rank}~{self.no_due}~{due}~{self.task_id}"

    @classmethod
    def decode(cls, text: str | None) -> Cursor | None:
        """The cursor of a ``next`` link; None for a missing or malformed one (the first page)."""
        if not text:
            return None
        try:
            rank, no_due, due, task_id = text.split("~")
            return cls(int(rank), int(no_due), datetime.fromisoformat(due) if due else None, int(task_id))
        except ValueError:
            return None


def _rank() -> Any:
    return case((StaffTask.priority == "urgent", 0), else_=1)


def _colour() -> Any:
    return Pregnancy.risk_colour  # kept beside her state: no state is read to count colours


def _scope(actor: Actor, team_ids: list[int], view: str) -> Any:
    """The open tasks of ``view`` for the actor (each branch served by a partial index)."""
    staff_id = int(actor.id)
    mine = or_(StaffTask.assignee_id == staff_id, StaffTask.claimed_by == actor.label)
    team = StaffTask.team_id.in_(team_ids) if team_ids else false()
    shown = {"mine": mine, "team": team}.get(view, or_(mine, team))
    return and_(StaffTask.hospital_id == actor.hospital_id, StaffTask.status == "open", shown)


def _after(cursor: Cursor) -> Any:
    """Rows after ``cursor`` in the list's order (rank, no due time last, due, id)."""
    rank, no_due = _rank(), StaffTask.due_at.is_(None)
    if cursor.no_due or cursor.due_at is None:
        same_place = and_(no_due, StaffTask.id > cursor.task_id)
    else:
        same_place = or_(
            no_due,
            StaffTask.due_at > cursor.due_at,
            and_(StaffTask.due_at == cursor.due_at, StaffTask.id > cursor.task_id),
        )
    return or_(rank > cursor.rank, and_(rank == cursor.rank, same_place))


def _staff_names(session: Session, hospital_id: str, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = session.execute(
        select(Staff.id, Staff.name).where(Staff.hospital_id == hospital_id, Staff.id.in_(ids))
    )
    return {row.id: row.name for row in rows}


def _label_id(label: str | None) -> int | None:
    if label and label.startswith("staff:") and label[6:].isdigit():
        return int(label[6:])
    return None


@dataclass(frozen=True)
class Why:
    """Why a task exists: the pathway and rule that opened it, and the event that set it off."""

    pathway_title: str | None
    rule_title: str | None
    trigger: Any  # the rule's compiled trigger (the page says it in words), None when unknown
    condition: Any
    event_type: str | None
    event_at: datetime | None
    event_data: dict[str, Any]
    record: str | None  # the engine's own record (ids), for when the rule is no longer known


def _whys(session: Session, hospital_id: str, keys: list[str]) -> dict[str, Why]:
    """Why each task (by dedupe key) exists, from its outbox row: the action the engine decided."""
    if not keys:
        return {}
    rows = session.execute(
        select(
            OutboxRow.dedupe_key,
            OutboxRow.pathway_id,
            OutboxRow.version,
            OutboxRow.rule_id,
            OutboxRow.why,
            EventRecord.type,
            EventRecord.occurred_at,
            EventRecord.data,
        )
        .outerjoin(EventRecord, EventRecord.id == OutboxRow.event_row_id)
        .where(OutboxRow.dedupe_key.in_(keys))
    ).all()
    library = pathways.library_for(session, hospital_id)
    out = {}
    for row in rows:
        pathway_title = rule_title = trigger = condition = None
        try:
            pathway = library.loaded(row.pathway_id, row.version).pathway
            rule = pathway.rule(row.rule_id)
            pathway_title, rule_title, trigger, condition = (
                pathway.title,
                rule.title or None,
                rule.trigger,
                rule.when,
            )
        except (CarepathError, KeyError):  # a version no longer loaded: the stored record says it
            pass
        data = row.data if isinstance(row.data, dict) else {}
        out[row.dedupe_key] = Why(
            pathway_title, rule_title, trigger, condition, row.type, row.occurred_at, data, row.why
        )
    return out


def _row(
    task: Any, *, cipher: FieldCipher, actor: Actor, names: dict[int, str], now: datetime
) -> dict[str, Any]:
    """One listed task (``task`` is a row of ``list_page``'s query: the task, her, her colour)."""
    patient = task
    name = cipher.open(patient.name_sealed) if patient.name_sealed else None
    phone = cipher.open(patient.phone_sealed) if patient.phone_sealed else None
    claimer = _label_id(task.claimed_by)
    return {
        "id": task.id,
        "pregnancy": task.pregnancy_id,
        "title": task.title,
        "priority": task.priority,
        "urgent": task.priority == "urgent",
        "due_at": task.due_at,
        "overdue": task.due_at is not None and task.due_at < now,
        "claimed_by": task.claimed_by,
        "claimed_by_me": task.claimed_by == actor.label,
        "claimed_by_name": names.get(claimer) if claimer is not None else None,
        "assignee_id": task.assignee_id,
        "assignee_name": names.get(task.assignee_id) if task.assignee_id else None,
        "mine": task.assignee_id == int(actor.id) or task.claimed_by == actor.label,
        "team_id": task.team_id,
        "name": mask_name(name) if name else None,
        "phone": mask_phone(phone) if phone else None,
        "his_id": patient.his_patient_id,
        "colour": task.colour,
        "created_at": task.created_at,
    }


def list_statement(actor: Actor, team_ids: list[int], *, view: str, after: Cursor | None, limit: int) -> Any:
    """The list's query (one page and one row more, to know if there is a next page); also what
    docs/workspace.md's EXPLAIN shows."""
    statement = (
        select(
            StaffTask.id,
            StaffTask.pregnancy_id,
            StaffTask.dedupe_key,
            StaffTask.title,
            StaffTask.priority,
            StaffTask.due_at,
            StaffTask.claimed_by,
            StaffTask.assignee_id,
            StaffTask.team_id,
            StaffTask.created_at,
            Patient.id.label("patient_id"),
            Patient.his_patient_id,
            Patient.name_sealed,
            Patient.phone_sealed,
            _colour().label("colour"),
        )
        .join(Pregnancy, Pregnancy.id == StaffTask.pregnancy_id)
        .join(Patient, Patient.id == Pregnancy.patient_id)
        .where(_scope(actor, team_ids, view))
    )
    if after is not None:
        statement = statement.where(_after(after))
    order = (_rank(), StaffTask.due_at.is_(None), StaffTask.due_at, StaffTask.id)
    return statement.order_by(*order).limit(limit + 1)


@dataclass(frozen=True)
class Page:
    rows: list[dict[str, Any]]
    next: Cursor | None  # None: this is the last page
    whys: dict[int, Why]


def list_page(
    db: Database,
    cipher: FieldCipher,
    actor: Actor,
    now: datetime,
    *,
    view: str = "all",
    after: Cursor | None = None,
    limit: int = PAGE_SIZE,
) -> Page:
    """One page of the actor's open tasks (``view``: all, mine, team), most urgent first, her
    identity masked; each task shown is audited as listed."""
    with db.transaction() as session:
        team_ids = my_team_ids(session, actor.hospital_id, int(actor.id))
        statement = list_statement(actor, team_ids, view=view, after=after, limit=limit)
        rows = session.execute(statement).all()
        more, rows = len(rows) > limit, rows[:limit]
        ids = {r.assignee_id for r in rows if r.assignee_id} | {
            i for r in rows if (i := _label_id(r.claimed_by)) is not None
        }
        names = _staff_names(session, actor.hospital_id, ids)
        whys = _whys(session, actor.hospital_id, [r.dedupe_key for r in rows])
        for r in rows:
            audit(
                session,
                actor,
                "list",
                now,
                f"task {r.id} listed",
                patient_id=r.patient_id,
                pregnancy_id=r.pregnancy_id,
            )
        shown = [_row(r, cipher=cipher, actor=actor, names=names, now=now) for r in rows]
        last = rows[-1] if rows and more else None
        cursor = (
            Cursor(
                0 if last.priority == "urgent" else 1, 1 if last.due_at is None else 0, last.due_at, last.id
            )
            if last is not None
            else None
        )
        return Page(shown, cursor, {r.id: whys[r.dedupe_key] for r in rows if r.dedupe_key in whys})


@dataclass(frozen=True)
class Counts:
    by_colour: dict[str, int]
    by_state: dict[str, int]  # waiting (unclaimed), mine (claimed by me), others (claimed by others), overdue
    total: int


def counts(db: Database, actor: Actor, now: datetime, *, view: str = "all") -> Counts:
    """How many of the actor's open tasks there are, by her colour and by state (no patient
    data: not audited)."""
    with db.reading() as session:
        scope = _scope(actor, my_team_ids(session, actor.hospital_id, int(actor.id)), view)
        theirs = (
            select(_colour().label("colour"))
            .select_from(StaffTask)
            .join(Pregnancy, Pregnancy.id == StaffTask.pregnancy_id)
            .where(scope)
            .subquery()
        )
        colours = session.execute(select(theirs.c.colour, func.count()).group_by(theirs.c.colour)).all()
        states = session.execute(
            select(
                func.count(),
                func.count(case((StaffTask.claimed_by.is_(None), 1))),
                func.count(case((StaffTask.claimed_by == actor.label, 1))),
                func.count(case((StaffTask.due_at < now, 1))),
            ).where(scope)
        ).one()
    total, waiting, mine, overdue = (int(v or 0) for v in states)
    by_colour: dict[str, int] = {}
    for colour, count in colours:
        key = colour or NO_COLOUR
        by_colour[key] = by_colour.get(key, 0) + int(count)
    return Counts(
        by_colour,
        {"waiting": waiting, "mine": mine, "others": total - waiting - mine, "overdue": overdue},
        total,
    )


def stamp(db: Database, actor: Actor, *, view: str = "all") -> str:
    """A short fingerprint of the actor's open tasks (how many, the newest, how many claimed,
    how many urgent): the page's poll compares it to know when to fetch the list again."""
    with db.reading() as session:
        scope = _scope(actor, my_team_ids(session, actor.hospital_id, int(actor.id)), view)
        row = session.execute(
            select(
                func.count(),
                func.max(StaffTask.id),
                func.count(StaffTask.claimed_by),
                func.count(case((StaffTask.priority == "urgent", 1))),
            ).where(scope)
        ).one()
    return "-".join(str(v or 0) for v in row)


def why_of(db: Database, actor: Actor, task_id: int) -> Why | None:
    """Why one task of the actor's hospital exists (None when nothing is on file)."""
    with db.reading() as session:
        key = session.scalar(
            select(StaffTask.dedupe_key).where(
                StaffTask.id == task_id, StaffTask.hospital_id == actor.hospital_id
            )
        )
        if key is None:
            return None
        return _whys(session, actor.hospital_id, [key]).get(key)


def task_team(db: Database, actor: Actor, task_id: int) -> dict[str, Any]:
    """The task's team, its assignee and the team's active members (for reassigning)."""
    with db.reading() as session:
        task = session.execute(
            select(StaffTask.team_id, StaffTask.assignee_id).where(
                StaffTask.id == task_id, StaffTask.hospital_id == actor.hospital_id
            )
        ).one_or_none()
        if task is None or task.team_id is None:
            return {"team": None, "members": [], "assignee": None}
        team = session.get(CareTeam, task.team_id)
        members = session.execute(
            select(Staff.id, Staff.name, CareTeamMember.team_role)
            .join(CareTeamMember, CareTeamMember.staff_id == Staff.id)
            .where(
                CareTeamMember.team_id == task.team_id,
                CareTeamMember.removed_at.is_(None),
                Staff.disabled_at.is_(None),
                Staff.hospital_id == actor.hospital_id,
            )
            .order_by(Staff.name, Staff.id)
        ).all()
        assignee = session.get(Staff, task.assignee_id) if task.assignee_id else None
    return {
        "team": {"id": team.id, "name": team.name} if team else None,
        "members": [{"id": m.id, "name": m.name, "role": m.team_role} for m in members],
        "assignee": {"id": assignee.id, "name": assignee.name} if assignee else None,
    }


def her_colour(db: Database, actor: Actor, pregnancy_id: str) -> dict[str, str | None]:
    """Her risk colour (suggested or confirmed) as the task page shows it."""
    with db.reading() as session:
        state = session.scalar(
            select(Pregnancy.state).where(
                Pregnancy.id == pregnancy_id, Pregnancy.hospital_id == actor.hospital_id
            )
        )
    facts = state.get("facts", {}) if isinstance(state, dict) else {}
    return stored_colour(facts)


def her_identity(
    db: Database, cipher: FieldCipher, actor: Actor, task_id: int, now: datetime
) -> dict[str, Any]:
    """Her name and phone in full, for a task page opened by someone holding ``patient.read``
    (the page checks it); the opening is audited as a read of her identity. Another
    hospital's task is not found (``tasks.TaskNotFoundError``)."""
    with db.transaction() as session:
        row = session.execute(
            select(StaffTask.pregnancy_id, Patient.id, Patient.name_sealed, Patient.phone_sealed)
            .join(Pregnancy, Pregnancy.id == StaffTask.pregnancy_id)
            .join(Patient, Patient.id == Pregnancy.patient_id)
            .where(StaffTask.id == task_id, StaffTask.hospital_id == actor.hospital_id)
        ).one_or_none()
        if row is None:
            raise TaskNotFoundError(f"no task {task_id} in hospital {actor.hospital_id}")
        audit(
            session,
            actor,
            "read",
            now,
            f"task {task_id} opened: her name and phone shown",
            patient_id=row.id,
            pregnancy_id=row.pregnancy_id,
        )
    return {
        "name": cipher.open(row.name_sealed) if row.name_sealed else None,
        "phone": cipher.open(row.phone_sealed) if row.phone_sealed else None,
    }
