"""Her patient and pregnancy rows an event names (``events.process``): found by the HIS id or
by her ID number's keyed hash, made only by ``patient.registered``.

A woman made here is new to the hospital within this transaction: nothing else can name her
row yet, so her pregnancy is the first and the reads that look for another woman with her ID
number or for her earlier pregnancies are not made (the search that found no one already
covered them; the unique ID number hash still decides a race, ``events.retrying``).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from functools import cache

from sqlalchemy import Select, bindparam, func, or_, select
from sqlalchemy.orm import Session

from carepath.errors import CarepathError
from carepath.store.crypto import FieldCipher
from carepath.store.event_input import HisEvent
from carepath.store.models import Patient, Pregnancy
from carepath.store.scope import Actor, owned


class UnknownPatientError(CarepathError):
    code = "unknown-patient"


class PatientMismatchError(CarepathError):
    code = "patient-mismatch"


class UnknownPregnancyError(CarepathError):
    code = "unknown-pregnancy"


@dataclass(frozen=True)
class Resolved:
    """Her rows (the pregnancy locked for the update, or new and not yet written: the
    evaluation's first flush writes it with her state)."""

    patient: Patient
    pregnancy: Pregnancy
    new_pregnancy: bool
    new_patient: bool


def find_patient(session: Session, cipher: FieldCipher, actor: Actor, event: HisEvent) -> Patient | None:
    """Her patient row in the actor's own hospital (events change data: never a grant's): the
    one with the HIS id, else the one with her ID number (who must not carry another HIS id)."""
    if event.his_id is not None and event.id_number is not None:  # both in one read (issue 22)
        digest = cipher.lookup_hash("id", event.id_number)
        rows = session.scalars(
            owned(select(Patient), Patient, actor).where(
                or_(Patient.his_patient_id == event.his_id, Patient.id_number_hash == digest)
            )
        ).all()
        by_his = next((p for p in rows if p.his_patient_id == event.his_id), None)
        if by_his is not None:
            return by_his
        by_number = next((p for p in rows if p.id_number_hash == digest), None)
        check_same_woman(by_number, event)
        return by_number
    if event.his_id is not None:
        found = session.scalar(
            owned(select(Patient), Patient, actor).where(Patient.his_patient_id == event.his_id)
        )
        if found is not None or event.id_number is None:
            return found
    assert event.id_number is not None
    found = session.scalar(
        owned(select(Patient), Patient, actor).where(
            Patient.id_number_hash == cipher.lookup_hash("id", event.id_number),
        )
    )
    check_same_woman(found, event)
    return found


def check_same_woman(patient: Patient | None, event: HisEvent) -> None:
    """A woman found by ID number must not carry another HIS id than the event names."""
    if (
        patient is not None
        and event.his_id
        and patient.his_patient_id
        and patient.his_patient_id != event.his_id
    ):
        raise PatientMismatchError(
            f"the id_number belongs to the patient with his_id {patient.his_patient_id!r}, "
            f"not {event.his_id!r}; correct the HIS id or the ID number"
        )


def resolve(session: Session, cipher: FieldCipher, actor: Actor, event: HisEvent, now: datetime) -> Resolved:
    """Her patient and pregnancy rows (see the module docstring)."""
    registering = event.type == "patient.registered"
    if not registering:
        both = _patient_and_pregnancy(session, cipher, actor, event)
        if both is not None:  # the common case: one read instead of two (issue 22 item 3)
            _update_identity(session, both[0], cipher, event, searched=False)
            session.flush()
            return Resolved(both[0], both[1], False, False)
    patient = find_patient(session, cipher, actor, event)
    new_patient = patient is None
    if patient is None:
        if not registering:
            raise UnknownPatientError(
                "no patient with this his_id or id_number in your hospital; post patient.registered first"
            )
        patient = Patient(hospital_id=actor.hospital_id, his_patient_id=event.his_id, created_at=now)
        session.add(patient)
    _update_identity(session, patient, cipher, event, searched=new_patient)
    session.flush()
    if new_patient:  # no pregnancy can name a row made in this transaction
        return Resolved(patient, _new_pregnancy(session, actor, patient, event, now, number=1), True, True)

    pregnancies = owned(select(Pregnancy), Pregnancy, actor).where(Pregnancy.patient_id == patient.id)
    if event.pregnancy is not None:
        pregnancies = pregnancies.where(Pregnancy.his_pregnancy_id == event.pregnancy)
    pregnancy = session.scalar(
        pregnancies.order_by(Pregnancy.number.desc()).limit(1).with_for_update(key_share=True)
    )
    if pregnancy is None and registering and event.pregnancy is not None:
        pregnancy = _adopt(session, actor, patient, event.pregnancy)
    if pregnancy is not None and not (
        registering and event.pregnancy is None and pregnancy.status != "pregnant"
    ):
        return Resolved(patient, pregnancy, False, False)
    if not registering:
        raise UnknownPregnancyError(
            f"no pregnancy {event.pregnancy!r} for this patient; post patient.registered for it first"
            if event.pregnancy
            else "this patient has no pregnancy; post patient.registered first"
        )
    number = (
        session.scalar(select(func.max(Pregnancy.number)).where(Pregnancy.patient_id == patient.id)) or 0
    ) + 1
    return Resolved(patient, _new_pregnancy(session, actor, patient, event, now, number=number), True, False)


def _patient_and_pregnancy(
    session: Session, cipher: FieldCipher, actor: Actor, event: HisEvent
) -> tuple[Patient, Pregnancy] | None:
    """Her patient row and the pregnancy the event goes to (the one it names, else her latest),
    locked, in one statement; None when either is missing: ``resolve``'s reads then say which.

    She is looked up as ``find_patient`` does: by the HIS id when the event has one, else by
    her ID number's hash (then the HIS id must not name another woman).

    Her pregnancy is locked ``FOR NO KEY UPDATE`` (here and in ``resolve``): an event never
    changes a pregnancy's id, and a plain ``FOR UPDATE`` also conflicts with the ``KEY SHARE``
    lock that the foreign-key check of every row naming her takes — a dispatcher's claim filing
    her inbox copy made the event wait, and the event made the claim wait."""
    if event.his_id is not None:
        by_his, key = True, event.his_id
    elif event.id_number is not None:
        by_his, key = False, cipher.lookup_hash("id", event.id_number)
    else:
        return None
    values = {"hospital": actor.hospital_id, "key": key, "his_pregnancy": event.pregnancy}
    row = session.execute(_her_rows(by_his, event.pregnancy is not None), values).first()
    if row is None:
        return None
    return row[0], row[1]


@cache
def _her_rows(by_his: bool, named: bool) -> Select[Patient, Pregnancy]:
    """``_patient_and_pregnancy``'s query, built once per form (issue 22: an event pays for
    running it, not for building it): by HIS id or ID number hash, the pregnancy named or not."""
    query = (
        select(Patient, Pregnancy)
        .join(Pregnancy, Pregnancy.patient_id == Patient.id)
        .where(Patient.hospital_id == bindparam("hospital"), Pregnancy.hospital_id == bindparam("hospital"))
    )  # both of the actor's own hospital, as ``owned`` makes each
    found_by = Patient.his_patient_id if by_his else Patient.id_number_hash
    query = query.where(found_by == bindparam("key"))
    if named:
        query = query.where(Pregnancy.his_pregnancy_id == bindparam("his_pregnancy"))
    return query.order_by(Pregnancy.number.desc()).limit(1).with_for_update(of=Pregnancy, key_share=True)


def _new_pregnancy(
    session: Session, actor: Actor, patient: Patient, event: HisEvent, now: datetime, *, number: int
) -> Pregnancy:
    pregnancy = Pregnancy(
        id=uuid.uuid4().hex,
        hospital_id=actor.hospital_id,
        patient_id=patient.id,
        number=number,
        his_pregnancy_id=event.pregnancy,
        status="pregnant",
        state={},
        created_at=now,
        updated_at=now,
    )
    session.add(pregnancy)  # written by the next flush, with the state her evaluation gives
    return pregnancy


def _adopt(session: Session, actor: Actor, patient: Patient, his_pregnancy: str) -> Pregnancy | None:
    """Her ongoing pregnancy that no HIS id names yet (she registered it on her pages, issue 18):
    the HIS's registration of it names it now, instead of making her a second pregnancy."""
    ongoing = session.scalar(
        owned(select(Pregnancy), Pregnancy, actor)
        .where(
            Pregnancy.patient_id == patient.id,
            Pregnancy.status == "pregnant",
            Pregnancy.his_pregnancy_id.is_(None),
        )
        .order_by(Pregnancy.number.desc())
        .limit(1)
        .with_for_update(key_share=True)
    )
    if ongoing is not None:
        ongoing.his_pregnancy_id = his_pregnancy
    return ongoing


def _update_identity(
    session: Session, patient: Patient, cipher: FieldCipher, event: HisEvent, *, searched: bool
) -> None:
    """Her identity fields from the event. ``searched``: ``find_patient`` looked for her ID
    number's hash in this hospital and found no one (she is new), so no other woman has it."""
    if event.his_id is not None and patient.his_patient_id is None:
        patient.his_patient_id = event.his_id
    if event.id_number is not None:
        digest = cipher.lookup_hash("id", event.id_number)
        if patient.id_number_hash != digest:
            # One woman per ID number in a hospital (0019): another's number is refused, not copied.
            other = (
                None
                if searched
                else session.scalar(
                    select(Patient).where(
                        Patient.hospital_id == patient.hospital_id,
                        Patient.id_number_hash == digest,
                        Patient.id != patient.id,
                    )
                )
            )
            if other is not None:
                raise PatientMismatchError(
                    f"the id_number belongs to the patient with his_id {other.his_patient_id!r}; "
                    "correct the HIS id or the ID number"
                )
            patient.id_number_sealed = cipher.seal(event.id_number)
            patient.id_number_hash = digest
    if event.phone is not None:
        digest = cipher.lookup_hash("phone", event.phone)
        if patient.phone_hash != digest:
            patient.phone_sealed = cipher.seal(event.phone)
            patient.phone_hash = digest
    name = event.name or (event.data.get("name") if event.type.startswith("patient.") else None)
    if name:
        patient.name_sealed = cipher.seal(str(name))
        patient.name_hash = cipher.name_hash(str(name))
