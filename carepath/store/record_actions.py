"""What staff do on her record (issue 20 item 3): each action one transaction, audited as the
staff member who acted, with the reason they gave.

Tags, plans and colours go through the language's own events — ``tag.added`` / ``tag.removed``,
``plan.enrol_requested`` / ``plan.end_requested``, ``risk.confirmed`` — recorded and evaluated by
``events.record`` exactly as the HIS's are (the rules that trigger on them fire, her facts change
only through the engine), never by editing her state. They are recorded under the hospital's
``staff-pages`` integrator (as her pages use ``h5``), with event ids ``staff-<staff id>-<request>``:
``request`` is the one-time token the page's form carries, so a double click (the same form sent
twice) records one event and the second answers as a replay.

Sending a content item now writes one outbox ``push`` row (dedupe key ``<pregnancy>/staff/
<request>``: a double click sends once), only for an item a reviewer approved — whatever the
hospital's drafts setting: a person choosing to send something by hand sends approved text only.
Opening a task writes one staff task routed by ``care_routing.resolve`` exactly as the engine's
tasks are: a task for her responsible doctor lands on that doctor, one for a service (midwives,
nutrition, the school) in that service's team, any other in her team's queue.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from carepath.errors import CarepathError
from carepath.store import approvals, care_routing, events, risk_register
from carepath.store.crypto import FieldCipher
from carepath.store.db import Database
from carepath.store.event_input import HisEvent, InvalidEventError, body_hash
from carepath.store.her_record import find_pregnancy
from carepath.store.models import Integrator, OutboxRow, Pregnancy, Staff, StaffTask, TagLog
from carepath.store.pathways import library_for
from carepath.store.scope import Actor, audit

#: The integrator the staff pages' events are recorded under, one per hospital.
STAFF_PAGES_INTEGRATOR = "staff-pages"
#: The language's ``assign`` values and task priorities (pathway.schema.json).
ASSIGN = ("responsible_doctor", "responsible_nurse", "case_manager", "midwife", "nutritionist", "school")
PRIORITIES = ("low", "normal", "high", "urgent")
COLOURS = ("green", "yellow", "orange", "red")
_REQUEST = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
_TAG_LIMIT = 40
_REASON_LIMIT = 200
_TITLE_LIMIT = 200

#: Runs last in the action's transaction (the page files her inbox copy at once).
OnDone = Callable[[Session, Pregnancy], Any]


class RecordActionError(CarepathError):
    """An action refused for its input: ``field`` names the form field (None: the whole form);
    ``code`` is stable, the page says it in Chinese."""

    code = "record-action-refused"

    def __init__(self, code: str, field: str | None = None, message: str = "") -> None:
        self.code = code
        self.field = field
        super().__init__(message or code)


@dataclass(frozen=True)
class Done:
    """What an action did: ``replay`` when the same request was done before (a double click)."""

    replay: bool
    detail: str


def pages_actor(session: Session, hospital_id: str) -> Actor:
    """The hospital's ``staff-pages`` integrator as the recorder of events from staff pages."""
    found = session.scalar(
        select(Integrator.id).where(
            Integrator.hospital_id == hospital_id, Integrator.name == STAFF_PAGES_INTEGRATOR
        )
    )
    if found is None:
        integrator = Integrator(hospital_id=hospital_id, name=STAFF_PAGES_INTEGRATOR)
        session.add(integrator)
        session.flush()
        found = integrator.id
    return Actor(hospital_id, STAFF_PAGES_INTEGRATOR, str(found))


def check_request(value: str) -> str:
    """The one-time token a staff form carries (a double click sends it twice)."""
    if not _REQUEST.match(value or ""):
        raise RecordActionError("bad-request-token", None, "the form is stale; reload the page")
    return value


def _reason(value: str | None, *, required: bool) -> str:
    text = (value or "").strip()
    if required and not text:
        raise RecordActionError("reason-required", "reason")
    if len(text) > _REASON_LIMIT:
        raise RecordActionError("reason-too-long", "reason")
    return text


def _staff_name(session: Session, actor: Actor) -> str:
    name = session.scalar(select(Staff.name).where(Staff.id == int(actor.id)))
    return (name or actor.label)[:64]


def record_event(
    session: Session,
    cipher: FieldCipher,
    actor: Actor,
    pregnancy: Pregnancy,
    patient: Any,
    *,
    event_id: str,
    kind: str,
    data: dict[str, Any],
    now: datetime,
    detail: str,
    after: Callable[[Session, HisEvent, Pregnancy], None] | None = None,
) -> bool:
    """Record and evaluate one event of the language for her (found and locked by the caller),
    as the HIS's are, in the caller's transaction; audited as ``actor`` with ``detail``. True
    when ``event_id`` was recorded before (a replay: nothing changes). Her record's actions and
    the batch actions (``cohort_batches.py``) both come here."""
    filled = {k: (v(session) if callable(v) else v) for k, v in data.items()}
    event = HisEvent(
        id=event_id,
        type=kind,
        occurred_at=now,
        data=filled,
        his_id=None,
        id_number=None,
        phone=None,
        name=None,
        pregnancy=None,
        body_hash=body_hash({"type": kind, "data": filled, "pregnancy": pregnancy.id}),
    )
    try:
        recorded = events.record(
            session,
            cipher,
            pages_actor(session, actor.hospital_id),
            event,
            now,
            resolved=(patient, pregnancy),
        )
    except events.EventConflictError:
        raise RecordActionError("stale-form", None) from None
    except InvalidEventError as error:
        raise RecordActionError(
            error.problems[0].code,
            "pathway" if "pathway" in error.problems[0].path else None,
            error.message,
        ) from None
    except events.EvaluationFailedError as error:
        raise RecordActionError("evaluation-failed", None, error.message) from None
    if recorded.answer.status == 200:
        return True
    if after is not None:
        after(session, event, pregnancy)
    audit(
        session,
        actor,
        "change",
        now,
        f"her record: {detail} (event {event.id})",
        patient_id=patient.id,
        pregnancy_id=pregnancy.id,
    )
    return False


def _event(
    db: Database,
    cipher: FieldCipher,
    actor: Actor,
    pregnancy_id: str,
    *,
    kind: str,
    data: dict[str, Any],
    request: str,
    now: datetime,
    detail: str,
    after: Callable[[Session, HisEvent, Pregnancy], None] | None = None,
) -> Done:
    """Record and evaluate one event of the language for her, as the HIS's are."""
    request = check_request(request)

    def work(session: Session) -> Done:
        pregnancy, patient = find_pregnancy(session, actor, pregnancy_id, now)
        replay = record_event(
            session,
            cipher,
            actor,
            pregnancy,
            patient,
            event_id=f"staff-{actor.id}-{request}",
            kind=kind,
            data=data,
            now=now,
            detail=detail,
            after=after,
        )
        return Done(replay, detail)

    return events.retrying(db, work)


@dataclass(frozen=True)
class Change:
    """One event of the language a staff action records for her: what ``record_event`` takes."""

    kind: str
    data: dict[str, Any]
    detail: str
    after: Callable[[Session, HisEvent, Pregnancy], None] | None = None


def tag_change(actor: Actor, tag: str | None, *, add: bool, reason: str | None) -> Change:
    """``tag.added`` / ``tag.removed`` (checked); its tag-log line names the staff member and
    the reason."""
    tag = (tag or "").strip()
    if not tag:
        raise RecordActionError("tag-required", "tag")
    if len(tag) > _TAG_LIMIT:
        raise RecordActionError("tag-too-long", "tag")
    why = _reason(reason, required=False)

    def log_line(session: Session, event: HisEvent, pregnancy: Pregnancy) -> None:
        session.flush()
        session.execute(
            update(TagLog)
            .where(TagLog.pregnancy_id == pregnancy.id, TagLog.by == f"event {event.id}")
            .values(by=actor.label, why=why or "staff page")
            .execution_options(synchronize_session=False)
        )

    kind = "tag.added" if add else "tag.removed"
    return Change(kind, {"tag": tag}, f"{kind} {tag}" + (f": {why}" if why else ""), log_line)


def plan_change(actor: Actor, pathway: str | None, *, enrol: bool, reason: str | None) -> Change:
    """``plan.enrol_requested`` / ``plan.end_requested`` with the reason (required)."""
    why = _reason(reason, required=True)
    if not pathway:
        raise RecordActionError("pathway-required", "pathway")
    kind = "plan.enrol_requested" if enrol else "plan.end_requested"
    data: dict[str, Any] = {
        "pathway": pathway[:64],
        "requested_by": lambda session: _staff_name(session, actor),
        "reason": why,
    }
    return Change(kind, data, f"{kind} {pathway}: {why}")


def approved_version(session: Session, hospital_id: str, content: str | None) -> tuple[str, str]:
    """(name, content version) of an approved content item of the hospital, or the refusal:
    a person choosing to send something by hand sends approved text only."""
    name = (content or "").strip()
    if not name:
        raise RecordActionError("content-required", "content")
    item = approvals.approvals(session, hospital_id).of("content", name)
    if item.version is None:
        raise RecordActionError("unknown-content", "content")
    if not item.approved:
        raise RecordActionError("unapproved-content", "content")
    return name, item.version


def manual_push(
    hospital_id: Any, pregnancy_id: Any, *, dedupe_key: Any, content: str, why: Any, now: datetime
) -> dict[str, Any]:
    """The outbox columns of a push chosen by a person (sent now, outside any pathway); the
    values may be SQL expressions (a batch inserts a page of them in one statement)."""
    return {
        "hospital_id": hospital_id,
        "pregnancy_id": pregnancy_id,
        "dedupe_key": dedupe_key,
        "pathway_id": "staff",
        "version": "-",
        "rule_id": "send-now",
        "kind": "push",
        "params": {"content": content},
        "due_at": now,
        "channels": [],
        "enrolment_id": "",
        "why": why,
        "status": "due",
        "attempts": 0,
        "created_at": now,
        "updated_at": now,
    }


def change_tag(
    db: Database,
    cipher: FieldCipher,
    actor: Actor,
    pregnancy_id: str,
    *,
    tag: str,
    add: bool,
    reason: str | None,
    request: str,
    now: datetime,
) -> Done:
    """``tag.added`` / ``tag.removed``; its tag-log line names the staff member and the reason."""
    change = tag_change(actor, tag, add=add, reason=reason)
    return _event(
        db,
        cipher,
        actor,
        pregnancy_id,
        kind=change.kind,
        data=change.data,
        request=request,
        now=now,
        detail=change.detail,
        after=change.after,
    )


def request_plan(
    db: Database,
    cipher: FieldCipher,
    actor: Actor,
    pregnancy_id: str,
    *,
    pathway: str,
    enrol: bool,
    reason: str | None,
    request: str,
    now: datetime,
) -> Done:
    """``plan.enrol_requested`` / ``plan.end_requested`` with the reason (required)."""
    change = plan_change(actor, pathway, enrol=enrol, reason=reason)
    return _event(
        db,
        cipher,
        actor,
        pregnancy_id,
        kind=change.kind,
        data=change.data,
        request=request,
        now=now,
        detail=change.detail,
    )


def confirm_colour(
    db: Database,
    cipher: FieldCipher,
    actor: Actor,
    pregnancy_id: str,
    *,
    colour: str,
    note: str | None,
    request: str,
    now: datetime,
) -> Done:
    """``risk.confirmed``: the colour a doctor confirms (the suggested one, or another)."""
    if colour not in COLOURS:
        raise RecordActionError("bad-colour", "colour")
    text = (note or "").strip()
    if len(text) > 500:
        raise RecordActionError("note-too-long", "note")
    data: dict[str, Any] = {"colour": colour, "confirmed_by": lambda session: _staff_name(session, actor)}
    if text:
        data["note"] = text
    done = _event(
        db,
        cipher,
        actor,
        pregnancy_id,
        kind="risk.confirmed",
        data=data,
        request=request,
        now=now,
        detail=f"risk.confirmed {colour}" + (f": {text}" if text else ""),
    )
    # the register's counts are reused for a few seconds; the doctor who confirmed sees hers
    risk_register.forget_counts(db, actor.hospital_id)
    return done


def send_content(
    db: Database,
    actor: Actor,
    pregnancy_id: str,
    *,
    content: str,
    reason: str | None,
    request: str,
    now: datetime,
    on_done: OnDone | None = None,
) -> Done:
    """One ``push`` of an approved content item, due now (see the module)."""
    request = check_request(request)
    why = _reason(reason, required=False)
    name = (content or "").strip()
    if not name:
        raise RecordActionError("content-required", "content")
    with db.transaction() as session:
        pregnancy, patient = find_pregnancy(session, actor, pregnancy_id, now)
        name, _ = approved_version(session, actor.hospital_id, name)
        dialect = session.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        values = manual_push(
            pregnancy.hospital_id,
            pregnancy.id,
            dedupe_key=f"{pregnancy.id}/staff/{request}",
            content=name,
            why=f"sent by {actor.label}" + (f": {why}" if why else ""),
            now=now,
        )
        inserted = session.execute(
            insert(OutboxRow).values(**values).on_conflict_do_nothing().returning(OutboxRow.id)
        ).scalar()
        if inserted is None:
            return Done(True, f"send {name}")
        audit(
            session,
            actor,
            "change",
            now,
            f"her record: sent {name} now" + (f": {why}" if why else ""),
            patient_id=patient.id,
            pregnancy_id=pregnancy.id,
        )
        if on_done is not None:
            on_done(session, pregnancy)
    return Done(False, f"send {name}")


def open_task(
    db: Database,
    actor: Actor,
    pregnancy_id: str,
    *,
    title: str,
    assign: str,
    priority: str,
    due_hours: str | None,
    request: str,
    now: datetime,
) -> Done:
    """A staff task for her, routed as the engine's (see the module; dedupe key
    ``<pregnancy>/staff-task/<request>``)."""
    request = check_request(request)
    text = (title or "").strip()
    if not text:
        raise RecordActionError("title-required", "title")
    if len(text) > _TITLE_LIMIT:
        raise RecordActionError("title-too-long", "title")
    if assign not in ASSIGN:
        raise RecordActionError("bad-assign", "assign")
    if priority not in PRIORITIES:
        raise RecordActionError("bad-priority", "priority")
    due_at = None
    if due_hours:
        if not due_hours.isdigit() or not 1 <= int(due_hours) <= 24 * 90:
            raise RecordActionError("bad-due", "due_hours")
        due_at = now + timedelta(hours=int(due_hours))
    with db.transaction() as session:
        pregnancy, patient = find_pregnancy(session, actor, pregnancy_id, now)
        # routed as the engine's tasks are (care_routing.resolve_rows): for her responsible
        # doctor on that doctor, for a service that service's team, else her team's queue
        team, assignee = care_routing.resolve(session, pregnancy.id, assign, now=now)
        dialect = session.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        inserted = session.execute(
            insert(StaffTask)
            .values(
                hospital_id=pregnancy.hospital_id,
                pregnancy_id=pregnancy.id,
                dedupe_key=f"{pregnancy.id}/staff-task/{request}",
                title=text,
                assign=assign,
                priority=priority,
                due_at=due_at,
                status="open",
                created_at=now,
                script=None,
                form=None,
                team_id=team,
                assignee_id=assignee,
            )
            .on_conflict_do_nothing()
            .returning(StaffTask.id)
        ).scalar()
        if inserted is None:
            return Done(True, f"task {text}")
        audit(
            session,
            actor,
            "change",
            now,
            f"her record: opened task {inserted} {text} ({assign}, {priority})",
            patient_id=patient.id,
            pregnancy_id=pregnancy.id,
        )
    return Done(False, f"task {text}")


def pathway_choices(db: Database, hospital_id: str) -> list[tuple[str, str]]:
    """(id, title) of the pathways of the hospital's library, for the enrol form."""
    with db.reading() as session:
        library = library_for(session, hospital_id)
        return sorted((name, loaded.title) for name, loaded in library.current.items())
