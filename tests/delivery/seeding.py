"""Many pregnancies with consents, bindings and one due outbox row each, inserted in bulk (one
transaction, a handful of executemany statements), for the 2,000-row fault test and
``bench/delivery.py``. Pregnancy ``n`` is ``preg-n`` with the row ``k-n``, the openid ``o-n``
(when ``openid(n)``) and the phone ``138`` + n in eight digits (when ``phone(n)``)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert

HOSPITAL = "h1"
OA_APPID = "wx-hospital"


def phone(n: int) -> str:
    return f"138{n:08d}"


def add_many(
    db: Any,
    cipher: Any,
    count: int,
    *,
    now: datetime,
    openid: Callable[[int], bool] = lambda n: True,
    phone_of: Callable[[int], bool] = lambda n: True,
    channels: tuple[str, ...] = ("wechat", "sms"),
    hospital: str = HOSPITAL,
) -> None:
    from carepath.store.models import ChannelBinding, Consent, OutboxRow, Patient, Pregnancy

    with db.transaction() as session:
        patient_ids = list(
            session.scalars(
                insert(Patient).returning(Patient.id, sort_by_parameter_order=True),
                [
                    {"hospital_id": hospital, "his_patient_id": f"p-{n}", "created_at": now}
                    for n in range(count)
                ],
            )
        )
        session.execute(
            insert(Pregnancy),
            [
                {"id": f"preg-{n}", "hospital_id": hospital, "patient_id": patient_ids[n], "number": 1,
                 "status": "pregnant", "state": {}, "created_at": now, "updated_at": now}
                for n in range(count)
            ],
        )  # fmt: skip
        consent = {"hospital_id": hospital, "granted": True, "notice_version": "2026-01",
                   "source": "mini-program", "given_at": now}  # fmt: skip
        consents = []
        bindings = []
        for n, patient in enumerate(patient_ids):
            consents.append({**consent, "patient_id": patient, "channel": "*", "topic": "health-information"})
            for adapter in ("wechat_template", "sms_tencent"):
                consents.append({**consent, "patient_id": patient, "channel": adapter, "topic": "*"})
            if openid(n):
                bindings.append(
                    {"hospital_id": hospital, "patient_id": patient, "kind": "wechat_oa", "account": OA_APPID,
                     "value": f"o-{n}", "value_sealed": None, "value_hash": None, "bound_at": now}
                )  # fmt: skip
            if phone_of(n):
                bindings.append(
                    {"hospital_id": hospital, "patient_id": patient, "kind": "phone", "account": "",
                     "value": None, "value_sealed": cipher.seal(phone(n)),
                     "value_hash": cipher.lookup_hash("phone", phone(n)), "bound_at": now}
                )  # fmt: skip
        session.execute(insert(Consent), consents)
        if bindings:
            session.execute(insert(ChannelBinding), bindings)
        session.execute(
            insert(OutboxRow),
            [
                {"hospital_id": hospital, "pregnancy_id": f"preg-{n}", "dedupe_key": f"k-{n}", "pathway_id": "anc",
                 "version": "1", "rule_id": "r", "kind": "remind", "params": {"visit": "anc-2"},
                 "due_at": now - timedelta(minutes=5), "channels": list(channels), "enrolment_id": "e",
                 "why": "test", "status": "due", "attempts": 0, "created_at": now, "updated_at": now}
                for n in range(count)
            ],
        )  # fmt: skip
