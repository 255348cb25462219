"""The one module that calls the engine: load her State, evaluate, persist what it decided.

``evaluate()`` is pure; this service owns the before and after. It loads the pregnancy's
State (versioned JSON), calls the engine with the trigger and ``now``, then writes, in the
caller's transaction: the new State, enrolments, outbox rows (insert-if-absent on the
unique dedupe key, so re-evaluating never duplicates), cancellations (outbox status), the
tag log, staff tasks and ``next_wakeup``. If the runtime API changes, only this module does.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from datetime import datetime, timedelta
from functools import cache
from types import MappingProxyType
from typing import Any, cast

from sqlalchemy import Row, Table, bindparam, inspect, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from carepath.engine import event_forms
from carepath.engine.event_forms import published_forms
from carepath.engine.facts import Event, Facts, Scorer, apply_event, facts_from_patient
from carepath.engine.forms import make_scorer, make_tagger
from carepath.engine.library import Library
from carepath.engine.plans import PlanNote
from carepath.engine.runtime import Cancellation, Emitted, Evaluation, Settings, State, evaluate
from carepath.engine.spec import parse_duration
from carepath.engine.timing import SendWindow
from carepath.store import care_routing, congratulations, held_content, hospital_settings, loss_hold
from carepath.store.models import (
    DocumentVersion,
    EnrolmentRecord,
    LibraryDocument,
    OutboxRow,
    Pregnancy,
    StaffTask,
    TagLog,
)
from carepath.store.pathways import covering
from carepath.store.state_codec import dump_state, load_state

#: Kinds the dispatcher delivers; the others took effect when decided.
DELIVERED_BY_CHANNEL = frozenset({"push", "questionnaire", "remind"})
_SET_FIELDS = ("tags", "icd10", "visits")
DEFAULT_WINDOW = SendWindow()


@dataclass(frozen=True)
class Decided:
    """What one evaluation wrote: outbox rows of this trigger and the cancellations."""

    actions: tuple[Row[Any], ...]  # the outbox columns of _ANSWERED
    cancelled: tuple[tuple[str, str], ...]  # (dedupe key, status)
    next_wakeup: datetime | None
    repeat: bool = False  # the event said again what her facts held: no event rule fired
    #: Issue 16 item 4: staff requests (plan.*) that changed nothing, for the answer's warnings.
    plan_notes: tuple[PlanNote, ...] = ()


@cache
def _scorer() -> Scorer:
    return make_scorer()


@cache
def settings(window: SendWindow = DEFAULT_WINDOW) -> Settings:
    """Engine settings for a hospital's send window: forms are scored
    (``answers.<form>.score``) like in the dry-run. One per window, built once."""
    return Settings(window=window, scorer=_scorer(), tagger=make_tagger())


def registration_state(pregnancy_id: str, data: Mapping[str, Any], occurred_at: datetime) -> State:
    """The State before her ``patient.registered`` event is evaluated."""
    patient = {**data, "id": pregnancy_id, "enrolled_at": data.get("enrolled_at") or occurred_at.isoformat()}
    return State(facts_from_patient(patient))


def to_event(event_id: str, kind: str, occurred_at: datetime, data: Mapping[str, Any]) -> Event:
    return Event(event_id, kind, occurred_at, MappingProxyType(dict(data)))


def replay_facts(start: Facts, events: Iterable[Event], scorer: Scorer | None = None) -> Facts:
    """Facts after applying external ``events`` in ``occurred_at`` order."""
    facts = start
    for event in sorted(events, key=lambda e: (e.occurred_at, e.id)):
        facts = apply_event(facts, event, scorer)
    return facts


def reorder_facts(result: Facts, naive: Facts, ordered: Facts) -> Facts:
    """Correct facts for a backdated event.

    The engine applies an event on top of the latest facts (``naive`` is what that gives
    from external events alone); ``ordered`` is the replay in ``occurred_at`` order. Where
    they differ the order mattered: a newer lab value stays, a tag removed later stays
    removed. Changes the rules made in ``result`` are kept.
    """
    changes: dict[str, Any] = {}
    for f in fields(Facts):
        before, after = getattr(naive, f.name), getattr(ordered, f.name)
        if before == after:
            continue
        if f.name in _SET_FIELDS:
            current = getattr(result, f.name)
            changes[f.name] = (current - (before - after)) | (after - before)
        else:
            changes[f.name] = after
    return replace(result, **changes) if changes else result


def decide(
    library: Library,
    state: State,
    event: Event | None,
    now: datetime,
    *,
    window: SendWindow,
    forms: frozenset[str] | None = None,
) -> Evaluation:
    """The engine's decision for one trigger in the hospital's send ``window``; pure, nothing
    is written. ``forms``: the published forms a form named by an event must be one of (None:
    the built-in forms)."""
    chosen = settings(window) if forms is None else replace(settings(window), forms=forms)
    return evaluate(library, state, event, now, chosen)


def decide_for(
    session: Session, hospital_id: str, library: Library, state: State, event: Event | None, *, now: datetime
) -> Evaluation:
    """``decide`` in the hospital's send window, with its published forms when needed."""
    window = window_of(session, hospital_id)
    evaluation = decide(library, state, event, now, window=window)
    if any(problem.code == event_forms.CODE for problem in evaluation.problems):
        # A form an event named is not built in: the hospital may have published it (one
        # query, only then); what is still unknown stays a task for the school.
        forms = hospital_forms(session, hospital_id)
        evaluation = decide(library, state, event, now, window=window, forms=forms)
    return evaluation


def hospital_forms(session: Session, hospital_id: str) -> frozenset[str]:
    """The built-in forms and those the hospital has published (issue 16 item 3: a course's
    own exam, named by its ``course.completed``)."""
    own = session.scalars(
        select(LibraryDocument.name)
        .join(DocumentVersion, DocumentVersion.document_id == LibraryDocument.id)
        .where(
            LibraryDocument.hospital_id == hospital_id,
            LibraryDocument.kind == "form",
            DocumentVersion.status == "published",
        )
    )
    return published_forms() | frozenset(own)


def window_of(session: Session, hospital_id: str) -> SendWindow:
    """The hospital's send window, as its settings say (through the settings cache)."""
    return hospital_settings.current(session, hospital_id).window


@dataclass(frozen=True)
class Decision:
    """One evaluated trigger of one pregnancy, waiting to be persisted."""

    pregnancy: Pregnancy
    before: State
    evaluation: Evaluation
    event_row_id: int | None = None


def evaluate_pregnancy(
    session: Session,
    library: Library,
    pregnancy: Pregnancy,
    state: State,
    event: Event | None,
    *,
    now: datetime,
    event_row_id: int | None = None,
    history: Sequence[Event] | None = None,
    start: Facts | None = None,
) -> Decided:
    """Evaluate ``event`` (None: a clock tick) for ``pregnancy`` and persist the outcome.

    ``history`` (earlier external events) and ``start`` (facts before any event) are given
    when the event is backdated, so that facts end as if it had arrived in order.
    """
    library = covering(session, pregnancy.hospital_id, library, state)  # moved by a publish
    evaluation = decide_for(session, pregnancy.hospital_id, library, state, event, now=now)
    if event is not None and history is not None and start is not None:
        scorer = settings().scorer
        naive = apply_event(replay_facts(start, history, scorer), event, scorer)
        ordered = replay_facts(start, [*history, event], scorer)
        facts = reorder_facts(evaluation.state.facts, naive, ordered)
        evaluation = replace(evaluation, state=replace(evaluation.state, facts=facts))
    return persist_many(session, [Decision(pregnancy, state, evaluation, event_row_id)], now)[0]


def persist_many(session: Session, decisions: Sequence[Decision], now: datetime) -> list[Decided]:
    """Write decisions in order, in few statements: a pregnancy's last decision is her state.

    Decisions of one pregnancy must chain (each ``before`` the previous one's new state).
    """
    first: dict[str, Decision] = {}
    last: dict[str, Decision] = {}
    for decision in decisions:
        first.setdefault(decision.pregnancy.id, decision)
        last[decision.pregnancy.id] = decision
    begun: list[dict[str, Any]] = []
    ended: list[dict[str, Any]] = []
    written: list[dict[str, Any]] = []
    for pregnancy_id, decision in last.items():
        pregnancy, evaluation = decision.pregnancy, decision.evaluation
        values = {
            "state": dump_state(evaluation.state),
            "risk_colour": evaluation.state.facts.risk_colour,
            "edd": evaluation.state.facts.edd,  # redating moves it (0026)
            "status": evaluation.state.facts.status,
            "evaluated_at": now,
            "next_wakeup": evaluation.next_wakeup,
            "updated_at": now,
            "last_occurred_at": pregnancy.last_occurred_at,  # the caller's, changed or not
        }
        if inspect(pregnancy).persistent:
            # Issue 22: one Core UPDATE for the page, every column written, changed or not, and
            # her row in the session told it is (no history: no flush writes it again).
            written.append({"written_id": pregnancy.id, **{f"{k}_": v for k, v in values.items()}})
            for name, value in values.items():
                set_committed_value(pregnancy, name, value)
        else:  # new in this transaction: the flush inserts her with these
            for name, value in values.items():
                setattr(pregnancy, name, value)
        _save_enrolments(pregnancy, first[pregnancy_id].before, evaluation.state, begun, ended)
    session.flush()  # Core statements do not autoflush: her new rows, and any other change, first
    if written:
        session.execute(_WRITE_PREGNANCY, written)
    if ended:  # one statement for the page (Core: a row never mirrored is no error, as before)
        table = cast(Table, EnrolmentRecord.__table__)
        session.execute(
            update(table)
            .where(table.c.id == bindparam("ended_id"))
            .values(ended_at=bindparam("ended_at_"), reason=bindparam("reason_")),
            ended,
        )
    _insert_ignore(session, EnrolmentRecord, begun)  # the page's new enrolments in one statement
    for decision in decisions:  # issue 16 item 7: before this trigger's own rows are written
        if decision.evaluation.loss is not None:
            loss_hold.apply(session, decision.pregnancy, decision.evaluation.loss, now)
    rows = _insert_actions(session, [(d.pregnancy, d.evaluation, d.event_row_id) for d in decisions], now)
    for decision in decisions:  # after the rows: nothing celebrating survives a lost baby
        if congratulations.lost_now(
            decision.before.facts, decision.evaluation.state.facts, decision.evaluation.loss
        ):
            congratulations.withdraw(session, decision.pregnancy, now)
    cancel(session, [c for d in decisions for c in d.evaluation.cancellations], now)
    results = []
    for decision in decisions:
        cancelled = [(c.dedupe_key, c.status) for c in decision.evaluation.cancellations]
        answered = tuple(rows[a.dedupe_key] for a in decision.evaluation.actions if a.dedupe_key in rows)
        results.append(
            Decided(
                answered,
                tuple(cancelled),
                decision.evaluation.next_wakeup,
                decision.evaluation.repeat,
                decision.evaluation.plan_notes,
            )
        )
    return results


def cancel(session: Session, cancellations: Sequence[Cancellation], now: datetime) -> list[tuple[str, str]]:
    """Record the engine's cancellations: a row not yet sent (due, or held for unapproved
    content) ends cancelled or replaced, and its staff task with it; (dedupe key, status).
    A page's cancellations are two statements, in order (an executemany and one UPDATE)."""
    if not cancellations:
        return []
    outbox = cast(Table, OutboxRow.__table__)
    session.flush()  # a Core statement does not autoflush: what the ORM holds goes first
    session.execute(
        update(outbox)
        .where(
            outbox.c.dedupe_key == bindparam("cancelled_key"),
            or_(outbox.c.status == "due", outbox.c.status == held_content.HELD),  # no IN in executemany
        )
        .values(
            status=bindparam("status_"),
            status_reason=bindparam("reason_"),
            replaced_by=bindparam("replaced_by_"),
            updated_at=now,
        ),
        [
            {
                "cancelled_key": c.dedupe_key,
                "status_": c.status,
                "reason_": c.reason,
                "replaced_by_": c.replaced_by,
            }
            for c in cancellations
        ],
    )
    session.execute(
        update(StaffTask)
        .where(
            StaffTask.dedupe_key.in_({c.dedupe_key for c in cancellations}),
            StaffTask.status == "open",
        )
        .values(status="cancelled")
    )
    return [(c.dedupe_key, c.status) for c in cancellations]


def load(pregnancy: Pregnancy) -> State:
    return load_state(pregnancy.state)


#: The pregnancy columns ``persist_many`` writes, in one statement built once (Core, executemany).
_WRITTEN = (
    "state",
    "risk_colour",
    "edd",
    "status",
    "evaluated_at",
    "next_wakeup",
    "updated_at",
    "last_occurred_at",
)
_PREGNANCIES = cast(Table, Pregnancy.__table__)
_WRITE_PREGNANCY = (
    update(_PREGNANCIES)
    .where(_PREGNANCIES.c.id == bindparam("written_id"))
    .values({name: bindparam(f"{name}_") for name in _WRITTEN})
)


def _save_enrolments(
    pregnancy: Pregnancy,
    before: State,
    after: State,
    added: list[dict[str, Any]],
    ended: list[dict[str, Any]],
) -> None:
    """The enrolments that began (rows to insert: ``added``) or ended (``ended``: by primary key),
    for the caller to write with the other pregnancies' at once. The State is the source; no
    read is needed."""
    previous = {e.id: e for e in before.enrolments}
    for enrolment in after.enrolments:
        old = previous.get(enrolment.id)
        if old is None:
            added.append(
                {
                    "id": enrolment.id,
                    "hospital_id": pregnancy.hospital_id,
                    "pregnancy_id": pregnancy.id,
                    "pathway_id": enrolment.pathway_id,
                    "version": enrolment.version,
                    "started_at": enrolment.started_at,
                    "ended_at": enrolment.ended_at,
                    "reason": enrolment.reason,
                }
            )
        elif old.ended_at != enrolment.ended_at:
            ended.append(
                {"ended_id": enrolment.id, "ended_at_": enrolment.ended_at, "reason_": enrolment.reason}
            )


def _insert_ignore(session: Session, model: Any, values: list[dict[str, Any]]) -> None:
    """INSERT ... ON CONFLICT DO NOTHING: the unique dedupe key decides, never a read first.
    Rows of one batch go in one statement (each row sets every column, a None as NULL)."""
    if values:
        session.execute(_ignoring(session.get_bind().dialect.name, model.__table__), values)


@cache
def _ignoring(dialect: str, table: Table, *returning: str) -> Any:
    """``INSERT ... ON CONFLICT DO NOTHING [RETURNING ...]`` into ``table``, built once per
    dialect (issue 22: a Core statement of the table, not the ORM's bulk insert of its class,
    which costs an event more than the statement; nothing here needs the ORM: no object of
    these rows is in the session)."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(table).on_conflict_do_nothing()
    return statement.returning(*(table.c[name] for name in returning)) if returning else statement


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(v) for v in value]
    return value


def _insert_actions(
    session: Session,
    batches: Sequence[tuple[Pregnancy, Evaluation, int | None]],
    now: datetime,
) -> dict[str, Any]:
    """Outbox rows (insert-if-absent), staff tasks and the tag log; dedupe key -> answered row."""
    outbox: list[dict[str, Any]] = []
    tasks: list[dict[str, Any]] = []
    tags: list[dict[str, Any]] = []
    for pregnancy, evaluation, event_row_id in batches:
        for action in evaluation.actions:
            fired = evaluation.fired_at.get(action.dedupe_key)
            _action_rows(
                pregnancy,
                action,
                now=now,
                fired=fired,
                event_row_id=event_row_id,
                outbox=outbox,
                tasks=tasks,
                tags=tags,
            )
    # Issue 20: each task's queue and person, from the care rows of the whole batch at once.
    care_routing.resolve_rows(session, tasks, now)
    _insert_ignore(session, StaffTask, tasks)
    _insert_ignore(session, TagLog, tags)
    if not outbox:
        return {}
    table = cast(Table, OutboxRow.__table__)
    statement = _ignoring(session.get_bind().dialect.name, table, *(column.key for column in _ANSWERED))
    inserted = session.execute(statement, outbox).all()
    found: dict[str, Any] = {row.dedupe_key: row for row in inserted}
    missing = [row["dedupe_key"] for row in outbox if row["dedupe_key"] not in found]
    if missing:  # decided before (a re-evaluation): the stored rows answer
        found.update(
            (row.dedupe_key, row)
            for row in session.execute(select(*_ANSWERED).where(OutboxRow.dedupe_key.in_(missing)))
        )
    return found


def _action_rows(
    pregnancy: Pregnancy,
    action: Emitted,
    *,
    now: datetime,
    fired: datetime | None,
    event_row_id: int | None,
    outbox: list[dict[str, Any]],
    tasks: list[dict[str, Any]],
    tags: list[dict[str, Any]],
) -> None:
    params = _plain(action.params)
    # Issue 16 item 11: a message to her is due (her inbox copy filed) when it fires; only the
    # external notice waits for the time the engine placed in the send window.
    outbox.append(
        {
            "hospital_id": pregnancy.hospital_id,
            "pregnancy_id": pregnancy.id,
            "dedupe_key": action.dedupe_key,
            "pathway_id": action.pathway_id,
            "version": action.version,
            "rule_id": action.rule_id,
            "kind": action.kind,
            "params": params,
            "due_at": fired or action.at,
            "next_attempt_at": action.at if fired else None,
            "status_reason": NOTICE_WAITS if fired else None,
            "slot": action.slot,
            "channels": list(action.channels),
            "enrolment_id": action.enrolment_id,
            "why": action.why,
            "status": "due" if action.kind in DELIVERED_BY_CHANNEL else "applied",
            "attempts": 0,
            "event_row_id": event_row_id,
            "created_at": now,
            "updated_at": now,
        }
    )
    if action.kind == "task":
        due = params.get("due")
        tasks.append(
            {
                "hospital_id": pregnancy.hospital_id,
                "pregnancy_id": pregnancy.id,
                "dedupe_key": action.dedupe_key,
                "title": str(params.get("title", action.rule_id)),
                "assign": str(params.get("assign", "")),
                "priority": str(params.get("priority", "normal")),
                "due_at": action.at + parse_duration(due) if isinstance(due, str) else None,
                "status": "open",
                "form": str(params["form"]) if params.get("form") else None,  # the outcome form
                "script": str(params["script"]) if params.get("script") else None,  # e.g. a call script
                "created_at": now,
            }
        )
    elif action.kind == "tag":
        by = f"rule {action.pathway_id}@{action.version}/{action.rule_id}"
        for operation in ("add", "remove"):
            for tag in params.get(operation, ()):
                tags.append(
                    {
                        "hospital_id": pregnancy.hospital_id,
                        "pregnancy_id": pregnancy.id,
                        "tag": tag,
                        "operation": operation,
                        "by": by,
                        "why": action.why,
                        "dedupe_key": f"{action.dedupe_key}:{operation}:{tag}",
                        "at": action.at,
                    }
                )


#: Why a fired message's notice waits (the delivery policy's word for a window hold).
NOTICE_WAITS = "outside-window"

#: The outbox columns an event's answer shows.
_ANSWERED = (
    OutboxRow.id,
    OutboxRow.dedupe_key,
    OutboxRow.pathway_id,
    OutboxRow.version,
    OutboxRow.rule_id,
    OutboxRow.kind,
    OutboxRow.due_at,
    OutboxRow.status,
)


def due_for_wakeup(session: Session, now: datetime, limit: int = 500) -> list[str]:
    """Pregnancies whose ``next_wakeup`` has come (for the scheduler's sweep)."""
    return list(
        session.scalars(
            select(Pregnancy.id)
            .where(Pregnancy.next_wakeup <= now + timedelta(seconds=0))
            .order_by(Pregnancy.next_wakeup)
            .limit(limit)
        )
    )
