"""Patients as staff and integrators see them: masked in lists, every read audited.

Each public function is one transaction of its own (the service owns the session).

All reads go through ``scope.visible_patients``: a hospital sees its own patients and those
another hospital granted it (medical alliance), nothing else. Grants are logged rows.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from carepath.errors import CarepathError
from carepath.store.crypto import FieldCipher, mask_id_number, mask_name, mask_phone
from carepath.store.db import Database
from carepath.store.models import OutboxRow, Patient, PatientGrant, Pregnancy
from carepath.store.scope import Actor, audit, owned, visible_patients
from carepath.store.state_codec import stored_colour


class PatientNotFoundError(CarepathError):
    """No such patient *for this actor* (another hospital's patient is not found, not forbidden)."""

    code = "patient-not-found"


def masked_patient(cipher: FieldCipher, patient: Patient) -> dict[str, Any]:
    """Her identifiers as lists and exports show them: name, ID number and phone masked."""

    def shown(sealed: str | None, mask: Any) -> str | None:
        return mask(cipher.open(sealed)) if sealed else None

    return {
        "id": patient.id,
        "hospital": patient.hospital_id,
        "his_id": patient.his_patient_id,
        "name": shown(patient.name_sealed, mask_name),
        "id_number": shown(patient.id_number_sealed, mask_id_number),
        "phone": shown(patient.phone_sealed, mask_phone),
    }


def list_patients(
    db: Database, cipher: FieldCipher, actor: Actor, now: datetime, *, limit: int = 100, offset: int = 0
) -> list[dict[str, Any]]:
    """Visible patients, ID and phone numbers masked; the listing itself is audited."""
    with db.transaction() as session:
        return _list(session, cipher, actor, now, limit=limit, offset=offset)


def _list(
    session: Session, cipher: FieldCipher, actor: Actor, now: datetime, *, limit: int, offset: int
) -> list[dict[str, Any]]:
    rows = session.scalars(
        visible_patients(actor, now).order_by(Patient.id).limit(limit).offset(offset)
    ).all()
    audit(session, actor, "list", now, f"listed {len(rows)} patients (offset {offset})")
    return [masked_patient(cipher, p) for p in rows]


def get_patient(
    db: Database, cipher: FieldCipher, actor: Actor, patient_id: int, now: datetime
) -> dict[str, Any]:
    """One visible patient with her pregnancies and their actions (masked; audited)."""
    with db.transaction() as session:
        return _record(session, cipher, actor, patient_id, now)


def _record(
    session: Session, cipher: FieldCipher, actor: Actor, patient_id: int, now: datetime
) -> dict[str, Any]:
    patient = session.scalar(visible_patients(actor, now).where(Patient.id == patient_id))
    if patient is None:
        raise PatientNotFoundError(f"no patient {patient_id} visible to {actor.hospital_id}")
    audit(session, actor, "read", now, "patient record", patient_id=patient.id)
    pregnancies = session.scalars(
        select(Pregnancy).where(Pregnancy.patient_id == patient.id).order_by(Pregnancy.number)
    ).all()
    body = masked_patient(cipher, patient)
    body["pregnancies"] = []
    for pregnancy in pregnancies:
        actions = session.scalars(
            select(OutboxRow).where(OutboxRow.pregnancy_id == pregnancy.id).order_by(OutboxRow.id)
        ).all()
        facts = pregnancy.state.get("facts", {})
        body["pregnancies"].append(
            {
                "id": pregnancy.id,
                "number": pregnancy.number,
                "his_pregnancy_id": pregnancy.his_pregnancy_id,
                "status": pregnancy.status,
                "tags": facts.get("tags", []),
                "icd10": facts.get("icd10", []),
                **stored_colour(facts),
                "next_wakeup": pregnancy.next_wakeup.isoformat() if pregnancy.next_wakeup else None,
                "actions": [
                    {
                        "id": a.id,
                        "pathway": a.pathway_id,
                        "rule": a.rule_id,
                        "action": a.kind,
                        "at": a.due_at.isoformat(),
                        "status": a.status,
                        "why": a.why,
                    }
                    for a in actions
                ],
            }
        )
    return body


def find_by_id_number(
    db: Database, cipher: FieldCipher, actor: Actor, id_number: str, now: datetime
) -> dict[str, Any] | None:
    """Exact lookup by ID number through its keyed hash (the number is never searched in clear)."""
    with db.transaction() as session:
        return _find(session, cipher, actor, id_number, now)


def _find(
    session: Session, cipher: FieldCipher, actor: Actor, id_number: str, now: datetime
) -> dict[str, Any] | None:
    patient = session.scalar(
        visible_patients(actor, now).where(
            Patient.id_number_hash == cipher.lookup_hash("id", id_number.upper())
        )
    )
    if patient is None:
        return None
    audit(session, actor, "read", now, "lookup by ID number", patient_id=patient.id)
    return masked_patient(cipher, patient)


def grant(
    db: Database, actor: Actor, patient_id: int, *, grantee_hospital_id: str, reason: str, now: datetime
) -> int:
    """Share one of the actor's own patients with another hospital (read-only), logged."""
    with db.transaction() as session:
        return _grant(
            session, actor, patient_id, grantee_hospital_id=grantee_hospital_id, reason=reason, now=now
        )


def _grant(
    session: Session, actor: Actor, patient_id: int, *, grantee_hospital_id: str, reason: str, now: datetime
) -> int:
    patient = session.scalar(owned(select(Patient), Patient, actor).where(Patient.id == patient_id))
    if patient is None:
        raise PatientNotFoundError(f"no patient {patient_id} in {actor.hospital_id}")
    row = PatientGrant(
        patient_id=patient.id,
        hospital_id=actor.hospital_id,
        grantee_hospital_id=grantee_hospital_id,
        granted_by=actor.label,
        reason=reason,
        granted_at=now,
        revoked_at=None,
    )
    session.add(row)
    audit(session, actor, "change", now, f"granted to {grantee_hospital_id}: {reason}", patient_id=patient.id)
    session.flush()
    return row.id
