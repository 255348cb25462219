"""The staff's queue of her requests (issue 21 item 5): who asked, what, and the decision.

``her_requests`` keeps the request and its decision; this module is what the queue adds around
it, each step one transaction that records the decision and audits it as the member of staff:

- ``queue``: the open requests, each with who she is (masked) and whether a pregnancy of hers
  is ongoing; and the last decided ones, for the record.
- ``decide_deletion``: ``done`` ends what carepath holds that is not a medical record — every
  consent to be messaged (external messages stop at once) and her channel bindings (the WeChat
  openid and the phone binding are erased) — and keeps the medical records, as the hospital's
  retention rule (its ``retention_notice``) says. A woman with an ongoing pregnancy is refused
  ``done`` (``open-pregnancy``): her care is still running and its record is a medical record;
  the page explains it and offers the reply instead. ``refused`` records the reply only.
- ``decide_correction``: a correction of her name or phone is applied as the HIS applies one,
  by a ``patient.updated`` event checked (``parse_event``) and recorded (``events.record``)
  under the hospital's ``staff-pages`` integrator, so her identity changes through
  ``event_patients`` exactly as the HIS's changes do. Anything else (a date, a diagnosis) is a
  fact of the medical record: it is explained in the reply, and corrected at its source.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from carepath.errors import CarepathError
from carepath.store import consents, events, her_requests
from carepath.store.crypto import FieldCipher, mask_name, mask_phone
from carepath.store.db import Database
from carepath.store.event_input import InvalidEventError, parse_event
from carepath.store.models import ChannelBinding, Patient, Pregnancy
from carepath.store.models_requests import HerRequest
from carepath.store.record_actions import pages_actor
from carepath.store.scope import Actor, audit

#: What a correction may change through the HIS's own path; anything else is explained.
CORRECTABLE = ("name", "phone", "other")
_PHONE = re.compile(r"^1[3-9][0-9]{9}$")
_NAME_LIMIT = 40
#: How many decided requests the queue shows under the open ones.
RECENT = 20


class RequestHandlingError(CarepathError):
    """A decision that cannot be carried out; ``code`` is stable: ``open-pregnancy``,
    ``bad-field``, ``bad-value``, ``no-pregnancy``, ``no-identifier``, ``event-refused``,
    ``wrong-kind``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class QueueItem:
    """One request as the queue lists it: the request, and who she is (masked)."""

    request: her_requests.RequestView
    name: str | None
    phone: str | None
    his_id: str | None
    ongoing_pregnancy: bool


def _ongoing(session: Session, patient_id: int) -> bool:
    found = session.scalar(
        select(Pregnancy.id)
        .where(Pregnancy.patient_id == patient_id, Pregnancy.status == "pregnant")
        .limit(1)
    )
    return found is not None


def _item(session: Session, cipher: FieldCipher, view: her_requests.RequestView) -> QueueItem:
    patient = session.get(Patient, view.patient_id)
    assert patient is not None

    def shown(sealed: str | None, mask: Any) -> str | None:
        return mask(cipher.open(sealed)) if sealed else None

    return QueueItem(
        request=view,
        name=shown(patient.name_sealed, mask_name),
        phone=shown(patient.phone_sealed, mask_phone),
        his_id=patient.his_patient_id,
        ongoing_pregnancy=_ongoing(session, patient.id),
    )


def queue(
    db: Database, cipher: FieldCipher, actor: Actor, now: datetime
) -> tuple[list[QueueItem], list[QueueItem]]:
    """(the open requests oldest first, the last ``RECENT`` decided newest first); one audit
    entry per woman listed. The caller checks ``deletion.handle``."""
    with db.transaction() as session:
        open_rows = session.scalars(
            select(HerRequest)
            .where(HerRequest.hospital_id == actor.hospital_id, HerRequest.status.in_(her_requests.OPEN))
            .order_by(HerRequest.received_at, HerRequest.id)
        ).all()
        decided_rows = session.scalars(
            select(HerRequest)
            .where(HerRequest.hospital_id == actor.hospital_id, HerRequest.status.in_(her_requests.DECIDED))
            .order_by(HerRequest.decided_at.desc(), HerRequest.id.desc())
            .limit(RECENT)
        ).all()
        found = [
            [_item(session, cipher, her_requests.view(cipher, row)) for row in rows]
            for rows in (open_rows, decided_rows)
        ]
        for patient_id in sorted({row.patient_id for row in (*open_rows, *decided_rows)}):
            audit(session, actor, "list", now, "requests about her data", patient_id=patient_id)
        return found[0], found[1]


def one(db: Database, cipher: FieldCipher, actor: Actor, request_id: int, now: datetime) -> QueueItem:
    """One request of the actor's hospital with who she is (masked); the read is audited."""
    with db.transaction() as session:
        row = session.scalar(
            select(HerRequest).where(HerRequest.id == request_id, HerRequest.hospital_id == actor.hospital_id)
        )
        if row is None:
            raise her_requests.HerRequestNotFoundError(
                f"no request {request_id} in hospital {actor.hospital_id}"
            )
        audit(session, actor, "read", now, f"her request {row.id}", patient_id=row.patient_id)
        return _item(session, cipher, her_requests.view(cipher, row))


def _open_row(session: Session, actor: Actor, request_id: int, kind: str) -> HerRequest:
    row = her_requests.staff_row(session, actor, request_id)
    if row.status not in her_requests.OPEN:
        raise her_requests.HerRequestError("not-open", f"request {request_id} was decided already")
    if row.kind != kind:
        raise RequestHandlingError("wrong-kind", f"request {request_id} is a {row.kind} request")
    return row


def _close(
    session: Session, cipher: FieldCipher, actor: Actor, row: HerRequest, *, outcome: str, reply: str,
    now: datetime, detail: str,
) -> her_requests.RequestView:  # fmt: skip
    if row.review_started_at is None:
        row.review_started_at, row.review_started_by = now, actor.label
    row.status, row.decision, row.decided_by, row.decided_at = outcome, reply, actor.label, now
    row.open_key = None
    audit(
        session, actor, "change", now, f"her request {row.id}: {outcome}{detail}", patient_id=row.patient_id
    )
    session.flush()
    return her_requests.view(cipher, row)


def decide_deletion(
    db: Database,
    cipher: FieldCipher,
    actor: Actor,
    request_id: int,
    *,
    outcome: str,
    decision: str,
    now: datetime,
) -> her_requests.RequestView:
    """Decide a deletion request (see the module): ``done`` erases what is not a medical record,
    refused for a woman whose pregnancy is ongoing (``open-pregnancy``)."""
    reply = her_requests.checked_decision(outcome, decision)
    with db.transaction() as session:
        row = _open_row(session, actor, request_id, "deletion")
        detail = ""
        if outcome == "done":
            if _ongoing(session, row.patient_id):
                raise RequestHandlingError(
                    "open-pregnancy", "her pregnancy is ongoing: its care and record continue"
                )
            withdrawn = consents.withdraw_consent(session, patient_id=row.patient_id, at=now)
            result = session.execute(
                update(ChannelBinding)
                .where(ChannelBinding.patient_id == row.patient_id, ChannelBinding.unbound_at.is_(None))
                .values(unbound_at=now, value=None, value_sealed=None, value_hash=None)
                .execution_options(synchronize_session=False)
            )
            ended = int(result.rowcount or 0)  # type: ignore[attr-defined]
            detail = f" ({withdrawn} consent(s) withdrawn, {ended} binding(s) ended; medical records kept)"
        return _close(session, cipher, actor, row, outcome=outcome, reply=reply, now=now, detail=detail)


def _corrected_value(field: str, value: str) -> str:
    text = " ".join((value or "").split())
    if field == "phone":
        text = text.replace(" ", "").replace("-", "").removeprefix("+86")
        if not _PHONE.match(text):
            raise RequestHandlingError("bad-value", "a mainland mobile number of 11 digits")
    elif field == "name" and (not text or len(text) > _NAME_LIMIT):
        raise RequestHandlingError("bad-value", f"a name of 1 to {_NAME_LIMIT} characters")
    return text


def decide_correction(
    db: Database,
    cipher: FieldCipher,
    actor: Actor,
    request_id: int,
    *,
    outcome: str,
    decision: str,
    field: str = "other",
    value: str = "",
    now: datetime,
) -> her_requests.RequestView:
    """Decide a correction request: ``done`` with ``field`` ``name`` or ``phone`` applies
    ``value`` through a ``patient.updated`` event (see the module); ``other`` records the reply."""
    reply = her_requests.checked_decision(outcome, decision)
    if field not in CORRECTABLE:
        raise RequestHandlingError("bad-field", f"field must be one of {', '.join(CORRECTABLE)}")
    applying = outcome == "done" and field != "other"
    corrected = _corrected_value(field, value) if applying else ""

    def work(session: Session) -> her_requests.RequestView:
        row = _open_row(session, actor, request_id, "correction")
        detail = ""
        if applying:
            event_id = _apply(session, cipher, actor, row, field=field, value=corrected, now=now)
            detail = f" ({field} corrected by event {event_id})"
        return _close(session, cipher, actor, row, outcome=outcome, reply=reply, now=now, detail=detail)

    return events.retrying(db, work)


def _apply(
    session: Session,
    cipher: FieldCipher,
    actor: Actor,
    row: HerRequest,
    *,
    field: str,
    value: str,
    now: datetime,
) -> str:
    """Post her corrected ``field`` as the HIS would: a ``patient.updated`` naming her by her
    HIS id, else her ID number; the event's id."""
    patient = session.get(Patient, row.patient_id)
    assert patient is not None
    if session.scalar(select(Pregnancy.id).where(Pregnancy.patient_id == patient.id).limit(1)) is None:
        raise RequestHandlingError("no-pregnancy", "she has no pregnancy for the event to be about")
    who: dict[str, str] = {}
    if patient.his_patient_id:
        who["his_id"] = patient.his_patient_id
    elif patient.id_number_sealed:
        who["id_number"] = cipher.open(patient.id_number_sealed)
    else:
        raise RequestHandlingError("no-identifier", "she has neither an HIS id nor an ID number")
    event_id = f"staff-{actor.id}-request-{row.id}"
    raw = {
        "id": event_id,
        "type": "patient.updated",
        "occurred_at": now.isoformat(),
        "patient": {**who, field: value},
        "data": {"name": value} if field == "name" else {},
    }
    try:
        event = parse_event(raw, now)
        events.record(session, cipher, pages_actor(session, actor.hospital_id), event, now)
    except InvalidEventError as error:
        raise RequestHandlingError("event-refused", error.message) from None
    except events.EventConflictError as error:
        raise RequestHandlingError("event-refused", error.message) from None
    except CarepathError as error:  # her rows as the HIS path finds them (another woman's number)
        raise RequestHandlingError("event-refused", f"{error.code}: {error.message}") from None
    return event_id
