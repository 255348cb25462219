"""Batches of HIS events: each item answered on its own, the whole processed in few statements.

Items are checked one by one and processed in chunks of ``BATCH_CHUNK``, each chunk one
transaction. A chunk of ongoing care events (labs, visits, diagnoses ... for women already
registered, none backdated, no identity change) takes the *grouped* path: everything it
needs is read in four queries, each pregnancy's state is loaded once and evaluated event
after event in memory, and all it decided is written in a handful of statements. Any other
chunk takes the *itemwise* path: a savepoint per item, exactly as single events. If a
chunk's transaction fails as a whole (a deadlock, a unique-key race with a concurrent
twin), its items are processed again one transaction each; replays make that harmless.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, insert, or_, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from carepath.engine import loss, plans
from carepath.engine.runtime import State
from carepath.errors import CarepathError
from carepath.store import evaluation, event_patients, events, icd10
from carepath.store.crypto import FieldCipher
from carepath.store.db import Database
from carepath.store.event_input import HisEvent, parse_event
from carepath.store.models import AuditEntry, EventRecord, Patient, Pregnancy
from carepath.store.pathways import covering, library_for
from carepath.store.scope import Actor, owned

#: Events of a batch committed together: fewer commits (each waits for the disk), short locks.
BATCH_CHUNK = 100


def post_batch(
    db: Database, cipher: FieldCipher, actor: Actor, items: list[Any], now: datetime
) -> list[dict[str, Any]]:
    """One result (``status`` and ``result``, or ``status`` and ``problem``) per item, in order.
    An item is the posted JSON, or the event its caller has checked already (``HisEvent``: the
    API checks each by one schema, issue 22 item 3)."""
    results: list[dict[str, Any]] = []
    for start in range(0, len(items), BATCH_CHUNK):
        chunk = items[start : start + BATCH_CHUNK]
        try:
            with db.transaction() as session:
                grouped = _grouped(session, cipher, actor, chunk, now)
                results += grouped if grouped is not None else _itemwise(session, cipher, actor, chunk, now)
        except DBAPIError:
            results += [_one(db, cipher, actor, raw, now) for raw in chunk]
    return [{**result, "index": index} for index, result in enumerate(results)]


def _problem(error: CarepathError) -> dict[str, Any]:
    return {"status": events.status_of(error), "problem": events.problem_of(error)}


def _event_of(raw: Any, now: datetime) -> HisEvent:
    return raw if isinstance(raw, HisEvent) else parse_event(raw, now)


def _one(db: Database, cipher: FieldCipher, actor: Actor, raw: Any, now: datetime) -> dict[str, Any]:
    try:
        answer = events.post_parsed(db, cipher, actor, _event_of(raw, now), now)
    except CarepathError as exc:
        return _problem(exc)
    return {"status": answer.status, "result": answer.body}


def _itemwise(
    session: Session, cipher: FieldCipher, actor: Actor, chunk: list[Any], now: datetime
) -> list[dict[str, Any]]:
    _lock_in_order(session, cipher, actor, chunk)
    results = []
    for raw in chunk:
        try:
            event = _event_of(raw, now)
            with session.begin_nested():
                answer = events.process(session, cipher, actor, event, now)
        except CarepathError as exc:
            results.append(_problem(exc))
        else:
            results.append({"status": answer.status, "result": answer.body})
    return results


def _named(cipher: FieldCipher, chunk: list[Any]) -> tuple[set[str], set[str]]:
    his_ids, hashes = set(), set()
    for raw in chunk:
        if isinstance(raw, HisEvent):
            if raw.his_id is not None:
                his_ids.add(raw.his_id)
            if raw.id_number is not None:
                hashes.add(cipher.lookup_hash("id", raw.id_number))
            continue
        patient = raw.get("patient") if isinstance(raw, dict) else None
        if isinstance(patient, dict):
            if isinstance(patient.get("his_id"), str):
                his_ids.add(patient["his_id"])
            if isinstance(patient.get("id_number"), str):
                hashes.add(cipher.lookup_hash("id", patient["id_number"].upper()))
    return his_ids, hashes


def _lock_in_order(session: Session, cipher: FieldCipher, actor: Actor, chunk: list[Any]) -> list[Pregnancy]:
    """Lock every pregnancy the chunk names, in id order, before touching any.

    Two concurrent batches then wait for each other instead of deadlocking (PostgreSQL would
    find the deadlock only after a second and abort a whole chunk). SQLite's BEGIN IMMEDIATE
    already runs writers one at a time. ``FOR NO KEY UPDATE``: no id changes, so a dispatcher's
    claim filing her inbox copy (its foreign-key check's ``KEY SHARE``) does not wait for the
    chunk, nor the chunk for the claim.
    """
    his_ids, hashes = _named(cipher, chunk)
    named = owned(select(Patient.id), Patient, actor).where(
        or_(Patient.his_patient_id.in_(his_ids), Patient.id_number_hash.in_(hashes)),
    )
    return list(
        session.scalars(
            select(Pregnancy)
            .where(Pregnancy.patient_id.in_(named))
            .order_by(Pregnancy.id)
            .with_for_update(key_share=True)
        )
    )


@dataclass
class _Item:
    """One chunk item on the grouped path, and what became of it."""

    raw: Any
    event: HisEvent | None = None
    result: dict[str, Any] | None = None
    same_as: int | None = None  # an earlier item of the chunk with the same id and body
    patient: Patient | None = None
    pregnancy: Pregnancy | None = None
    decision: int | None = None  # index into the decisions


class _NotGroupedError(Exception):
    """This chunk needs the itemwise path (a registration, a backdated event ...)."""


def _grouped(
    session: Session, cipher: FieldCipher, actor: Actor, chunk: list[Any], now: datetime
) -> list[dict[str, Any]] | None:
    try:
        return _grouped_or_raise(session, cipher, actor, chunk, now)
    except _NotGroupedError:
        return None


def _grouped_or_raise(
    session: Session, cipher: FieldCipher, actor: Actor, chunk: list[Any], now: datetime
) -> list[dict[str, Any]]:
    items = [_Item(raw) for raw in chunk]
    for item in items:
        try:
            item.event = _event_of(item.raw, now)
        except CarepathError as exc:
            item.result = _problem(exc)
            continue
        if item.event.type.startswith("patient.") or item.event.phone or item.event.name:
            raise _NotGroupedError
        if item.event.type in plans.REQUESTS:
            raise _NotGroupedError  # a staff request: checked and answered by events.process
        if item.event.type in loss.EVENTS:
            raise _NotGroupedError  # issue 16 item 7: its cancellations come before its own rows
    integrator_id = int(actor.id)
    ids = [i.event.id for i in items if i.event is not None]
    stored = {
        row.event_id: row
        for row in session.execute(
            select(EventRecord.event_id, EventRecord.body_hash, EventRecord.answer).where(
                EventRecord.integrator_id == integrator_id, EventRecord.event_id.in_(ids)
            )
        )
    }
    pregnancies = _lock_in_order(session, cipher, actor, chunk)  # reads (and locks) them
    his_ids, hashes = _named(cipher, chunk)
    patients = list(
        session.scalars(
            owned(select(Patient), Patient, actor).where(
                or_(Patient.his_patient_id.in_(his_ids), Patient.id_number_hash.in_(hashes)),
            )
        )
    )
    by_his = {p.his_patient_id: p for p in patients if p.his_patient_id}
    by_hash = {p.id_number_hash: p for p in patients if p.id_number_hash}
    of_patient: dict[int, list[Pregnancy]] = {}
    for pregnancy in sorted(pregnancies, key=lambda p: p.number):
        of_patient.setdefault(pregnancy.patient_id, []).append(pregnancy)
    library = library_for(session, actor.hospital_id)

    states: dict[str, State] = {}
    latest: dict[str, datetime | None] = {}
    decisions: list[evaluation.Decision] = []
    first_of: dict[str, int] = {}
    for index, item in enumerate(items):
        event = item.event
        if event is None:
            continue
        if event.id in stored:
            row = stored[event.id]
            item.result = (
                {"status": 200, "result": row.answer}
                if row.body_hash == event.body_hash
                else _problem(
                    events.EventConflictError(
                        f"event {event.id!r} was already received with a different body"
                    )
                )
            )
            continue
        if event.id in first_of:
            earlier = items[first_of[event.id]]
            assert earlier.event is not None
            if earlier.event.body_hash != event.body_hash:
                item.result = _problem(
                    events.EventConflictError(f"event {event.id!r} is twice in this batch")
                )
            else:
                item.same_as = first_of[event.id]
            continue
        first_of[event.id] = index
        digest = cipher.lookup_hash("id", event.id_number) if event.id_number else None
        patient = by_his.get(event.his_id) if event.his_id else None
        if patient is None and digest is not None:
            patient = by_hash.get(digest)
            try:
                event_patients.check_same_woman(patient, event)
            except CarepathError as exc:
                item.result = _problem(exc)
                continue
        if patient is None:
            item.result = _problem(
                event_patients.UnknownPatientError(
                    "no patient with this his_id or id_number in your hospital"
                )
            )
            continue
        if digest is not None and patient.id_number_hash != digest:
            raise _NotGroupedError  # an ID number to record: the itemwise path does it
        candidates = of_patient.get(patient.id, [])
        if event.pregnancy is not None:
            candidates = [p for p in candidates if p.his_pregnancy_id == event.pregnancy]
        if not candidates:
            item.result = _problem(event_patients.UnknownPregnancyError("no such pregnancy for this patient"))
            continue
        pregnancy = candidates[-1]
        last = latest.get(pregnancy.id, pregnancy.last_occurred_at)
        if last is not None and event.occurred_at < last:
            raise _NotGroupedError  # backdated: the itemwise path replays her history
        before = states.get(pregnancy.id) or evaluation.load(pregnancy)
        engine_event = evaluation.to_event(event.id, event.type, event.occurred_at, event.data)
        library = covering(session, actor.hospital_id, library, before)  # moved by a publish
        try:
            decided = evaluation.decide_for(
                session, actor.hospital_id, library, before, engine_event, now=now
            )
        except CarepathError as exc:
            item.result = _problem(events.EvaluationFailedError(f"{exc.code}: {exc.message}"))
            continue
        except ValueError as exc:
            item.result = _problem(events.EvaluationFailedError(f"bad-value: {exc}"))
            continue
        states[pregnancy.id] = decided.state
        latest[pregnancy.id] = event.occurred_at if last is None else max(last, event.occurred_at)
        item.patient, item.pregnancy = patient, pregnancy
        item.decision = len(decisions)
        decisions.append(evaluation.Decision(pregnancy, before, decided))

    new = [i for i in items if i.decision is not None]
    if new:
        rows = session.execute(
            insert(EventRecord).returning(EventRecord.id, EventRecord.event_id),
            [
                {
                    "hospital_id": actor.hospital_id,
                    "integrator_id": integrator_id,
                    "event_id": i.event.id,
                    "body_hash": i.event.body_hash,
                    "type": i.event.type,
                    "occurred_at": i.event.occurred_at,
                    "received_at": now,
                    "pregnancy_id": i.pregnancy.id,
                    "data": i.event.data,
                    "answer": {},
                }
                for i in new
                if i.event is not None and i.pregnancy is not None
            ],
        ).all()
        row_ids = {row.event_id: row.id for row in rows}
        for i in new:
            assert i.event is not None and i.decision is not None
            decisions[i.decision] = evaluation.Decision(
                decisions[i.decision].pregnancy,
                decisions[i.decision].before,
                decisions[i.decision].evaluation,
                row_ids[i.event.id],
            )
        decided_all = evaluation.persist_many(session, decisions, now)
        for pregnancy_id, occurred in latest.items():
            pregnancy = next(p for p in pregnancies if p.id == pregnancy_id)
            pregnancy.last_occurred_at = occurred
        answers = []
        audits = []
        diagnosed = [i.event.data["code"] for i in new if i.event and i.event.type == "diagnosis.added"]
        codes = icd10.describe_many(session, actor.hospital_id, diagnosed)  # one read, not one each
        side = events.SideRows()
        for i in new:
            assert i.event is not None and i.patient is not None and i.pregnancy is not None
            assert i.decision is not None
            row_id = row_ids[i.event.id]
            warnings = events.side_records(session, i.pregnancy, i.event, row_id, now, codes=codes, rows=side)
            body = events.answer_body(
                i.event.id, i.patient.his_patient_id, i.pregnancy.id, decided_all[i.decision], warnings
            )
            i.result = {"status": 201, "result": body}
            answers.append({"id": row_id, "answer": body})
            audits.append(
                {
                    "hospital_id": actor.hospital_id,
                    "actor": actor.label,
                    "action": "change",
                    "patient_id": i.patient.id,
                    "pregnancy_id": i.pregnancy.id,
                    "detail": f"event {i.event.id} {i.event.type}",
                    "remote_addr": actor.remote_addr,
                    "at": now,
                }
            )
        side.write(session)
        session.flush()  # the Core statements below do not autoflush
        # Core, not the ORM's bulk paths: a thousand rows without an identity state each.
        table = cast(Table, EventRecord.__table__)
        session.execute(
            update(table).where(table.c.id == bindparam("row_id")).values(answer=bindparam("answer_")),
            [{"row_id": a["id"], "answer_": a["answer"]} for a in answers],
        )
        session.execute(insert(cast(Table, AuditEntry.__table__)), audits)
    results: list[dict[str, Any]] = []
    for item in items:
        answered = item.result if item.same_as is None else items[item.same_as].result
        assert answered is not None
        if item.same_as is not None and answered.get("status") == 201:
            answered = {**answered, "status": 200}  # the same event again in one batch: a replay
        results.append(answered)
    return results
