"""Routing tasks to care teams (issue 20 item 1): which team's queue a staff task is in, and
for whom — the part of ``care_teams.py`` the engine's writes need (``store/evaluation.py``,
registration, escalation). docs/care-teams.md has the table.

Every ``assign`` value of the language maps to her team and, when the value names a person on
her care row, that person; a service's value (midwife, nutritionist, school) to the hospital's
active team of that kind. ``route`` is a pure function of (her care row, the hospital's teams,
the value), so that the sweep resolves a page of tasks with two queries (``resolve_rows``), not
one per task. A pregnancy without a care row gets one (``ensure_care``, the hospital's rule:
its default team, made when missing): never a task in no queue. At registration
(``place_at_registration``) she joins the team of the source she came through, its doctor (a
doctor's card) as her responsible doctor when a member of that team.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from carepath.store.models import Pregnancy, Staff, StaffTask
from carepath.store.models_sources import Source
from carepath.store.models_teams import (
    RESPONSIBLE,
    CareTeam,
    CareTeamMember,
    PregnancyCare,
    PregnancyCareChange,
)
from carepath.store.scope import PregnancyNotFoundError

#: The default team's name when the hospital has none yet (the migration's name too).
DEFAULT_TEAM_NAME = "产科团队"
#: ``assign`` values that name a service: they go to the hospital's active team of that kind.
SERVICE_KINDS: Final = {"midwife": "midwives", "nutritionist": "nutrition", "school": "school"}
#: ``assign`` values that name a person on her care row (the column holding them).
PERSON_COLUMNS: Final = {name: f"{name}_id" for name in RESPONSIBLE}
#: Every ``assign`` value of the language (``schemas/pathway.schema.json``) is one of these.
ASSIGN_VALUES: Final = (*RESPONSIBLE, *SERVICE_KINDS)
#: Who set a care row at registration (``PregnancyCare.updated_by`` and the change's actor).
REGISTRATION = "registration"


@dataclass(frozen=True)
class CareRow:
    """Her care row as routing needs it."""

    team_id: int | None
    responsible_doctor_id: int | None = None
    responsible_nurse_id: int | None = None
    case_manager_id: int | None = None


@dataclass(frozen=True)
class TeamRef:
    """One active team of a hospital, as routing and escalation need it."""

    id: int
    kind: str
    is_default: bool
    lead_staff_id: int | None


def route(care: CareRow, teams: Sequence[TeamRef], assign: str) -> tuple[int | None, int | None]:
    """(team_id, assignee_id) of a task with ``assign`` for a woman with ``care``.

    A person's value (responsible_doctor, responsible_nurse, case_manager): that person in her
    team, else her team's queue. A service's value (midwife, nutritionist, school): the
    hospital's active team of that kind (the oldest, when several), else her team's queue. An
    unknown value: her team's queue. Her team is the default team when her row names none."""
    own_team = care.team_id
    if own_team is None:
        own_team = next((t.id for t in sorted(teams, key=lambda t: t.id) if t.is_default), None)
    column = PERSON_COLUMNS.get(assign)
    if column is not None:
        person = getattr(care, column)
        return own_team, person
    kind = SERVICE_KINDS.get(assign)
    if kind is not None:
        service = min((t.id for t in teams if t.kind == kind), default=None)
        if service is not None:
            return service, None
    return own_team, None


def active_teams(session: Session, hospital_ids: Iterable[str]) -> dict[str, list[TeamRef]]:
    """Each hospital's active (not archived) teams: one query for all."""
    wanted = sorted(set(hospital_ids))
    found: dict[str, list[TeamRef]] = {h: [] for h in wanted}
    if not wanted:
        return found
    rows = session.execute(
        select(CareTeam.hospital_id, CareTeam.id, CareTeam.kind, CareTeam.is_default, CareTeam.lead_staff_id)
        .where(CareTeam.hospital_id.in_(wanted), CareTeam.archived_at.is_(None))
        .order_by(CareTeam.id)
    )
    for hospital_id, team_id, kind, is_default, lead in rows:
        found[hospital_id].append(TeamRef(team_id, kind, bool(is_default), lead))
    return found


def care_rows(session: Session, pregnancy_ids: Iterable[str]) -> dict[str, CareRow]:
    wanted = sorted(set(pregnancy_ids))
    if not wanted:
        return {}
    rows = session.execute(
        select(
            PregnancyCare.pregnancy_id,
            PregnancyCare.team_id,
            PregnancyCare.responsible_doctor_id,
            PregnancyCare.responsible_nurse_id,
            PregnancyCare.case_manager_id,
        ).where(PregnancyCare.pregnancy_id.in_(wanted))
    )
    return {row[0]: CareRow(row[1], row[2], row[3], row[4]) for row in rows}


def _insert_ignore(session: Session, model: Any, values: list[dict[str, Any]]) -> None:
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    session.execute(insert(model).on_conflict_do_nothing(), values)


def default_team(session: Session, hospital_id: str, now: datetime) -> int:
    """The hospital's default team, made (产科团队, obstetric) when it has none."""
    found = session.scalar(
        select(CareTeam.id)
        .where(
            CareTeam.hospital_id == hospital_id, CareTeam.is_default.is_(True), CareTeam.archived_at.is_(None)
        )
        .order_by(CareTeam.id)
        .limit(1)
    )
    if found is not None:
        return found
    # Insert-if-absent on (hospital, name): two first registrations at once make one team.
    _insert_ignore(
        session,
        CareTeam,
        [{"hospital_id": hospital_id, "name": DEFAULT_TEAM_NAME, "kind": "obstetric", "is_default": True,
          "created_at": now, "lead_staff_id": None, "archived_at": None}],
    )  # fmt: skip
    named = session.execute(
        select(CareTeam).where(CareTeam.hospital_id == hospital_id, CareTeam.name == DEFAULT_TEAM_NAME)
    ).scalar_one()
    if not named.is_default or named.archived_at is not None:  # a team of that name existed
        named.is_default, named.archived_at = True, None
    return named.id


def _new_care(
    session: Session,
    pregnancy_id: str,
    hospital_id: str,
    now: datetime,
    *,
    team_id: int,
    doctor_id: int | None,
    actor: str,
    reason: str,
) -> CareRow:
    # ORM rows, not an INSERT now: at registration her pregnancy is not written yet, and the
    # flush that writes it (with her evaluated state) writes these after it.
    session.add(
        PregnancyCare(
            pregnancy_id=pregnancy_id, hospital_id=hospital_id, team_id=team_id,
            responsible_doctor_id=doctor_id, updated_at=now, updated_by=actor,
        )
    )  # fmt: skip
    changes = [("team", str(team_id))] + ([("responsible_doctor", str(doctor_id))] if doctor_id else [])
    for what, value in changes:
        session.add(
            PregnancyCareChange(
                pregnancy_id=pregnancy_id, hospital_id=hospital_id, what=what, old_value=None,
                new_value=value, reason=reason, actor=actor, at=now,
            )
        )  # fmt: skip
    return CareRow(team_id, doctor_id)


def ensure_care(session: Session, pregnancy_id: str, hospital_id: str, now: datetime) -> CareRow:
    """Her care row; a pregnancy without one joins the hospital's default team (the rule)."""
    found = care_rows(session, [pregnancy_id]).get(pregnancy_id)
    if found is not None:
        return found
    team = default_team(session, hospital_id, now)
    return _new_care(
        session, pregnancy_id, hospital_id, now, team_id=team, doctor_id=None, actor=REGISTRATION,
        reason="医院规则：默认团队",
    )  # fmt: skip


def place_at_registration(
    session: Session, pregnancy: Pregnancy, now: datetime, *, source: Source | None = None, new: bool = True
) -> CareRow:
    """Her care row when her pregnancy is registered (HIS, FHIR or her own form): the team of
    the ``source`` she came through, its doctor (a doctor's card) as her responsible doctor
    when an active member of that team; else the hospital's default team. ``new``: her pregnancy
    is made in this transaction (no care row to look for); else a row she has is kept."""
    with session.no_autoflush:  # her pregnancy is written with her state, by the next flush
        return _place(session, pregnancy, now, source, new=new)


def _place(
    session: Session, pregnancy: Pregnancy, now: datetime, source: Source | None, *, new: bool
) -> CareRow:
    found = None if new else care_rows(session, [pregnancy.id]).get(pregnancy.id)
    if found is not None:
        return found
    team_id: int | None = None
    doctor_id: int | None = None
    reason = "医院规则：默认团队"
    if source is not None and source.hospital_id == pregnancy.hospital_id:
        team = session.get(CareTeam, source.team_id) if source.team_id is not None else None
        if team is not None and team.hospital_id == pregnancy.hospital_id and team.archived_at is None:
            team_id, reason = team.id, f"来源 {source.code} 的团队"
            if source.staff_id is not None and is_member(session, team.id, source.staff_id):
                doctor_id = source.staff_id
                reason = f"来源 {source.code} 的团队与医生"
    if team_id is None:
        team_id = default_team(session, pregnancy.hospital_id, now)
    return _new_care(
        session, pregnancy.id, pregnancy.hospital_id, now, team_id=team_id, doctor_id=doctor_id,
        actor=REGISTRATION, reason=reason,
    )  # fmt: skip


def resolve(
    session: Session, pregnancy_id: str, assign: str, *, now: datetime | None = None
) -> tuple[int | None, int | None]:
    """(team_id, assignee_id) for a task with ``assign`` for her (a care row made if missing,
    dated ``now``)."""
    hospital_id = session.scalar(select(Pregnancy.hospital_id).where(Pregnancy.id == pregnancy_id))
    if hospital_id is None:
        raise PregnancyNotFoundError(f"no pregnancy {pregnancy_id}")
    care = ensure_care(session, pregnancy_id, hospital_id, now or datetime.now(UTC))
    return route(care, active_teams(session, [hospital_id])[hospital_id], assign)


def resolve_rows(session: Session, tasks: Sequence[dict[str, Any]], now: datetime) -> None:
    """Set ``team_id`` and ``assignee_id`` on task rows about to be inserted (dicts with
    ``hospital_id``, ``pregnancy_id``, ``assign``): one query for the care rows of the page,
    one for the hospitals' teams, whatever the number of tasks."""
    if not tasks:
        return
    cares = care_rows(session, (t["pregnancy_id"] for t in tasks))
    for task in tasks:  # rare: a pregnancy made before care rows existed and missed by 0020
        if task["pregnancy_id"] not in cares:
            cares[task["pregnancy_id"]] = ensure_care(session, task["pregnancy_id"], task["hospital_id"], now)
    teams = active_teams(session, (t["hospital_id"] for t in tasks))
    for task in tasks:
        task["team_id"], task["assignee_id"] = route(
            cares[task["pregnancy_id"]], teams[task["hospital_id"]], str(task["assign"])
        )


def is_member(session: Session, team_id: int, staff_id: int) -> bool:
    return (
        session.scalar(
            select(CareTeamMember.id)
            .join(Staff, Staff.id == CareTeamMember.staff_id)
            .where(
                CareTeamMember.team_id == team_id,
                CareTeamMember.staff_id == staff_id,
                CareTeamMember.removed_at.is_(None),
                Staff.disabled_at.is_(None),
            )
            .limit(1)
        )
        is not None
    )


def care_row(care: PregnancyCare) -> CareRow:
    """Her care row as routing reads it (taken before a change, to know where tasks were put)."""
    return CareRow(care.team_id, care.responsible_doctor_id, care.responsible_nurse_id, care.case_manager_id)


def reresolve_open_tasks(
    session: Session, pregnancy_id: str, hospital_id: str, before: CareRow, *, leaving: int | None = None
) -> int:
    """Route her open unclaimed tasks again after her care changed from ``before``; how many
    moved. Only a task still where ``before`` routed it moves (a task for her doctor follows her
    new doctor); one a colleague reassigned by hand stays with whom it was given — unless that
    person is ``leaving`` her team. A claimed task stays with whoever claimed it."""
    care = care_rows(session, [pregnancy_id]).get(pregnancy_id) or CareRow(None)
    teams = active_teams(session, [hospital_id])[hospital_id]
    moved = 0
    for task in session.scalars(
        select(StaffTask).where(
            StaffTask.pregnancy_id == pregnancy_id, StaffTask.status == "open", StaffTask.claimed_by.is_(None)
        )
    ):
        placed = (task.team_id, task.assignee_id)
        by_hand = placed != route(before, teams, task.assign)
        if by_hand and (leaving is None or task.assignee_id != leaving):
            continue
        team, person = route(care, teams, task.assign)
        if placed != (team, person):
            task.team_id, task.assignee_id = team, person
            moved += 1
    return moved


def escalation_leads(
    session: Session, tasks: Iterable[tuple[int | None, str]]
) -> dict[tuple[int | None, str], int | None]:
    """Who an overdue task escalates to, for each (team_id, hospital_id) of ``tasks``: its
    team's lead, else the hospital's default team's lead, else None. Two queries at most."""
    pairs = set(tasks)
    teams = active_teams(session, (h for _, h in pairs))
    lead_of = {t.id: t.lead_staff_id for refs in teams.values() for t in refs}
    archived = {t for t, _ in pairs if t is not None and t not in lead_of}
    if archived:  # an archived team's tasks: its lead still stands, when it has one
        rows = session.execute(select(CareTeam.id, CareTeam.lead_staff_id).where(CareTeam.id.in_(archived)))
        lead_of.update({team_id: lead for team_id, lead in rows})
    default = {h: next((t.lead_staff_id for t in refs if t.is_default), None) for h, refs in teams.items()}
    found: dict[tuple[int | None, str], int | None] = {}
    for team_id, hospital_id in pairs:
        lead = lead_of.get(team_id) if team_id is not None else None
        found[(team_id, hospital_id)] = lead if lead is not None else default.get(hospital_id)
    return found
