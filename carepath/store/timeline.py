"""One pregnancy as staff read it: her current facts and everything that happened, in order.

``timeline`` answers in one transaction: the facts today (gestational age, tags, risk,
diagnoses), then one chronological list of entries of every kind (HIS events, tag changes,
enrolments, actions with their delivery state, questionnaire responses with scores, staff
tasks). The read is audited as ``read`` of that pregnancy.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from carepath.engine.form_loader import load_forms
from carepath.engine.form_scoring import score
from carepath.engine.form_spec import Form
from carepath.engine.timing import SendWindow
from carepath.store.crypto import FieldCipher
from carepath.store.db import Database
from carepath.store.models import (
    Diagnosis,
    EnrolmentRecord,
    EventRecord,
    InboxItem,
    OutboxRow,
    Patient,
    Pregnancy,
    QuestionnaireResponse,
    StaffTask,
    TagLog,
)
from carepath.store.patients import masked_patient
from carepath.store.receipts import delivery_summary
from carepath.store.scope import Actor, PregnancyNotFoundError, audit, visible_patients
from carepath.store.search import gestation
from carepath.store.state_codec import stored_colour, stored_grade

#: Keys of event data that name her; a timeline shows the event, never these again.
IDENTITY_KEYS = frozenset({"name", "id_number", "phone"})

#: Entry kinds in the order they sort when two share a moment.
KINDS = ("event", "enrolment", "tag", "action", "response", "task")


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def action_entry(row: OutboxRow, withdrawn: InboxItem | None = None) -> dict[str, Any]:
    """One outbox row as a timeline entry: what was decided, and how its delivery went;
    ``withdrawn``: its inbox copy, taken back from her (a congratulation after a lost baby,
    ``store/congratulations.py``), shown to staff as withdrawn with the reason."""
    entry = {
        "at": row.due_at.isoformat(),
        "kind": "action",
        "id": row.id,
        "pathway": row.pathway_id,
        "version": row.version,
        "rule": row.rule_id,
        "action": row.kind,
        "status": row.status,
        "status_reason": row.status_reason,
        "why": row.why,
        "channel": row.channel,
        "attempts": row.attempts,
        "sent_at": _iso(row.sent_at),
        "next_attempt_at": _iso(row.next_attempt_at),
        "provider_message_id": row.provider_message_id,
        "last_error": row.last_error,
        "dead_reason": row.dead_reason,
        "replaced_by": row.replaced_by,
        "delivery": delivery_summary(row).as_json(),
    }
    if withdrawn is not None and withdrawn.withdrawn_at is not None:
        entry["inbox_withdrawn_at"] = withdrawn.withdrawn_at.isoformat()
        entry["inbox_withdrawn_reason"] = withdrawn.withdrawn_reason
    return entry


def withdrawn_copies(session: Session, where: Any) -> dict[str, InboxItem]:
    """The withdrawn inbox copies matching ``where``, by dedupe key (``action_entry`` shows them)."""
    found = session.scalars(select(InboxItem).where(where, InboxItem.withdrawn_at.is_not(None)))
    return {item.dedupe_key: item for item in found}


def timeline(
    db: Database, cipher: FieldCipher, actor: Actor, pregnancy_id: str, now: datetime
) -> dict[str, Any]:
    """The pregnancy's facts and entries, oldest first (audited as a read)."""
    with db.transaction() as session:
        return _timeline(session, cipher, actor, pregnancy_id, now)


def _timeline(
    session: Session, cipher: FieldCipher, actor: Actor, pregnancy_id: str, now: datetime
) -> dict[str, Any]:
    found = session.execute(
        select(Pregnancy, Patient)
        .join(Patient, Patient.id == Pregnancy.patient_id)
        .where(
            Pregnancy.id == pregnancy_id,
            Patient.id.in_(select(visible_patients(actor, now).subquery().c.id)),
        )
    ).one_or_none()
    if found is None:
        raise PregnancyNotFoundError(f"no pregnancy {pregnancy_id} visible to {actor.hospital_id}")
    pregnancy, patient = found
    audit(session, actor, "read", now, "pregnancy timeline", patient_id=patient.id, pregnancy_id=pregnancy.id)
    of_pregnancy = pregnancy.id
    facts = pregnancy.state.get("facts", {})
    diagnoses = session.scalars(
        select(Diagnosis)
        .where(Diagnosis.pregnancy_id == of_pregnancy, Diagnosis.removed_at.is_(None))
        .order_by(Diagnosis.added_at, Diagnosis.id)
    ).all()
    entries: list[tuple[str, int, int, dict[str, Any]]] = []

    def add(at: datetime, kind: str, key: int, entry: dict[str, Any]) -> None:
        entries.append((at.isoformat(), KINDS.index(kind), key, entry))

    for event in session.scalars(select(EventRecord).where(EventRecord.pregnancy_id == of_pregnancy)):
        data = {k: v for k, v in event.data.items() if k not in IDENTITY_KEYS}
        add(
            event.occurred_at,
            "event",
            event.id,
            {
                "at": event.occurred_at.isoformat(),
                "kind": "event",
                "id": event.event_id,
                "type": event.type,
                "received_at": event.received_at.isoformat(),
                "data": data,
            },
        )
    for enrolment in session.scalars(
        select(EnrolmentRecord).where(EnrolmentRecord.pregnancy_id == of_pregnancy)
    ):
        add(
            enrolment.started_at,
            "enrolment",
            0,
            {
                "at": enrolment.started_at.isoformat(),
                "kind": "enrolment",
                "pathway": enrolment.pathway_id,
                "version": enrolment.version,
                "ended_at": _iso(enrolment.ended_at),
                "reason": enrolment.reason,
            },
        )
    for tag in session.scalars(select(TagLog).where(TagLog.pregnancy_id == of_pregnancy)):
        add(
            tag.at,
            "tag",
            tag.id,
            {
                "at": tag.at.isoformat(),
                "kind": "tag",
                "tag": tag.tag,
                "operation": tag.operation,
                "by": tag.by,
                "why": tag.why,
            },
        )
    withdrawn = withdrawn_copies(session, InboxItem.pregnancy_id == of_pregnancy)
    for row in session.scalars(select(OutboxRow).where(OutboxRow.pregnancy_id == of_pregnancy)):
        add(row.due_at, "action", row.id, action_entry(row, withdrawn.get(row.dedupe_key)))
    for response in session.scalars(
        select(QuestionnaireResponse).where(QuestionnaireResponse.pregnancy_id == of_pregnancy)
    ):
        add(
            response.submitted_at,
            "response",
            response.id,
            {
                "at": response.submitted_at.isoformat(),
                "kind": "response",
                "id": response.id,
                "form": response.form,
                "score": _score(response),
            },
        )
    for task in session.scalars(select(StaffTask).where(StaffTask.pregnancy_id == of_pregnancy)):
        add(
            task.created_at,
            "task",
            task.id,
            {
                "at": task.created_at.isoformat(),
                "kind": "task",
                "id": task.id,
                "title": task.title,
                "assign": task.assign,
                "priority": task.priority,
                "status": task.status,
                "due_at": _iso(task.due_at),
                "claimed_by": task.claimed_by,
                "outcome": task.outcome,
                "done_at": _iso(task.done_at),
            },
        )
    entries.sort(key=lambda e: (datetime.fromisoformat(e[0]), e[1], e[2]))
    today = SendWindow().local_date(now)
    return {
        "pregnancy": pregnancy.id,
        "number": pregnancy.number,
        "his_pregnancy_id": pregnancy.his_pregnancy_id,
        "status": pregnancy.status,
        "patient": masked_patient(cipher, patient),
        "facts": {
            **gestation(pregnancy, today),
            "tags": list(facts.get("tags", [])),
            **stored_colour(facts),
            "risk_grade": stored_grade(facts),
            "icd10": list(facts.get("icd10", [])),
            "diagnoses": [
                {"code": d.code, "name": d.name, "added_at": d.added_at.isoformat()} for d in diagnoses
            ],
            "next_wakeup": _iso(pregnancy.next_wakeup),
        },
        "entries": [entry for *_, entry in entries],
    }


@cache
def _forms() -> dict[str, Form]:
    return load_forms()


def _score(response: QuestionnaireResponse) -> dict[str, Any] | None:
    """The response scored by its form (None when the form is not known here)."""
    form = _forms().get(response.form)
    if form is None:
        return None
    result = score(form, response.answers)
    return {
        "total": result.total,
        "max_total": result.max_total,
        "band": result.band,
        "band_label": result.band_label,
        "complete": result.complete,
        "flags": list(result.flags),
    }
