"""Her contact details as she corrects them on her data page: her mobile phone.

Her phone is also how she signs in outside WeChat, so a change must not let anyone take her
account: the page changes it only after a code sent to the *new* number was typed back
(``sign_in_codes``, the same codes, limits and tries as her sign-in), so a mistyped number is
never saved and whoever holds the new number is the one who asked; and a number already on
file for another woman of the hospital is refused (``PhoneTakenError``), since signing in with
it would then find the two of them. Checked again here, in the transaction that changes it.

The change updates her record (sealed, with its lookup hash), replaces her SMS binding (the
old one ends, kept as history), keeps old and new in ``contact_changes`` and is audited. Her
name and ID number are not contact details: she asks for their correction (``her_requests``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, select

from carepath.errors import CarepathError
from carepath.store import consents, sign_in_codes
from carepath.store.crypto import FieldCipher
from carepath.store.db import Database
from carepath.store.models import ChannelBinding, Patient
from carepath.store.models_requests import ContactChange
from carepath.store.scope import Actor, audit

HOW = "h5:sms-code"


class PhoneTakenError(CarepathError):
    """The new phone is on file for another woman of the hospital."""

    code = "phone-taken"


def change_phone(
    db: Database,
    cipher: FieldCipher,
    *,
    hospital_id: str,
    patient_id: int,
    phone: str,
    now: datetime,
    remote_addr: str | None = None,
) -> bool:
    """Her phone is now ``phone`` (11 digits, proved by a code by the caller); False when it
    already was. Raises ``PhoneTakenError``."""
    actor = Actor(hospital_id, "patient", str(patient_id), remote_addr)
    digests = [sign_in_codes.phone_hash(cipher, form) for form in (phone, f"+86{phone}")]
    with db.transaction() as session:
        patient = session.scalar(
            select(Patient)
            .where(Patient.id == patient_id, Patient.hospital_id == hospital_id)
            .with_for_update()
        )
        if patient is None:
            raise PhoneTakenError(f"no patient {patient_id} in hospital {hospital_id}")
        if patient.phone_hash in digests:
            return False
        bound = select(ChannelBinding.patient_id).where(
            ChannelBinding.hospital_id == hospital_id,
            ChannelBinding.kind == "phone",
            ChannelBinding.unbound_at.is_(None),
            ChannelBinding.value_hash.in_(digests),
        )
        other = session.scalar(
            select(Patient.id)
            .where(
                Patient.hospital_id == hospital_id,
                Patient.id != patient_id,
                or_(Patient.phone_hash.in_(digests), Patient.id.in_(bound)),
            )
            .limit(1)
        )
        if other is not None:
            raise PhoneTakenError("this phone is on file for another woman of the hospital")
        old = patient.phone_sealed
        patient.phone_sealed = cipher.seal(phone)
        patient.phone_hash = sign_in_codes.phone_hash(cipher, phone)
        consents.bind(
            session, cipher, hospital_id=hospital_id, patient_id=patient_id, kind="phone", value=phone, at=now
        )
        session.add(
            ContactChange(
                hospital_id=hospital_id, patient_id=patient_id, field="phone", old_sealed=old,
                new_sealed=patient.phone_sealed, how=HOW, changed_by=actor.label, changed_at=now,
            )
        )  # fmt: skip
        audit(session, actor, "change", now, f"her phone changed ({HOW})", patient_id=patient_id)
    return True
