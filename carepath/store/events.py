"""HIS events: record once, apply to her facts, evaluate, answer with the actions.

One event is one transaction: the event row (unique on integrator + event id), the patient
and pregnancy it names (created only by ``patient.registered``), its side records
(diagnoses, dating, responses, tag log), the evaluation and its outbox rows. The same id
with the same body answers 200 with the stored answer and changes nothing; the same id with
another body is a conflict.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar, cast

from sqlalchemy import Table, bindparam, inspect, select, update
from sqlalchemy import insert as plain_insert
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from carepath.engine import plans
from carepath.engine.facts import Facts
from carepath.errors import CarepathError
from carepath.store import care_routing, evaluation, icd10
from carepath.store.crypto import FieldCipher
from carepath.store.db import Database
from carepath.store.event_input import HisEvent, check_pathway, parse_event
from carepath.store.event_patients import resolve
from carepath.store.models import (
    DatingRecord,
    Diagnosis,
    EventRecord,
    Patient,
    Pregnancy,
    QuestionnaireResponse,
    TagLog,
)
from carepath.store.models_sources import Source
from carepath.store.pathways import library_for
from carepath.store.scope import Actor, audit_now

T = TypeVar("T")


class EventConflictError(CarepathError):
    code = "event-conflict"


class EvaluationFailedError(CarepathError):
    """The engine refused this event for her (an impossible dating, a loop of rules)."""

    code = "evaluation-failed"


@dataclass(frozen=True)
class Answer:
    status: int  # 201 processed now, 200 a replay of the same event
    body: dict[str, Any]


@dataclass(frozen=True)
class Recorded:
    """``record``'s outcome: the answer and, when processed now, what it wrote for her (her
    rows, the event's row id, and whether her patient row is new in this transaction)."""

    answer: Answer
    patient: Patient | None = None
    pregnancy: Pregnancy | None = None
    row_id: int | None = None
    new_patient: bool = False


def post_event(db: Database, cipher: FieldCipher, actor: Actor, raw: Any, now: datetime) -> Answer:
    """Check, record and evaluate one posted event (see the module docstring)."""
    return post_parsed(db, cipher, actor, parse_event(raw, now), now)


def post_parsed(
    db: Database,
    cipher: FieldCipher,
    actor: Actor,
    event: HisEvent,
    now: datetime,
    *,
    first: Callable[[Session], None] | None = None,
) -> Answer:
    """``post_event`` for an event its caller has checked already (the API: one check).
    ``first``: run first in the event's transaction (the API's nonce claim, issue 22)."""
    return retrying(db, lambda session: process(session, cipher, actor, event, now), first=first)


def retrying(
    db: Database, work: Callable[[Session], T], *, first: Callable[[Session], None] | None = None
) -> T:
    """Run ``work`` in a transaction; a unique-key race with a concurrent twin retries once.
    ``first`` runs before it in each attempt's transaction."""
    for attempt in range(3):
        try:
            with db.transaction() as session:
                if first is not None:
                    first(session)
                return work(session)
        except IntegrityError:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def process(
    session: Session,
    cipher: FieldCipher,
    actor: Actor,
    event: HisEvent,
    now: datetime,
    *,
    resolved: tuple[Patient, Pregnancy] | None = None,
) -> Answer:
    """Record and evaluate ``event`` in the caller's transaction. ``resolved``: her patient and
    pregnancy rows (locked) when the caller found them already, e.g. by carepath's pregnancy id."""
    return record(session, cipher, actor, event, now, resolved=resolved).answer


def record(
    session: Session,
    cipher: FieldCipher,
    actor: Actor,
    event: HisEvent,
    now: datetime,
    *,
    resolved: tuple[Patient, Pregnancy] | None = None,
    scored: Mapping[str, Any] | None = None,
    source: Source | None = None,
) -> Recorded:
    """``process``, telling the caller what it wrote (``Recorded``). ``scored``: the score of a
    ``questionnaire.submitted`` event's response, written with the response's row. ``source``:
    where she came from, when the event registers her (her team and doctor, ``care_routing``)."""
    integrator_id = int(actor.id)
    # Insert first: the unique (integrator, event id) decides. A concurrent twin makes this
    # wait for the first one's commit and then find its row, never a duplicate.
    row_id = session.execute(
        _RECORD[session.get_bind().dialect.name],
        {
            "hospital_id": actor.hospital_id,
            "integrator_id": integrator_id,
            "event_id": event.id,
            "body_hash": event.body_hash,
            "type": event.type,
            "occurred_at": event.occurred_at,
            "received_at": now,
            "pregnancy_id": None,  # set with the answer, once she is resolved
            "data": event.data,
            "answer": {},
        },
    ).scalar()
    if row_id is None:
        existing = session.execute(
            select(EventRecord.body_hash, EventRecord.answer).where(
                EventRecord.integrator_id == integrator_id, EventRecord.event_id == event.id
            )
        ).one()
        if existing.body_hash == event.body_hash:
            return Recorded(Answer(200, existing.answer))
        raise EventConflictError(
            f"event {event.id!r} was already received with a different body; "
            "send a new id for a new event, the same body for a retry"
        )
    library = library_for(session, actor.hospital_id)
    check_pathway(event, library.current)  # a staff request names a pathway of the library
    if resolved is None:
        found = resolve(session, cipher, actor, event, now)
        patient, pregnancy, created, new_patient = (
            found.patient, found.pregnancy, found.new_pregnancy, found.new_patient
        )  # fmt: skip
    else:
        (patient, pregnancy), created, new_patient = resolved, False, False
    if created:  # issue 20: her team (and doctor) before her first tasks are routed
        care_routing.place_at_registration(session, pregnancy, now, source=source)

    engine_event = evaluation.to_event(event.id, event.type, event.occurred_at, event.data)
    if created:
        state = evaluation.registration_state(pregnancy.id, event.data, event.occurred_at)
    else:
        state = evaluation.load(pregnancy)
    history = start = None
    if pregnancy.last_occurred_at is not None and event.occurred_at < pregnancy.last_occurred_at:
        history = [
            evaluation.to_event(r.event_id, r.type, r.occurred_at, r.data)
            for r in session.scalars(
                select(EventRecord).where(EventRecord.pregnancy_id == pregnancy.id, EventRecord.id != row_id)
            )
        ]
        start = Facts(pregnancy_id=pregnancy.id, enrolled_at=state.facts.enrolled_at)
    if pregnancy.last_occurred_at is None or event.occurred_at > pregnancy.last_occurred_at:
        # Written with her new state, one statement (``persist_many`` writes the attribute's
        # value): not a change for the session to flush (issue 22: her row stays clean).
        if inspect(pregnancy).persistent:
            set_committed_value(pregnancy, "last_occurred_at", event.occurred_at)
        else:  # new: inserted with it
            pregnancy.last_occurred_at = event.occurred_at
    try:
        decided = evaluation.evaluate_pregnancy(
            session,
            library,
            pregnancy,
            state,
            engine_event,
            now=now,
            event_row_id=row_id,
            history=history,
            start=start,
        )
    except CarepathError as exc:
        raise EvaluationFailedError(f"{exc.code}: {exc.message}") from exc
    except ValueError as exc:  # a value the checks let through and the engine cannot use
        raise EvaluationFailedError(f"bad-value: {exc}") from exc
    warnings = side_records(session, pregnancy, event, row_id, now, scored=scored)
    _log_answer_tags(session, pregnancy, event, before=state.facts.tags)
    if decided.repeat:
        warnings.append(repeat_warning(event))
    warnings += [plan_warning(note) for note in decided.plan_notes]
    audit_now(
        session,
        actor,
        "change",
        now,
        f"event {event.id} {event.type}"
        + (" (repeat: recorded, no rule fired)" if decided.repeat else "")
        + plan_detail(event, decided.plan_notes),
        patient_id=patient.id,
        pregnancy_id=pregnancy.id,
    )
    answer = answer_body(event.id, patient.his_patient_id, pregnancy.id, decided, warnings)
    session.execute(_ANSWER, {"row_id": row_id, "answer_": answer, "pregnancy_id_": pregnancy.id})
    return Recorded(Answer(201, answer), patient, pregnancy, row_id, new_patient)


#: Issue 22: the event row's two statements, built once (Core: no ORM bulk path, no autoflush;
#: her changed rows are flushed by the commit).
_EVENTS = cast(Table, EventRecord.__table__)
_RECORD = {
    "postgresql": postgresql.insert(_EVENTS).on_conflict_do_nothing().returning(_EVENTS.c.id),
    "sqlite": sqlite.insert(_EVENTS).on_conflict_do_nothing().returning(_EVENTS.c.id),
}
_ANSWER = (
    update(_EVENTS)
    .where(_EVENTS.c.id == bindparam("row_id"))
    .values(answer=bindparam("answer_"), pregnancy_id=bindparam("pregnancy_id_"))
)


def _log_answer_tags(
    session: Session, pregnancy: Pregnancy, event: HisEvent, *, before: frozenset[str]
) -> None:
    """Issue 17 item 4: the tags her answers carried (the engine added them to her facts in
    this evaluation: runtime ``_answer_tags``) get their tag-log line, naming the response."""
    if event.type != "questionnaire.submitted":
        return
    tagger = evaluation.settings().tagger
    if tagger is None:
        return
    form = str(event.data.get("form", ""))
    for tag in tagger(form, event.data.get("answers") or {}):
        if tag not in before:
            session.add(
                TagLog(
                    hospital_id=pregnancy.hospital_id,
                    pregnancy_id=pregnancy.id,
                    tag=tag,
                    operation="add",
                    by=f"event {event.id}",
                    why=f"answer to form {form}",
                    dedupe_key=None,
                    at=event.occurred_at,
                )
            )


def repeat_warning(event: HisEvent) -> dict[str, str]:
    """The answer's note that the event said again what her record held (docs/language.md,
    "Repeats"): recorded and audited, but no new occurrence, so no rule on it fired."""
    if event.type == "diagnosis.added":
        code = str(event.data["code"])
        return {
            "code": "repeat",
            "icd10": code,
            "message": f"{code} is already an active diagnosis of this pregnancy; "
            "recorded, but no rule fired again",
            "message_zh": f"{code} 已是本次妊娠的在用诊断；已记录，不再重复触发规则",
        }
    if event.type == "medication.prescribed":  # issue 16 item 9: a repeat prescription
        medication = str(event.data["code"])
        return {
            "code": "repeat",
            "medication": medication,
            "message": f"{medication} is already an active medication of this pregnancy; "
            "recorded, but no rule fired again",
            "message_zh": f"{medication} 已在使用中；已记录，不再重复触发规则",
        }
    tag = str(event.data.get("tag", ""))
    return {
        "code": "repeat",
        "message": f"she already has the tag {tag}; recorded, but no rule fired again",
        "message_zh": f"她已有标签 {tag}；已记录，不再重复触发规则",
    }


#: Issue 16 item 4: a staff request that changed nothing, in the answer's words.
_PLAN_WORDS = {
    plans.ALREADY_ENROLLED: (
        "she is already enrolled in {pathway}; nothing new was started",
        "她已在路径 {pathway} 中，未重复入组",
    ),
    plans.NOT_ENROLLED: (
        "she is not enrolled in {pathway}; there was nothing to end",
        "她不在路径 {pathway} 中，无需结束",
    ),
    plans.EXIT_HOLDS: (
        "the exit condition of {pathway} already holds for her; she was not enrolled",
        "她已满足路径 {pathway} 的退出条件，未入组",
    ),
}


def plan_warning(note: plans.PlanNote) -> dict[str, str]:
    """The answer's note that a staff request changed nothing (docs/integrators.md)."""
    english, chinese = _PLAN_WORDS[note.code]
    return {
        "code": note.code,
        "pathway": note.pathway,
        "message": english.format(pathway=note.pathway),
        "message_zh": chinese.format(pathway=note.pathway),
    }


def plan_detail(event: HisEvent, notes: tuple[plans.PlanNote, ...]) -> str:
    """The audit's words for a staff request: which pathway, who asked, what came of it."""
    if event.type not in plans.REQUESTS:
        return ""
    outcome = f"; {notes[0].code}" if notes else ""
    return f" {event.data['pathway']} (requested by {event.data['requested_by']}{outcome})"


def answer_body(
    event_id: str,
    his_id: str | None,
    pregnancy_id: str,
    decided: evaluation.Decided,
    warnings: list[dict[str, str]] | None = None,
) -> dict[str, Any]:
    """What the integrator is told: the actions this event produced, what it cancelled, and
    warnings about what it carried (``icd10-unknown``)."""
    return {
        "event": event_id,
        "patient": his_id,
        "pregnancy": pregnancy_id,
        "actions": [
            {
                "id": row.id,
                "pathway": row.pathway_id,
                "version": row.version,
                "rule": row.rule_id,
                "action": row.kind,
                "at": row.due_at.isoformat(),
                "status": row.status,
                "dedupe_key": row.dedupe_key,
            }
            for row in decided.actions
        ],
        "cancelled": [{"dedupe_key": key, "status": status} for key, status in decided.cancelled],
        "next_wakeup": decided.next_wakeup.isoformat() if decided.next_wakeup else None,
        "warnings": warnings or [],
    }


class SideRows:
    """The side records of a batch's events, gathered to be inserted one statement per table
    (issue 22 item 1; SQLite's driver would otherwise get them one by one from the flush)."""

    def __init__(self) -> None:
        self.rows: dict[Any, list[dict[str, Any]]] = {}

    def add(self, model: Any, values: dict[str, Any]) -> None:
        self.rows.setdefault(model, []).append(values)

    def write(self, session: Session) -> None:
        for model, rows in self.rows.items():
            session.execute(plain_insert(model), rows, execution_options={"render_nulls": True})
        self.rows.clear()


def side_records(
    session: Session,
    pregnancy: Pregnancy,
    event: HisEvent,
    event_row_id: int,
    now: datetime,
    *,
    scored: Mapping[str, Any] | None = None,
    codes: Mapping[str, icd10.CodeInfo] | None = None,
    rows: SideRows | None = None,
) -> list[dict[str, str]]:
    """The readable history beside the facts: diagnoses (with their WHO code), datings,
    responses (with their ``scored`` score when the caller has it), tag log. Returns the
    warnings for the answer (an ICD-10 code no WHO code is known for: kept as received, never
    refused; the parse's own, about her ID number). ``codes``: the codes' descriptions when the
    caller read them already (a batch reads its diagnoses' codes in one query); ``rows``: where
    a batch gathers the records of its events, to insert them one statement per table."""
    data = event.data

    def put(model: Any, **values: Any) -> None:
        if rows is None:
            session.add(model(**values))
        else:
            rows.add(model, values)

    common = {"hospital_id": pregnancy.hospital_id, "pregnancy_id": pregnancy.id}
    warnings: list[dict[str, str]] = list(event.warnings)

    def add_diagnosis(code: str, name: str | None) -> None:
        known = codes.get(code) if codes else None
        info = known or icd10.describe(session, pregnancy.hospital_id, code)
        warning = icd10.warning_for(info)
        if warning is not None:
            warnings.append(warning)
        put(
            Diagnosis,
            **common,
            code=code,
            name=name or info.name,
            who_code=info.who_code,
            added_at=event.occurred_at,
            removed_at=None,
            event_row_id=event_row_id,
        )

    if event.type == "diagnosis.added":
        add_diagnosis(data["code"], data.get("name"))
    elif event.type == "diagnosis.removed":  # one statement, no read first (issue 22 item 3)
        if rows is not None:
            rows.write(session)  # a diagnosis an earlier event of the batch added ends too
        session.execute(
            update(Diagnosis)
            .where(
                Diagnosis.pregnancy_id == pregnancy.id,
                Diagnosis.code == data["code"],
                Diagnosis.removed_at.is_(None),
            )
            .values(removed_at=event.occurred_at)
            .execution_options(synchronize_session=False)
        )
    elif event.type == "questionnaire.submitted":
        put(
            QuestionnaireResponse,
            **common,
            form=data["form"],
            answers=data.get("answers") or {},
            submitted_at=event.occurred_at,
            event_row_id=event_row_id,
            **({"score": dict(scored)} if scored is not None else {}),  # never a JSON null
        )
    elif event.type in ("tag.added", "tag.removed"):
        put(
            TagLog,
            **common,
            tag=data["tag"],
            operation="add" if event.type == "tag.added" else "remove",
            by=f"event {event.id}",
            why=f"posted by the HIS ({event.type})",
            dedupe_key=None,
            at=event.occurred_at,
        )
    dated = {"recorded_at": now, "event_row_id": event_row_id}
    if event.type == "dating.ultrasound":
        put(DatingRecord, **common, method="ultrasound", data=data, **dated)
    elif event.type in ("patient.registered", "patient.updated"):
        for method in ("lmp", "ultrasound", "ivf", "edd"):
            if method in data:
                keep = {k: data[k] for k in (method, "cycle_length") if k in data}
                put(DatingRecord, **common, method=method, data=keep, **dated)
        for diagnosis in data.get("diagnoses", ()):
            add_diagnosis(diagnosis["code"], diagnosis.get("name"))
    return warnings


def status_of(error: CarepathError) -> int:
    """The HTTP status an error of this service means (the API translates once, here and there)."""
    return 409 if isinstance(error, EventConflictError) else 422


def problem_of(error: CarepathError) -> dict[str, Any]:
    problem: dict[str, Any] = {"code": error.code, "detail": error.message}
    problems = getattr(error, "problems", None)
    if problems:
        problem["errors"] = [p.as_json() for p in problems]
    return problem
