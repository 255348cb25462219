"""Staff tasks: the work list a ``task`` action lands in, per hospital and assignee.

Each public function is one transaction of its own (the service owns the session). Tenancy
goes through ``scope.owned``: another hospital's task is not found, never forbidden. Every
read of a patient's task is in the audit log; listings show her identifiers masked.

A task is ``open`` until its outcome is recorded (``done``) or the engine cancels it
(``cancelled``, done in ``evaluation`` when the pathway exits or replaces the action). It may
be claimed by one staff member at a time; someone else's claim is a 409 ``task-claimed``. An
open task past ``due_at`` is overdue; ``escalate_overdue`` (called by the scheduler) hands it
to the hospital's team lead once, setting ``escalated_at`` and recording who in the audit log.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from carepath.engine.forms import score
from carepath.errors import CarepathError
from carepath.store import care_routing, form_answers
from carepath.store.accounts import StaffIdentity, identity_of
from carepath.store.crypto import FieldCipher, mask_name
from carepath.store.db import Database
from carepath.store.models import Hospital, Patient, Pregnancy, Staff, StaffTask
from carepath.store.roles import ROLES
from carepath.store.scope import Actor, audit, owned
from carepath.store.tenants import UnknownHospitalError

STATUSES = ("open", "done", "cancelled")
PRIORITIES = ("low", "normal", "high", "urgent")
SCHEDULER = "scheduler"


class TaskNotFoundError(CarepathError):
    """No such task *for this actor* (another hospital's task is not found, not forbidden)."""

    code = "task-not-found"


class TaskClaimedError(CarepathError):
    """The task is claimed by someone else."""

    code = "task-claimed"

    def __init__(self, message: str, claimed_by: str | None) -> None:
        super().__init__(message)
        self.claimed_by = claimed_by


class TaskClosedError(CarepathError):
    """The task is done or cancelled: it can no longer be claimed, released or completed."""

    code = "task-closed"


class UnknownStaffError(CarepathError):
    """The staff member named by the caller is not staff of the caller's hospital."""

    code = "unknown-staff"


class InvalidOutcomeError(CarepathError):
    """The outcome does not fit the task's form; ``errors`` lists each field path."""

    code = "invalid-outcome"

    def __init__(self, message: str, errors: list[dict[str, str]]) -> None:
        super().__init__(message)
        self.errors = errors


@dataclass(frozen=True)
class TaskFilter:
    assign: str | None = None  # the task's assignee role, e.g. responsible_doctor
    claimed_by: str | None = None  # "staff:12"
    status: str | None = None
    overdue: bool | None = None
    priority: str | None = None
    pregnancy: str | None = None
    limit: int = 100
    offset: int = 0


def add_staff(db: Database, hospital_id: str, name: str, role: str) -> int:
    """A staff member of ``hospital_id``; their id (escalations go to a care team's lead).

    ``role`` is their job; when it is also a permission role (doctor, nurse ...) they hold
    it, so a staff tool acting for them may do what that role may (``store/roles.py``)."""
    with db.transaction() as session:
        if session.get(Hospital, hospital_id) is None:
            raise UnknownHospitalError(f"no hospital {hospital_id}")
        staff = Staff(hospital_id=hospital_id, name=name, role=role, roles=[role] if role in ROLES else [])
        session.add(staff)
        session.flush()
        return staff.id


def staff_identity(db: Database, hospital_id: str, staff_id: int) -> StaffIdentity:
    """The staff member ``staff_id`` of ``hospital_id`` with the permissions of their roles,
    or ``UnknownStaffError`` (also for a disabled account): what the signed staff API checks."""
    with db.reading() as session:
        staff = session.scalar(select(Staff).where(Staff.id == staff_id, Staff.hospital_id == hospital_id))
    if staff is None:
        raise UnknownStaffError(f"no staff member {staff_id} in hospital {hospital_id}")
    if staff.disabled_at is not None:  # the same rows as staff logins: disabled is disabled
        raise UnknownStaffError(f"staff member {staff_id} is disabled")
    return identity_of(staff)


def staff_actor(db: Database, hospital_id: str, staff_id: int, remote_addr: str | None) -> Actor:
    """``staff_identity`` as an actor: ``staff:<id>``, as for a logged-in session."""
    return staff_identity(db, hospital_id, staff_id).actor(remote_addr)


def _overdue(task: StaffTask, now: datetime) -> bool:
    return task.status == "open" and task.due_at is not None and task.due_at < now


def _view(task: StaffTask, patient: Patient, cipher: FieldCipher, now: datetime) -> dict[str, Any]:
    return {
        "id": task.id,
        "hospital": task.hospital_id,
        "pregnancy": task.pregnancy_id,
        "patient": {
            "id": patient.id,
            "his_id": patient.his_patient_id,
            "name": mask_name(cipher.open(patient.name_sealed)) if patient.name_sealed else None,
        },
        "title": task.title,
        "assign": task.assign,
        "priority": task.priority,
        "status": task.status,
        "due_at": task.due_at.isoformat() if task.due_at else None,
        "overdue": _overdue(task, now),
        "form": task.form,
        "script": task.script,
        "claimed_by": task.claimed_by,
        "claimed_at": task.claimed_at.isoformat() if task.claimed_at else None,
        "outcome": task.outcome,
        "outcome_answers": json.loads(task.outcome_answers) if task.outcome_answers else None,
        "done_at": task.done_at.isoformat() if task.done_at else None,
        "escalated_at": task.escalated_at.isoformat() if task.escalated_at else None,
        "created_at": task.created_at.isoformat(),
    }


def _with_patients(actor: Actor) -> Any:
    statement: Any = (
        select(StaffTask, Patient)
        .join(Pregnancy, Pregnancy.id == StaffTask.pregnancy_id)
        .join(Patient, Patient.id == Pregnancy.patient_id)
    )
    return owned(statement, StaffTask, actor)


def list_tasks(
    db: Database, cipher: FieldCipher, actor: Actor, now: datetime, where: TaskFilter
) -> list[dict[str, Any]]:
    """The actor's hospital's tasks matching ``where``, most urgent first; each read audited."""
    with db.transaction() as session:
        statement = _with_patients(actor)
        if where.assign:
            statement = statement.where(StaffTask.assign == where.assign)
        if where.claimed_by:
            statement = statement.where(StaffTask.claimed_by == where.claimed_by)
        if where.status:
            statement = statement.where(StaffTask.status == where.status)
        if where.priority:
            statement = statement.where(StaffTask.priority == where.priority)
        if where.pregnancy:
            statement = statement.where(StaffTask.pregnancy_id == where.pregnancy)
        if where.overdue is True:
            statement = statement.where(
                StaffTask.status == "open", StaffTask.due_at.is_not(None), StaffTask.due_at < now
            )
        elif where.overdue is False:
            statement = statement.where(
                (StaffTask.status != "open") | StaffTask.due_at.is_(None) | (StaffTask.due_at >= now)
            )
        rows = session.execute(
            statement.order_by(StaffTask.due_at.is_(None), StaffTask.due_at, StaffTask.id)
            .limit(where.limit)
            .offset(where.offset)
        ).all()
        for task, patient in rows:
            audit(
                session,
                actor,
                "list",
                now,
                f"task {task.id} listed",
                patient_id=patient.id,
                pregnancy_id=task.pregnancy_id,
            )
        return [_view(task, patient, cipher, now) for task, patient in rows]


def _load(session: Session, actor: Actor, task_id: int, *, lock: bool = False) -> tuple[StaffTask, Patient]:
    statement = _with_patients(actor).where(StaffTask.id == task_id)
    if lock:
        statement = statement.with_for_update(of=StaffTask)
    row = session.execute(statement).one_or_none()
    if row is None:
        raise TaskNotFoundError(f"no task {task_id} in hospital {actor.hospital_id}")
    return row[0], row[1]


def get_task(db: Database, cipher: FieldCipher, actor: Actor, task_id: int, now: datetime) -> dict[str, Any]:
    """One task of the actor's hospital (audited)."""
    with db.transaction() as session:
        task, patient = _load(session, actor, task_id)
        audit(
            session,
            actor,
            "read",
            now,
            f"task {task.id}",
            patient_id=patient.id,
            pregnancy_id=task.pregnancy_id,
        )
        return _view(task, patient, cipher, now)


def _open(task: StaffTask) -> None:
    if task.status != "open":
        raise TaskClosedError(f"task {task.id} is {task.status}")


def _refuse_other_claim(task: StaffTask, actor: Actor) -> None:
    if task.claimed_by is not None and task.claimed_by != actor.label:
        raise TaskClaimedError(f"task {task.id} is claimed by {task.claimed_by}", task.claimed_by)


def claim(db: Database, cipher: FieldCipher, actor: Actor, task_id: int, now: datetime) -> dict[str, Any]:
    """Claim an open task for the actor; claiming one's own claim again changes nothing."""
    with db.transaction() as session:
        task, patient = _load(session, actor, task_id, lock=True)
        _open(task)
        _refuse_other_claim(task, actor)
        if task.claimed_by is None:
            # The row lock (PostgreSQL) or the write lock (SQLite) orders racing claims; the
            # guarded UPDATE is the last word either way.
            claimed = session.execute(
                update(StaffTask)
                .where(StaffTask.id == task.id, StaffTask.claimed_by.is_(None), StaffTask.status == "open")
                .values(claimed_by=actor.label, claimed_at=now)
                .execution_options(synchronize_session=False)
            )
            if claimed.rowcount != 1:  # type: ignore[attr-defined]
                session.refresh(task)
                _open(task)
                _refuse_other_claim(task, actor)
            session.refresh(task)
            audit(
                session,
                actor,
                "change",
                now,
                f"task {task.id} claimed",
                patient_id=patient.id,
                pregnancy_id=task.pregnancy_id,
            )
        return _view(task, patient, cipher, now)


def release(db: Database, cipher: FieldCipher, actor: Actor, task_id: int, now: datetime) -> dict[str, Any]:
    """Give back the actor's own claim; someone else's claim is refused."""
    with db.transaction() as session:
        task, patient = _load(session, actor, task_id, lock=True)
        _open(task)
        _refuse_other_claim(task, actor)
        if task.claimed_by is not None:
            task.claimed_by, task.claimed_at = None, None
            audit(
                session,
                actor,
                "change",
                now,
                f"task {task.id} released",
                patient_id=patient.id,
                pregnancy_id=task.pregnancy_id,
            )
        return _view(task, patient, cipher, now)


def check_outcome(form_id: str | None, answers: Mapping[str, object] | None) -> list[dict[str, str]]:
    """Field-path problems of an outcome's answers against the task's form (none when fine)."""
    if form_id is None:
        if answers:
            return [{"path": "answers", "code": "no-form", "message": "this task has no outcome form"}]
        return []
    if form_id not in form_answers.forms():
        return [
            {"path": "answers", "code": "unknown-form", "message": f"the task's form {form_id} is not known"}
        ]
    return form_answers.answer_problems(form_id, answers or {})


def record_outcome(
    db: Database,
    cipher: FieldCipher,
    actor: Actor,
    task_id: int,
    now: datetime,
    *,
    outcome: str,
    answers: Mapping[str, object] | None = None,
) -> dict[str, Any]:
    """Close the task with its outcome (and the form's answers, validated and scored).

    The actor must hold the claim or the task must be unclaimed (recording claims it).
    Nothing is written when the answers do not fit the form (``InvalidOutcomeError``).
    """
    with db.transaction() as session:
        task, patient = _load(session, actor, task_id, lock=True)
        _open(task)
        _refuse_other_claim(task, actor)
        errors = check_outcome(task.form, answers)
        if errors:
            raise InvalidOutcomeError(f"the outcome does not fit form {task.form or '(none)'}", errors)
        stored: dict[str, Any] | None = None
        if task.form is not None:
            result = score(form_answers.forms()[task.form], answers or {})
            stored = {"answers": dict(answers or {}), "score": result.total}
        if task.claimed_by is None:
            task.claimed_by, task.claimed_at = actor.label, now
        task.outcome = outcome
        task.outcome_answers = json.dumps(stored, ensure_ascii=False, default=str) if stored else None
        task.status = "done"
        task.done_at = now
        audit(
            session,
            actor,
            "change",
            now,
            f"task {task.id} done: {outcome}",
            patient_id=patient.id,
            pregnancy_id=task.pregnancy_id,
        )
        return _view(task, patient, cipher, now)


class NotInTeamError(CarepathError):
    """Reassigning to someone who is not an active member of the task's team (or the task has
    no team)."""

    code = "not-in-team"


def reassign(
    db: Database, cipher: FieldCipher, actor: Actor, task_id: int, now: datetime, *, to_staff_id: int
) -> dict[str, Any]:
    """Give an open task to another active member of its team (the page checks
    ``task.assign``): ``assignee_id`` becomes them and a claim on it is given back, so the new
    person can take it; audited as who gave it from whom to whom."""
    with db.transaction() as session:
        task, patient = _load(session, actor, task_id, lock=True)
        _open(task)
        # is_member: an active member, not disabled; and of the actor's hospital (a team is one
        # hospital's, and the task was loaded as the actor's)
        member = task.team_id is not None and care_routing.is_member(session, task.team_id, to_staff_id)
        if not member:
            raise NotInTeamError(f"staff {to_staff_id} is not an active member of task {task.id}'s team")
        before = task.assignee_id
        task.assignee_id = to_staff_id
        task.claimed_by, task.claimed_at = None, None
        audit(
            session,
            actor,
            "change",
            now,
            f"task {task.id} reassigned from staff:{before or '-'} to staff:{to_staff_id}",
            patient_id=patient.id,
            pregnancy_id=task.pregnancy_id,
        )
        return _view(task, patient, cipher, now)


@dataclass(frozen=True)
class Escalation:
    task_id: int
    hospital_id: str
    lead: str | None  # "staff:7", or None when the hospital has no team lead on file


def escalate_overdue(db: Database, now: datetime, *, limit: int = 500) -> list[Escalation]:
    """Escalate open overdue tasks not yet escalated to their team's lead, once.

    For the scheduler: sets ``escalated_at`` and records who in the audit log (actor
    ``scheduler``). The lead is the task's team's (``CareTeam.lead_staff_id``), else the
    hospital's default team's (issue 20: no longer a free-text job title); without either the
    task is recorded as escalated with no team lead on file.
    """
    with db.transaction() as session:
        tasks = session.scalars(
            select(StaffTask)
            .where(
                StaffTask.status == "open",
                StaffTask.escalated_at.is_(None),
                StaffTask.due_at.is_not(None),
                StaffTask.due_at < now,
            )
            .order_by(StaffTask.due_at, StaffTask.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).all()
        leads = care_routing.escalation_leads(session, [(t.team_id, t.hospital_id) for t in tasks])
        done = []
        for task in tasks:
            lead_id = leads[(task.team_id, task.hospital_id)]
            lead = f"staff:{lead_id}" if lead_id is not None else None
            task.escalated_at = now
            actor = Actor(task.hospital_id, SCHEDULER, "escalation")
            detail = f"task {task.id} overdue since {task.due_at.isoformat() if task.due_at else '?'}: "
            detail += f"escalated to {lead}" if lead else "escalated; no team lead on file"
            audit(session, actor, "change", now, detail, pregnancy_id=task.pregnancy_id)
            done.append(Escalation(task.id, task.hospital_id, lead))
        return done
