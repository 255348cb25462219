"""The staff's queue of her requests (store/request_handling.py): a deletion is explained, not
carried out, while her pregnancy is ongoing; carried out after, keeping the medical records; a
correction of her name or phone goes through a patient.updated event, as the HIS's does."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

import carepath.store.models_requests
from carepath.store import her_requests, request_handling
from carepath.store.models import AuditEntry, ChannelBinding, Consent, EventRecord, Patient, Pregnancy
from carepath.store.scope import Actor
from tests.conftest import NOW
from tests.webapi.conftest import Api
from tests.webapi.h5.conftest import register

NURSE = Actor("a", "staff", "7")


def services(app: Flask) -> tuple[Any, Any]:
    return app.extensions["carepath.db"], app.extensions["carepath.cipher"]


def ask(app: Flask, patient_id: int, kind: str, text: str = "") -> int:
    db, cipher = services(app)
    view, _ = her_requests.submit(
        db, cipher, hospital_id="a", patient_id=patient_id, kind=kind, text=text, now=NOW
    )
    return view.id


def end_pregnancy(api: Api, his_id: str) -> None:
    answer = api.post(
        "/api/v1/events",
        {
            "id": f"end-{his_id}",
            "type": "pregnancy.ended",
            "occurred_at": "2026-07-10T14:30:00+08:00",
            "patient": {"his_id": his_id},
            "data": {"reason": "自然流产"},
        },
    )
    assert answer.status_code in (200, 201, 202), answer.get_json()


def test_a_deletion_while_her_pregnancy_is_ongoing_is_explained_not_executed(app: Flask, api: Api) -> None:
    db, cipher = services(app)
    her = register(api, "p-601", 601, phone="13900000601")
    asked = ask(app, her, "deletion", "请删除我的信息")
    waiting, _ = request_handling.queue(db, cipher, NURSE, NOW)
    [item] = [i for i in waiting if i.request.id == asked]
    assert item.ongoing_pregnancy and item.name == "王**" and item.phone == "139****0601"
    with db.reading() as session:
        consents_before = session.scalar(
            select(func.count()).select_from(Consent).where(Consent.withdrawn_at.is_(None))
        )
    with pytest.raises(request_handling.RequestHandlingError) as refused:
        request_handling.decide_deletion(db, cipher, NURSE, asked, outcome="done", decision="已删除", now=NOW)
    assert refused.value.code == "open-pregnancy"
    with db.reading() as session:  # nothing changed: the request still open, her consents as they were
        still = session.get(carepath.store.models_requests.HerRequest, asked)
        assert still is not None and still.status == "received"
        active = session.scalar(
            select(func.count()).select_from(Consent).where(Consent.withdrawn_at.is_(None))
        )
        assert active == consents_before
    answered = request_handling.decide_deletion(
        db, cipher, NURSE, asked, outcome="refused", decision="孕期保健仍在进行，病历需要保存。", now=NOW
    )
    assert (answered.status, answered.decided_by) == ("refused", "staff:7")
    seen = her_requests.get_for_patient(db, cipher, "a", her, request_id=asked, now=NOW)
    assert seen.status_zh == "未予办理" and "病历需要保存" in (seen.decision or "")


def test_a_deletion_after_her_pregnancy_ended_ends_bindings_and_consents_and_keeps_records(
    app: Flask, api: Api
) -> None:
    db, cipher = services(app)
    her = register(api, "p-602", 602, phone="13900000602")
    end_pregnancy(api, "p-602")
    asked = ask(app, her, "deletion")
    later = NOW + timedelta(hours=1)
    done = request_handling.decide_deletion(
        db, cipher, NURSE, asked, outcome="done", decision="已解除绑定，病历依法保存。", now=later
    )
    assert done.status == "done"
    with db.reading() as session:
        assert (
            session.scalar(
                select(func.count())
                .select_from(Consent)
                .where(Consent.patient_id == her, Consent.withdrawn_at.is_(None))
            )
            == 0
        )
        bindings = session.scalars(select(ChannelBinding).where(ChannelBinding.patient_id == her)).all()
        assert all(b.unbound_at == later and b.value is None and b.value_sealed is None for b in bindings)
        assert (
            session.scalar(select(func.count()).select_from(Pregnancy).where(Pregnancy.patient_id == her))
            == 1
        )
        row = session.scalar(
            select(AuditEntry).where(
                AuditEntry.patient_id == her, AuditEntry.detail.like(f"her request {asked}: done%")
            )
        )
        assert row is not None and row.actor == "staff:7" and "medical records kept" in row.detail


def test_a_correction_of_her_name_and_phone_goes_through_a_patient_updated_event(
    app: Flask, api: Api
) -> None:
    db, cipher = services(app)
    her = register(api, "p-603", 603, phone="13900000603")
    name_asked = ask(app, her, "correction", "我的名字是王晓红")
    request_handling.decide_correction(
        db,
        cipher,
        NURSE,
        name_asked,
        outcome="done",
        decision="已更正。",
        field="name",
        value=" 王晓红 ",
        now=NOW,
    )
    phone_asked = ask(app, her, "correction", "手机号换了")
    with pytest.raises(request_handling.RequestHandlingError) as bad:
        request_handling.decide_correction(
            db,
            cipher,
            NURSE,
            phone_asked,
            outcome="done",
            decision="已更正。",
            field="phone",
            value="12345",
            now=NOW,
        )
    assert bad.value.code == "bad-value"
    request_handling.decide_correction(
        db, cipher, NURSE, phone_asked, outcome="done", decision="已更正。", field="phone", value="139-0000-0699",
        now=NOW,
    )  # fmt: skip
    with db.reading() as session:
        patient = session.get(Patient, her)
        assert patient is not None
        assert cipher.open(patient.name_sealed) == "王晓红" and patient.name_hash == cipher.name_hash(
            "王晓红"
        )
        assert cipher.open(patient.phone_sealed) == "13900000699"
        recorded = session.scalars(
            select(EventRecord.type).where(EventRecord.event_id.like("staff-7-request-%"))
        ).all()
        assert recorded == ["patient.updated", "patient.updated"]


def test_another_correction_is_answered_in_words_and_another_hospital_sees_nothing(
    app: Flask, api: Api
) -> None:
    db, cipher = services(app)
    her = register(api, "p-604", 604)
    asked = ask(app, her, "correction", "预产期不对")
    with pytest.raises(her_requests.HerRequestNotFoundError):
        request_handling.decide_correction(
            db, cipher, Actor("b", "staff", "9"), asked, outcome="done", decision="x", field="other", now=NOW
        )
    with pytest.raises(request_handling.RequestHandlingError) as wrong:
        request_handling.decide_deletion(db, cipher, NURSE, asked, outcome="refused", decision="x", now=NOW)
    assert wrong.value.code == "wrong-kind"
    done = request_handling.decide_correction(
        db,
        cipher,
        NURSE,
        asked,
        outcome="done",
        decision="预产期以B超核对为准，已在病历中更正。",
        field="other",
        now=NOW,
    )
    assert done.status == "done"
    waiting, decided = request_handling.queue(db, cipher, NURSE, NOW)
    assert asked not in [i.request.id for i in waiting] and asked in [i.request.id for i in decided]
    assert request_handling.queue(db, cipher, Actor("b", "staff", "9"), NOW) == ([], [])
