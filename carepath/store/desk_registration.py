"""Registration at the desk (建档登记, issue 21 item 3): a nurse fills her form for her.

The same form, checks and de-duplication as her own registration (``registration_form.py``,
``registration.py``): the form is checked with ``at_desk`` (her consents as the nurse records
them: how she gave them, the notice version she saw), and a new woman is registered by the same
``registration.complete_form`` her pages end in — her patient and pregnancy by a
``patient.registered`` event (posted as the hospital's ``desk`` integrator), her risk screen,
her consents (``source`` ``staff:<id>``, ``method`` paper or tablet), her phone bound, a girl
under 14's urgent task.

An ID number already on file registers nothing: the nurse is told, with a link to the woman's
latest pregnancy, instead of a second woman being made (one woman per ID number and hospital is
also a unique index: two desks racing with one new number make one woman, and the second is
told she is on file). Every outcome is audited under the nurse's name: ``register`` for a
registration at the desk, ``register-on-file`` for a number found on file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from carepath.store import events, registration
from carepath.store.crypto import FieldCipher
from carepath.store.db import Database
from carepath.store.models import Patient, Pregnancy
from carepath.store.models_registration import Registration
from carepath.store.registration_form import CheckedForm
from carepath.store.scope import Actor, audit

#: The integrator the desk's registration events are posted as (one per hospital, made once).
DESK_INTEGRATOR = "desk"
#: The audit actions the audit log viewer names "registered at the desk" and "already on file".
AUDIT_REGISTERED = "register"
AUDIT_ON_FILE = "register-on-file"


@dataclass(frozen=True)
class OnFile:
    """Her ID number is on file: nothing was written; ``pregnancy_id`` is her latest (None: a
    woman the HIS sent without a pregnancy yet)."""

    patient_id: int
    pregnancy_id: str | None


Outcome = registration.Registered | OnFile


def register_at_desk(
    db: Database,
    cipher: FieldCipher,
    actor: Actor,
    token: str,
    form: CheckedForm,
    *,
    now: datetime,
    on_done: registration.OnDone | None = None,
) -> Outcome:
    """Register the woman of ``form`` (checked ``at_desk``) for the nurse ``actor``, or say she
    is on file. ``token``: the desk form's one-time token; a second submit of one form answers
    as the first did."""
    if actor.kind != "staff" or form.consent_method is None:
        raise ValueError("a desk registration is a staff member's, with her consent recorded")

    def work(session: Session) -> Outcome:
        existing = session.scalar(
            select(Registration).where(
                Registration.token == token, Registration.hospital_id == actor.hospital_id
            )
        )
        if existing is not None:  # the same form sent twice: the first answer
            found = registration._outcome(session, cipher, existing)
            assert isinstance(found, registration.Registered)
            return found
        digest = cipher.lookup_hash("id", form.id_number)
        matched = session.scalar(
            select(Patient).where(Patient.hospital_id == actor.hospital_id, Patient.id_number_hash == digest)
        )
        if matched is not None:
            return _on_file(session, actor, matched, now)
        row = Registration(
            hospital_id=actor.hospital_id,
            token=token,
            reference=registration._reference(),
            status="pending",
            id_number_hash=digest,
            form_sealed=cipher.seal(json.dumps(form.as_json(), ensure_ascii=False)),
            created_at=now,
        )
        session.add(row)
        session.flush()
        done = registration.complete_form(
            session,
            cipher,
            registration.h5_actor(session, actor.hospital_id, DESK_INTEGRATOR),
            row,
            form,
            now=now,
            proven_by=actor.label,  # the nurse read her ID card
            on_done=on_done,
            consent_source=actor.label,
        )
        audit(
            session,
            actor,
            AUDIT_REGISTERED,
            now,
            f"registered at the desk: registration {row.reference}; consent {form.consent_method}, "
            f"notice {form.notice_version}",
            patient_id=done.patient_id,
            pregnancy_id=done.pregnancy_id,
        )
        return done

    return events.retrying(db, work)


def _on_file(session: Session, actor: Actor, patient: Patient, now: datetime) -> OnFile:
    latest = session.scalar(
        select(Pregnancy.id)
        .where(Pregnancy.patient_id == patient.id)
        .order_by(Pregnancy.number.desc())
        .limit(1)
    )
    audit(
        session,
        actor,
        AUDIT_ON_FILE,
        now,
        "registration at the desk not made: her ID number is on file",
        patient_id=patient.id,
        pregnancy_id=latest,
    )
    return OnFile(patient.id, latest)
