"""Care teams and who is responsible for her (issue 20 item 1): the one service of
``models_teams.py``; docs/care-teams.md is the reader's version of this page.

- **Teams** (``create_team``, ``rename_team``, ``archive_team``, ``add_member``,
  ``remove_member``, ``set_lead``, ``list_teams``) are one hospital's; each change is audited.
  ``my_team_ids`` is what the workspace and her record filter by.
- **Her care** (``care_of``, ``set_care``): her team and the people named for her, with the
  history of every change. ``set_care`` checks that each person is an active member of her
  (new) team, writes one ``PregnancyCareChange`` per changed field, and re-resolves her open
  unclaimed tasks, so a task for her responsible doctor follows the new doctor.
- **Routing** (``route``, ``resolve``, ``resolve_rows``, ``place_at_registration``) lives in
  ``care_routing.py`` (what the engine's writes need) and is re-exported here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from carepath.errors import CarepathError
from carepath.store.care_routing import (
    PERSON_COLUMNS,
    care_row,
    ensure_care,
    is_member,
    reresolve_open_tasks,
)
from carepath.store.db import Database
from carepath.store.models import Pregnancy, Staff, StaffTask
from carepath.store.models_teams import (
    TEAM_KINDS,
    TEAM_ROLES,
    CareTeam,
    CareTeamMember,
    PregnancyCare,
    PregnancyCareChange,
)
from carepath.store.scope import Actor, PregnancyNotFoundError, audit, owned


class CareTeamError(CarepathError):
    """A team or care change that cannot be made (the code says which)."""

    code = "care-team-invalid"


class TeamNotFoundError(CareTeamError):
    """No such team in the actor's hospital (another hospital's is not found)."""

    code = "team-not-found"


class NotTeamMemberError(CareTeamError):
    """The person named is not an active member of the team."""

    code = "not-team-member"


class ReasonRequiredError(CareTeamError):
    code = "reason-required"


_UNSET: Any = object()


def my_team_ids(session: Session, hospital_id: str, staff_id: int) -> list[int]:
    """The active teams of ``hospital_id`` that ``staff_id`` is an active member of."""
    return list(
        session.scalars(
            select(CareTeam.id)
            .join(CareTeamMember, CareTeamMember.team_id == CareTeam.id)
            .where(
                CareTeam.hospital_id == hospital_id,
                CareTeam.archived_at.is_(None),
                CareTeamMember.staff_id == staff_id,
                CareTeamMember.removed_at.is_(None),
            )
            .order_by(CareTeam.id)
            .distinct()
        )
    )


@dataclass(frozen=True)
class Person:
    id: int
    name: str


@dataclass(frozen=True)
class CareChange:
    what: str  # "team" or one of RESPONSIBLE
    old: str | None  # the name of the team or person (or the id when it no longer exists)
    new: str | None
    reason: str | None
    actor: str
    at: datetime


@dataclass(frozen=True)
class Care:
    """Who cares for her now, and how that came to be (newest change first)."""

    pregnancy_id: str
    team: Person | None
    responsible_doctor: Person | None
    responsible_nurse: Person | None
    case_manager: Person | None
    history: tuple[CareChange, ...]


def care_of(session: Session, pregnancy_id: str) -> Care | None:
    """Her care row with names, and its history; None for a pregnancy without one. The caller
    has checked that the reader may see her (tenancy and the audit are the caller's)."""
    care = session.get(PregnancyCare, pregnancy_id)
    if care is None:
        return None
    changes = session.scalars(
        select(PregnancyCareChange)
        .where(PregnancyCareChange.pregnancy_id == pregnancy_id)
        .order_by(PregnancyCareChange.at.desc(), PregnancyCareChange.id.desc())
    ).all()
    team_ids: set[int] = {care.team_id} if care.team_id is not None else set()
    staff_ids = {
        s for s in (care.responsible_doctor_id, care.responsible_nurse_id, care.case_manager_id) if s
    }
    for change in changes:
        ids = team_ids if change.what == "team" else staff_ids
        ids.update(int(v) for v in (change.old_value, change.new_value) if v and v.isdigit())
    team_names = dict(
        session.execute(select(CareTeam.id, CareTeam.name).where(CareTeam.id.in_(team_ids))).all()
    )
    staff_names = dict(session.execute(select(Staff.id, Staff.name).where(Staff.id.in_(staff_ids))).all())

    def person(staff_id: int | None) -> Person | None:
        return Person(staff_id, staff_names.get(staff_id, str(staff_id))) if staff_id is not None else None

    def named(what: str, value: str | None) -> str | None:
        if not value:
            return None
        names = team_names if what == "team" else staff_names
        return names.get(int(value), value) if value.isdigit() else value

    return Care(
        pregnancy_id,
        Person(care.team_id, team_names.get(care.team_id, str(care.team_id))) if care.team_id else None,
        person(care.responsible_doctor_id),
        person(care.responsible_nurse_id),
        person(care.case_manager_id),
        tuple(
            CareChange(
                c.what, named(c.what, c.old_value), named(c.what, c.new_value), c.reason, c.actor, c.at
            )
            for c in changes
        ),
    )


def _team_of(session: Session, hospital_id: str, team_id: int, *, active: bool = True) -> CareTeam:
    team = session.scalar(select(CareTeam).where(CareTeam.id == team_id, CareTeam.hospital_id == hospital_id))
    if team is None or (active and team.archived_at is not None):
        raise TeamNotFoundError(f"no active team {team_id} in hospital {hospital_id}")
    return team


def set_care(
    db: Database,
    actor: Actor,
    pregnancy_id: str,
    *,
    team_id: int | None = _UNSET,
    responsible_doctor_id: int | None = _UNSET,
    responsible_nurse_id: int | None = _UNSET,
    case_manager_id: int | None = _UNSET,
    reason: str,
    now: datetime,
) -> Care:
    """Change her team and/or the people named for her (a field left out is kept; None
    clears a person). Each person must be an active member of her team after the change; when
    her team changes, a person not in the new team is cleared. One change row per changed
    field, audited; her open unclaimed tasks are re-resolved. Nothing is written on an error."""
    if not reason or not reason.strip():
        raise ReasonRequiredError("a reason is required to change who cares for her")
    with db.transaction() as session:
        pregnancy = session.scalar(
            owned(select(Pregnancy), Pregnancy, actor).where(Pregnancy.id == pregnancy_id).with_for_update()
        )
        if pregnancy is None:
            raise PregnancyNotFoundError(f"no pregnancy {pregnancy_id} in hospital {actor.hospital_id}")
        ensure_care(session, pregnancy_id, actor.hospital_id, now)
        session.flush()  # a care row made just now is read back below
        care = session.get(PregnancyCare, pregnancy_id)
        assert care is not None
        before = care_row(care)
        new_team = care.team_id if team_id is _UNSET else team_id
        if new_team is None:
            raise TeamNotFoundError("her team cannot be empty")
        if new_team != care.team_id:
            _team_of(session, actor.hospital_id, new_team)
        given = {
            "responsible_doctor": responsible_doctor_id,
            "responsible_nurse": responsible_nurse_id,
            "case_manager": case_manager_id,
        }
        wanted: dict[str, int | None] = {}
        for what, value in given.items():
            current = getattr(care, PERSON_COLUMNS[what])
            if value is _UNSET:
                # kept, unless she moves to a team they are not in
                keep = current is None or new_team == care.team_id or is_member(session, new_team, current)
                wanted[what] = current if keep else None
            else:
                if value is not None and not is_member(session, new_team, value):
                    raise NotTeamMemberError(
                        f"staff member {value} is not an active member of team {new_team}"
                    )
                wanted[what] = value
        changed: list[tuple[str, int | None, int | None]] = []
        if new_team != care.team_id:
            changed.append(("team", care.team_id, new_team))
            care.team_id = new_team
        for what, value in wanted.items():
            column = PERSON_COLUMNS[what]
            if getattr(care, column) != value:
                changed.append((what, getattr(care, column), value))
                setattr(care, column, value)
        if changed:
            care.updated_at, care.updated_by = now, actor.label
            for what, old, new in changed:
                session.add(
                    PregnancyCareChange(
                        pregnancy_id=pregnancy_id, hospital_id=actor.hospital_id, what=what,
                        old_value=str(old) if old is not None else None,
                        new_value=str(new) if new is not None else None,
                        reason=reason.strip(), actor=actor.label, at=now,
                    )
                )  # fmt: skip
            audit(
                session, actor, "change", now,
                "care changed: " + ", ".join(f"{w} {o or '-'} -> {n or '-'}" for w, o, n in changed)
                + f" ({reason.strip()})",
                patient_id=pregnancy.patient_id, pregnancy_id=pregnancy_id,
            )  # fmt: skip
            session.flush()
            reresolve_open_tasks(session, pregnancy_id, actor.hospital_id, before)
        found = care_of(session, pregnancy_id)
        assert found is not None
        return found


@dataclass(frozen=True)
class Member:
    staff_id: int
    name: str
    team_role: str
    since: datetime


@dataclass(frozen=True)
class Team:
    id: int
    name: str
    kind: str
    is_default: bool
    lead: Person | None
    members: tuple[Member, ...]
    archived_at: datetime | None


def list_teams(session: Session, hospital_id: str, *, archived: bool = False) -> list[Team]:
    """The hospital's teams (active ones unless ``archived``) with their active members: two
    queries."""
    statement = select(CareTeam).where(CareTeam.hospital_id == hospital_id)
    if not archived:
        statement = statement.where(CareTeam.archived_at.is_(None))
    teams = session.scalars(statement.order_by(CareTeam.is_default.desc(), CareTeam.name)).all()
    members: dict[int, list[Member]] = {t.id: [] for t in teams}
    rows = session.execute(
        select(
            CareTeamMember.team_id, Staff.id, Staff.name, CareTeamMember.team_role, CareTeamMember.added_at
        )
        .join(Staff, Staff.id == CareTeamMember.staff_id)
        .where(CareTeamMember.team_id.in_(list(members)), CareTeamMember.removed_at.is_(None))
        .order_by(CareTeamMember.team_role, Staff.name)
    )
    names: dict[int, str] = {}
    for team_id, staff_id, name, role, since in rows:
        members[team_id].append(Member(staff_id, name, role, since))
        names[staff_id] = name
    leads = {t.lead_staff_id for t in teams if t.lead_staff_id and t.lead_staff_id not in names}
    if leads:
        found = session.execute(select(Staff.id, Staff.name).where(Staff.id.in_(leads)))
        names.update({staff_id: name for staff_id, name in found})
    return [
        Team(
            t.id,
            t.name,
            t.kind,
            bool(t.is_default),
            Person(t.lead_staff_id, names.get(t.lead_staff_id, str(t.lead_staff_id)))
            if t.lead_staff_id
            else None,
            tuple(members[t.id]),
            t.archived_at,
        )
        for t in teams
    ]


def _check_name(name: str) -> str:
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise CareTeamError("a team's name is 1 to 100 characters", code="team-name-invalid")
    return name


def create_team(
    db: Database, actor: Actor, name: str, kind: str, now: datetime, *, default: bool = False
) -> int:
    """A new team of the actor's hospital; its id. Names are unique in a hospital.
    ``default``: it becomes the hospital's default team (the previous one stops being it)."""
    name = _check_name(name)
    if kind not in TEAM_KINDS:
        raise CareTeamError(
            f"a team's kind is one of {', '.join(TEAM_KINDS)}, not {kind!r}", code="team-kind-invalid"
        )
    with db.transaction() as session:
        if session.scalar(
            select(CareTeam.id).where(CareTeam.hospital_id == actor.hospital_id, CareTeam.name == name)
        ):
            raise CareTeamError(f"the hospital already has a team named {name}", code="team-name-taken")
        if default:
            session.execute(
                update(CareTeam).where(CareTeam.hospital_id == actor.hospital_id).values(is_default=False)
            )
        team = CareTeam(
            hospital_id=actor.hospital_id, name=name, kind=kind, is_default=default, created_at=now
        )
        session.add(team)
        session.flush()
        audit(session, actor, "change", now, f"team {team.id} created: {name} ({kind})")
        return team.id


def rename_team(db: Database, actor: Actor, team_id: int, name: str, now: datetime) -> None:
    name = _check_name(name)
    with db.transaction() as session:
        team = _team_of(session, actor.hospital_id, team_id)
        clash = session.scalar(
            select(CareTeam.id).where(
                CareTeam.hospital_id == actor.hospital_id, CareTeam.name == name, CareTeam.id != team_id
            )
        )
        if clash is not None:
            raise CareTeamError(f"the hospital already has a team named {name}", code="team-name-taken")
        audit(session, actor, "change", now, f"team {team_id} renamed: {team.name} -> {name}")
        team.name = name


def archive_team(db: Database, actor: Actor, team_id: int, now: datetime) -> None:
    """A team no longer used (its history stays). The default team and a team that still has
    women in it are refused: move them first, so that no task lands in a team nobody sees."""
    with db.transaction() as session:
        team = _team_of(session, actor.hospital_id, team_id)
        if team.is_default:
            raise CareTeamError(
                "the default team cannot be archived; make another team the default first",
                code="team-is-default",
            )
        if session.scalar(
            select(PregnancyCare.pregnancy_id).where(PregnancyCare.team_id == team_id).limit(1)
        ):
            raise CareTeamError(
                "the team still has women in it; move them to another team first", code="team-in-use"
            )
        team.archived_at = now
        audit(session, actor, "change", now, f"team {team_id} archived: {team.name}")


def _staff_of(session: Session, hospital_id: str, staff_id: int) -> Staff:
    staff = session.scalar(select(Staff).where(Staff.id == staff_id, Staff.hospital_id == hospital_id))
    if staff is None or staff.disabled_at is not None:
        raise NotTeamMemberError(f"no active staff member {staff_id} in hospital {hospital_id}")
    return staff


def add_member(
    db: Database, actor: Actor, team_id: int, staff_id: int, *, team_role: str, now: datetime
) -> None:
    """``staff_id`` joins the team with ``team_role`` (a member already: their role changes)."""
    if team_role not in TEAM_ROLES:
        raise CareTeamError(
            f"a team role is one of {', '.join(TEAM_ROLES)}, not {team_role!r}", code="team-role-invalid"
        )
    with db.transaction() as session:
        _team_of(session, actor.hospital_id, team_id)
        staff = _staff_of(session, actor.hospital_id, staff_id)
        member = session.scalar(
            select(CareTeamMember).where(
                CareTeamMember.team_id == team_id,
                CareTeamMember.staff_id == staff_id,
                CareTeamMember.removed_at.is_(None),
            )
        )
        if member is not None:
            if member.team_role == team_role:
                return
            member.team_role = team_role
        else:
            session.add(CareTeamMember(team_id=team_id, staff_id=staff_id, team_role=team_role, added_at=now))
        audit(
            session, actor, "change", now, f"team {team_id}: {staff.name} (staff {staff_id}) is {team_role}"
        )


def remove_member(db: Database, actor: Actor, team_id: int, staff_id: int, now: datetime) -> None:
    """``staff_id`` leaves the team (kept in its history). The women they were named for keep
    their team; the person is cleared from their care rows (recorded) and their open
    unclaimed tasks go to the team's queue. The lead leaving leaves the team without one."""
    with db.transaction() as session:
        team = _team_of(session, actor.hospital_id, team_id)
        member = session.scalar(
            select(CareTeamMember).where(
                CareTeamMember.team_id == team_id,
                CareTeamMember.staff_id == staff_id,
                CareTeamMember.removed_at.is_(None),
            )
        )
        if member is None:
            raise NotTeamMemberError(f"staff member {staff_id} is not a member of team {team_id}")
        member.removed_at = now
        if team.lead_staff_id == staff_id:
            team.lead_staff_id = None
        for care in session.scalars(select(PregnancyCare).where(PregnancyCare.team_id == team_id)):
            cleared = [w for w, c in PERSON_COLUMNS.items() if getattr(care, c) == staff_id]
            before = care_row(care)
            for what in cleared:
                setattr(care, PERSON_COLUMNS[what], None)
                session.add(
                    PregnancyCareChange(
                        pregnancy_id=care.pregnancy_id, hospital_id=care.hospital_id, what=what,
                        old_value=str(staff_id), new_value=None, reason="离开团队", actor=actor.label, at=now,
                    )
                )  # fmt: skip
            if cleared:
                care.updated_at, care.updated_by = now, actor.label
                session.flush()
                reresolve_open_tasks(session, care.pregnancy_id, care.hospital_id, before, leaving=staff_id)
        # Tasks given to them by hand (not as anyone's named carer) go back to the routing too.
        handed = session.scalars(
            select(StaffTask.pregnancy_id)
            .where(
                StaffTask.assignee_id == staff_id, StaffTask.team_id == team_id, StaffTask.status == "open"
            )
            .distinct()
        ).all()
        for pregnancy_id in handed:
            care_now = session.get(PregnancyCare, pregnancy_id)
            if care_now is not None:
                reresolve_open_tasks(
                    session, pregnancy_id, care_now.hospital_id, care_row(care_now), leaving=staff_id
                )
        audit(session, actor, "change", now, f"team {team_id}: staff {staff_id} removed")


def set_lead(db: Database, actor: Actor, team_id: int, staff_id: int | None, now: datetime) -> None:
    """The team's lead (who receives escalations of its overdue tasks): an active member, or
    None for no lead."""
    with db.transaction() as session:
        team = _team_of(session, actor.hospital_id, team_id)
        if staff_id is not None and not is_member(session, team_id, staff_id):
            raise NotTeamMemberError(f"staff member {staff_id} is not an active member of team {team_id}")
        team.lead_staff_id = staff_id
        audit(session, actor, "change", now, f"team {team_id}: lead is {staff_id or 'nobody'}")
