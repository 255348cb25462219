"""Questionnaire responses posted by the mini-program backend or the HIS.

A response is checked against its form (every problem with its field path and a stable code),
scored with the engine's form scoring, and recorded as a ``questionnaire.submitted`` event of
her pregnancy in one transaction with the evaluation, so pathways react to it (an EPDS total of
13 or more opens a task). The response id is unique per integrator, like an event id: the
same id and body again answers 200 with the first answer and changes nothing; the same id
with another body is ``response-conflict``. Its event id is ``response:<id>``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from carepath.engine import identity
from carepath.engine.forms import score
from carepath.errors import CarepathError
from carepath.store import event_patients, events, form_answers
from carepath.store.crypto import FieldCipher
from carepath.store.db import Database
from carepath.store.event_input import FUTURE_TOLERANCE, HisEvent, body_hash, hospital_today
from carepath.store.models import EventRecord, Patient, Pregnancy, QuestionnaireResponse
from carepath.store.scope import Actor, owned

EVENT_PREFIX = "response:"


class InvalidResponseError(CarepathError):
    """The response does not fit its form; ``errors`` lists each field path."""

    code = "invalid-response"

    def __init__(self, errors: list[dict[str, str]]) -> None:
        self.errors = errors
        first = errors[0]
        super().__init__(f"{first['path']}: {first['message']}")


class ResponseConflictError(CarepathError):
    code = "response-conflict"


@dataclass(frozen=True)
class ResponseInput:
    """A response whose envelope is checked (types, lengths, one way of naming her)."""

    id: str
    form: str
    submitted_at: datetime
    answers: dict[str, Any]
    raw: dict[str, Any]  # as posted: its canonical hash decides replay or conflict
    pregnancy: str | None = None  # carepath's pregnancy id
    his_id: str | None = None
    id_number: str | None = None
    his_pregnancy: str | None = None
    id_type: str | None = None  # resident when not given (see engine/identity.py)


def post_response(
    db: Database, cipher: FieldCipher, actor: Actor, given: ResponseInput, now: datetime
) -> events.Answer:
    """Check, score and record one response and evaluate its event (see the module docstring)."""
    id_number = check_response(given, now)
    return events.retrying(
        db, lambda session: record_response(session, cipher, actor, given, now, id_number=id_number)
    )


def check_response(given: ResponseInput, now: datetime) -> str | None:
    """Every problem of a response before anything is written (``InvalidResponseError``);
    her ID number as checked, if the response names her by one. Her pages call this and
    ``record_response`` in their own transaction (``store/her_forms.py``)."""
    problems = form_answers.answer_problems(given.form, given.answers)
    id_number = None
    if given.id_number is not None:
        try:
            id_number = identity.check_id_number(given.id_number, given.id_type, hospital_today(now)).number
        except identity.InvalidIdNumberError as error:
            problems.append(
                {
                    "path": "patient.id_type" if error.reason == "unknown-type" else "patient.id_number",
                    "code": error.code,
                    "message": error.message,
                    "reason": error.reason,
                    "id_type": error.id_type,
                    "message_zh": error.message_zh,
                }
            )
    if given.submitted_at > now + FUTURE_TOLERANCE:
        problems.append(
            {
                "path": "submitted_at",
                "code": "future-time",
                "message": f"submitted_at is after the server's clock ({now.isoformat(timespec='seconds')}) "
                "by more than 5 minutes",
            }
        )
    if problems:
        raise InvalidResponseError(problems)
    return id_number


def record_response(
    session: Session,
    cipher: FieldCipher,
    actor: Actor,
    given: ResponseInput,
    now: datetime,
    *,
    id_number: str | None,
) -> events.Answer:
    """Score and record a checked response in the caller's transaction (``check_response``)."""
    resolved = None
    if given.pregnancy is not None:
        pregnancy = session.scalar(
            owned(select(Pregnancy), Pregnancy, actor)
            .where(Pregnancy.id == given.pregnancy)
            .with_for_update()
        )
        if pregnancy is None:  # another hospital's pregnancy is not found, never shown
            raise event_patients.UnknownPregnancyError(f"no pregnancy {given.pregnancy!r} in your hospital")
        patient = session.get(Patient, pregnancy.patient_id)
        assert patient is not None
        resolved = (patient, pregnancy)
    event = HisEvent(
        id=EVENT_PREFIX + given.id,
        type="questionnaire.submitted",
        occurred_at=given.submitted_at,
        data={"form": given.form, "answers": given.answers},
        his_id=given.his_id,
        id_number=id_number,
        phone=None,
        name=None,
        pregnancy=given.his_pregnancy,
        body_hash=body_hash({"response": given.raw}),
    )
    try:
        answer = events.process(session, cipher, actor, event, now, resolved=resolved)
    except events.EventConflictError:
        raise ResponseConflictError(
            f"response {given.id!r} was already received with a different body; "
            "send a new id for a new response, the same body for a retry"
        ) from None
    if answer.status == 200:
        return answer  # a replay: the stored answer is the response's
    result = score(form_answers.forms()[given.form], given.answers)
    scored = {
        "total": result.total,
        "max_total": result.max_total,
        "complete": result.complete,
        "band": result.band,
        "band_label": result.band_label,
        "flags": list(result.flags),
    }
    row_id = session.scalar(
        select(EventRecord.id).where(
            EventRecord.integrator_id == int(actor.id), EventRecord.event_id == event.id
        )
    )
    session.execute(
        update(QuestionnaireResponse)
        .where(QuestionnaireResponse.event_row_id == row_id)
        .values(integrator_id=int(actor.id), response_id=given.id, score=scored)
        .execution_options(synchronize_session=False)
    )
    body = {"response": given.id, "form": given.form, "score": scored, **answer.body}
    session.execute(update(EventRecord).where(EventRecord.id == row_id).values(answer=body))
    return events.Answer(201, body)
