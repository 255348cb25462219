"""Her requests (store/her_requests.py): one open request per identical ask, staff decide each
once with a reply, another hospital sees none of them; the retention_notice setting."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from flask import Flask

import carepath.store.models_requests  # noqa: F401  (its tables, until tests/conftest.py lists it)
from carepath.store import her_requests, hospital_settings
from carepath.store.hospital_settings import InvalidSettingsError
from carepath.store.scope import Actor
from tests.conftest import NOW
from tests.webapi.conftest import Api
from tests.webapi.h5.conftest import register

NURSE = Actor("a", "staff", "7")


def services(app: Flask) -> tuple[Any, Any]:
    return app.extensions["carepath.db"], app.extensions["carepath.cipher"]


def test_the_same_ask_while_open_is_one_request(app: Flask, api: Api) -> None:
    db, cipher = services(app)
    her = register(api, "p-501", 501, phone="13900000501")
    first, created = her_requests.submit(
        db, cipher, hospital_id="a", patient_id=her, kind="deletion", text="删掉", now=NOW
    )
    again, created_again = her_requests.submit(
        db, cipher, hospital_id="a", patient_id=her, kind="deletion", text="请全部删掉", now=NOW
    )
    assert created and not created_again and again.id == first.id  # one open deletion request
    one, _ = her_requests.submit(
        db, cipher, hospital_id="a", patient_id=her, kind="correction", text="生日 错了", now=NOW
    )
    same, new = her_requests.submit(
        db, cipher, hospital_id="a", patient_id=her, kind="correction", text=" 生日  错了 ", now=NOW
    )
    other, other_new = her_requests.submit(
        db, cipher, hospital_id="a", patient_id=her, kind="correction", text="地址错了", now=NOW
    )
    assert (same.id, new) == (one.id, False) and other_new and other.id != one.id
    listed = her_requests.list_for_patient(db, cipher, "a", her, NOW)
    assert [r.kind for r in listed] == ["correction", "correction", "deletion"]


def test_staff_decide_once_with_a_reply_in_their_own_hospital(app: Flask, api: Api) -> None:
    db, cipher = services(app)
    her = register(api, "p-502", 502, phone="13900000502")
    asked, _ = her_requests.submit(
        db, cipher, hospital_id="a", patient_id=her, kind="deletion", text="", now=NOW
    )
    with pytest.raises(her_requests.HerRequestNotFoundError):
        her_requests.start_review(db, cipher, Actor("b", "staff", "9"), asked.id, NOW)
    with pytest.raises(her_requests.HerRequestError) as empty:
        her_requests.decide(db, cipher, NURSE, asked.id, outcome="refused", decision=" ", now=NOW)
    assert empty.value.code == "no-decision"
    with pytest.raises(her_requests.HerRequestError) as odd:
        her_requests.decide(db, cipher, NURSE, asked.id, outcome="deleted", decision="x", now=NOW)
    assert odd.value.code == "bad-outcome"
    reviewing = her_requests.start_review(db, cipher, NURSE, asked.id, NOW)
    assert (reviewing.status, reviewing.review_started_at) == ("in_review", NOW)
    later = NOW + timedelta(days=2)
    refused = her_requests.decide(
        db, cipher, NURSE, asked.id, outcome="refused", decision="病历依法保存，不能删除。", now=later
    )
    assert (refused.status, refused.decided_by, refused.decided_at) == ("refused", "staff:7", later)
    with pytest.raises(her_requests.HerRequestError) as twice:
        her_requests.decide(db, cipher, NURSE, asked.id, outcome="done", decision="x", now=later)
    assert twice.value.code == "not-open"
    seen = her_requests.get_for_patient(db, cipher, "a", her, request_id=asked.id, now=later)
    assert seen.status_zh == "未予办理" and seen.decision == "病历依法保存，不能删除。"


def test_the_retention_notice_setting_keeps_lines_and_refuses_control_characters(app: Flask) -> None:
    db, _ = services(app)
    assert her_requests.retention_notice(db, "a") == her_requests.DEFAULT_RETENTION_NOTICE
    with db.transaction() as session:
        with pytest.raises(InvalidSettingsError) as bad:
            hospital_settings.update(session, "a", {"retention_notice": "病历\x07保存"}, actor=NURSE, now=NOW)
        assert bad.value.problems[0].code == "bad-text"
        with pytest.raises(InvalidSettingsError) as long:
            hospital_settings.update(session, "a", {"retention_notice": "长" * 2001}, actor=NURSE, now=NOW)
        assert long.value.problems[0].code == "too-long"
        hospital_settings.update(
            session, "a", {"retention_notice": "  第一段\r\n第二段  "}, actor=NURSE, now=NOW
        )
    assert her_requests.retention_notice(db, "a") == "第一段\n第二段"
    assert her_requests.retention_notice(db, "b") == her_requests.DEFAULT_RETENTION_NOTICE
