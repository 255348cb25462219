"""A migrated database (SQLite, and PostgreSQL when configured) with one hospital and helpers
that seed pregnancies, consents, bindings and outbox rows directly."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest

from tests.conftest import FIELD_KEYS, LOOKUP_KEY, NOW, empty_tables

HOSPITAL = "h1"
OA_APPID = "wx-hospital"


@pytest.fixture
def cipher() -> Any:
    from carepath.store.crypto import FieldCipher

    return FieldCipher.from_config(FIELD_KEYS, LOOKUP_KEY)


@pytest.fixture
def db(database_url: str) -> Iterator[Any]:
    from carepath.store import tenants
    from carepath.store.db import Database

    database = Database(database_url)
    empty_tables(database)
    with database.transaction() as session:
        tenants.ensure_hospital(session, HOSPITAL, "hospital one", NOW)
    yield database
    database.dispose()


def add_pregnancy(
    db: Any,
    cipher: Any,
    n: int,
    *,
    consent: bool = True,
    channels: tuple[str, ...] = ("wechat_template", "sms_tencent"),
    openid: str | None = None,
    phone: str | None = "13800000000",
    hospital: str = HOSPITAL,
    account: str = OA_APPID,
) -> tuple[int, str]:
    from carepath.store import consents
    from carepath.store.models import Patient, Pregnancy

    with db.transaction() as session:
        patient = Patient(hospital_id=hospital, his_patient_id=f"p-{n}", created_at=NOW)
        session.add(patient)
        session.flush()
        pregnancy = Pregnancy(
            id=f"preg-{n}",
            hospital_id=hospital,
            patient_id=patient.id,
            number=1,
            status="pregnant",
            state={},
            created_at=NOW,
            updated_at=NOW,
        )
        session.add(pregnancy)
        session.flush()
        if consent:
            common = {"hospital_id": hospital, "patient_id": patient.id, "notice_version": "2026-01"}
            consents.record_consent(
                session, **common, channel="*", topic="health-information", source="mini-program", at=NOW
            )
            for channel in channels:
                consents.record_consent(
                    session, **common, channel=channel, topic="*", source="mini-program", at=NOW
                )
        if openid is not None:
            consents.bind(
                session, cipher, hospital_id=hospital, patient_id=patient.id, kind="wechat_oa",
                value=openid, account=account, at=NOW,
            )  # fmt: skip
        if phone is not None:
            consents.bind(
                session,
                cipher,
                hospital_id=hospital,
                patient_id=patient.id,
                kind="phone",
                value=phone,
                at=NOW,
            )
        return patient.id, pregnancy.id


def add_outbox(
    db: Any,
    pregnancy_id: str,
    key: str,
    *,
    kind: str = "remind",
    status: str = "due",
    due_at: datetime | None = None,
    channels: list[str] | None = None,
    params: dict[str, Any] | None = None,
    pathway: str = "anc",
    hospital: str = HOSPITAL,
) -> None:
    from carepath.store.models import OutboxRow

    with db.transaction() as session:
        session.add(
            OutboxRow(
                hospital_id=hospital,
                pregnancy_id=pregnancy_id,
                dedupe_key=key,
                pathway_id=pathway,
                version="1",
                rule_id="r",
                kind=kind,
                params=params if params is not None else {"visit": "anc-2"},
                due_at=due_at or NOW - timedelta(minutes=5),
                channels=channels or [],
                enrolment_id="e",
                why="test",
                status=status,
                attempts=0,
                created_at=NOW,
                updated_at=NOW,
            )
        )
