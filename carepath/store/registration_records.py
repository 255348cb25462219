"""What her registration writes beside her patient and pregnancy rows (``registration.py``):
the ``patient.registered`` event the form says, the risk screen as a questionnaire response,
and her consents, each its own row with the notice version and her source."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, update
from sqlalchemy.orm import Session

from carepath.engine.forms import score
from carepath.store import consents as consent_rows
from carepath.store import events
from carepath.store.crypto import FieldCipher
from carepath.store.event_input import HisEvent, InvalidEventError, body_hash, parse_event
from carepath.store.models import Consent, Patient, Pregnancy
from carepath.store.models_registration import Registration
from carepath.store.registration_form import SCREEN_FORM, CheckedForm, RegistrationInvalidError, screen_form
from carepath.store.scope import Actor

EVENT_PREFIX = "h5-register:"
#: The channels each consent box of the form stands for (the adapters that carry it).
CHANNEL_CONSENTS = {"wechat": ("wechat_template",), "sms": ("sms_tencent", "sms_aliyun")}
PRIVACY_NOTICE = "privacy-notice"
GUARDIAN_CONSENT = "guardian"


def registration_event(row: Registration, form: CheckedForm, now: datetime) -> HisEvent:
    """The ``patient.registered`` event the form says, checked as the HIS's are."""
    patient: dict[str, Any] = {"id_number": form.id_number, "phone": form.phone, "name": form.name}
    if form.id_type != "resident":
        patient["id_type"] = form.id_type
    raw = {
        "id": f"{EVENT_PREFIX}{row.token}",
        "type": "patient.registered",
        "occurred_at": now.isoformat(),
        "patient": patient,
        "data": form.event_data(now),
    }
    try:
        return parse_event(raw, now)
    except InvalidEventError as error:  # the form's own checks should have said it first
        raise RegistrationInvalidError({"form": "填写的内容无法建档，请核对后重试"}) from error


def screen(
    session: Session,
    cipher: FieldCipher,
    actor: Actor,
    row: Registration,
    form: CheckedForm,
    *,
    patient: Patient,
    pregnancy: Pregnancy,
    now: datetime,
) -> None:
    """The risk screen as a questionnaire response of her pregnancy: its rules suggest a colour."""
    event = HisEvent(
        id=f"{EVENT_PREFIX}{row.token}:screen",
        type="questionnaire.submitted",
        occurred_at=now,
        data={"form": SCREEN_FORM, "answers": form.screen},
        his_id=None,
        id_number=None,
        phone=None,
        name=None,
        pregnancy=None,
        body_hash=body_hash({"screen": form.screen}),
    )
    result = score(screen_form(), form.screen)
    scored = {
        "total": result.total,
        "max_total": result.max_total,
        "complete": result.complete,
        "band": result.band,
        "band_label": result.band_label,
        "flags": list(result.flags),
    }  # written with the response's row
    events.record(session, cipher, actor, event, now, resolved=(patient, pregnancy), scored=scored)


def consents(
    session: Session,
    patient: Patient,
    pregnancy: Pregnancy,
    form: CheckedForm,
    *,
    source: str,
    now: datetime,
    new_patient: bool = False,
) -> None:
    """Each consent as its own row, with the notice version and her source: the notice read,
    the separate health-information consent, each channel's yes or no, her guardian's. Her
    earlier word on the same channel and topic is withdrawn (the latest counts), in one
    statement for all of them (``consents.record_consent`` would take two per row); a
    ``new_patient`` (her row made in this transaction) has no earlier word. At the desk the
    form says how she gave them (``method``: paper or tablet), and ``source`` names the nurse."""
    common = {"hospital_id": patient.hospital_id, "patient_id": patient.id, "given_at": now,
              "notice_version": form.notice_version, "method": form.consent_method}  # fmt: skip
    rows = [
        Consent(**common, channel=consent_rows.ANY, topic=PRIVACY_NOTICE, granted=True, source=source),
        Consent(
            **common,
            channel=consent_rows.ANY,
            topic=consent_rows.HEALTH_INFORMATION,
            granted=True,
            source=source,
        ),
    ]
    for box, given in (("wechat", form.consent_wechat), ("sms", form.consent_sms)):
        rows += [
            Consent(**common, channel=adapter, topic=consent_rows.ANY, granted=given, source=source)
            for adapter in CHANNEL_CONSENTS[box]
        ]
    if form.guardian is not None:  # PIPL art. 31: her guardian's, for this pregnancy's record
        by = f"guardian:{form.guardian['relation']}"
        rows.append(
            Consent(**common, channel=consent_rows.ANY, topic=GUARDIAN_CONSENT, granted=True, source=by,
                    pregnancy_id=pregnancy.id)
        )  # fmt: skip
    if new_patient:
        session.add_all(rows)
        return
    session.execute(
        update(Consent)
        .where(
            Consent.patient_id == patient.id,
            Consent.withdrawn_at.is_(None),
            or_(*(and_(Consent.channel == row.channel, Consent.topic == row.topic) for row in rows)),
        )
        .values(withdrawn_at=now)
        .execution_options(synchronize_session=False)
    )
    session.add_all(rows)
