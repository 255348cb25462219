"""Her data and rights (我的数据): what is held, shown to her alone; her phone changed only with a
code to the new number; her consent per channel withdrawn and given again (the dispatcher sees
it); her copy as JSON and print, nothing of another woman; her requests, not duplicated; every
bad input refused in Chinese, every read audited."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

import carepath.store.models_requests  # noqa: F401  (its tables, until tests/conftest.py lists it)
from tests.conftest import NOW
from tests.fakes.providers import FakeProviders
from tests.webapi.conftest import Api, diagnosis
from tests.webapi.h5.conftest import csrf_of, register, sign_in_as
from tests.webapi.h5.test_her_inbox import file_item
from tests.webapi.h5.test_sign_in import channels_file, sent_codes

PAGE = "/h5/my-data"


@pytest.fixture
def fake() -> Iterator[FakeProviders]:
    with FakeProviders() as providers:
        yield providers


@pytest.fixture
def signing_in(
    app: Flask, fake: FakeProviders, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Flask]:
    """Her hospital's SMS through the fake Tencent (as tests/webapi/h5/test_sign_in.py's)."""
    monkeypatch.setenv("CAREPATH_TEST_WX_SECRET", "wx-secret")
    monkeypatch.setenv("CAREPATH_TEST_TENCENT_ID", "AKIDfake")
    monkeypatch.setenv("CAREPATH_TEST_TENCENT_KEY", "tencent-secret")
    app.config["CHANNELS_CONFIG"] = str(channels_file(tmp_path, fake))
    yield app
    setup = app.extensions.pop("carepath.sign_in", None)
    if setup is not None:
        setup.close()


def give_consents(app: Flask, patient: int, *channels: str) -> None:
    from carepath.store import consents

    with app.extensions["carepath.db"].transaction() as session:
        common = {
            "hospital_id": "a",
            "patient_id": patient,
            "notice_version": "2026-01",
            "source": "his",
            "at": NOW,
        }
        consents.record_consent(session, **common, channel="*", topic="health-information")
        for channel in channels:
            consents.record_consent(session, **common, channel=channel, topic="*")


def answer(app: Flask, patient: int, notes: str, systolic: int = 128) -> None:
    """A BP log of hers, as the responses service files it."""
    from carepath.store.models import Pregnancy, QuestionnaireResponse

    with app.extensions["carepath.db"].transaction() as session:
        pregnancy = session.scalars(select(Pregnancy).where(Pregnancy.patient_id == patient)).one()
        session.add(
            QuestionnaireResponse(
                hospital_id="a", pregnancy_id=pregnancy.id, form="bp-log", submitted_at=NOW,
                answers={"measured_on": "2026-07-10", "time_of_day": "morning", "systolic": systolic,
                         "diastolic": 80, "symptoms": ["headache"], "notes": notes},
            )
        )  # fmt: skip


def audited(app: Flask, patient: int, action: str) -> list[str]:
    from carepath.store.models import AuditEntry

    with app.extensions["carepath.db"].reading() as session:
        return list(
            session.scalars(
                select(AuditEntry.detail).where(
                    AuditEntry.patient_id == patient,
                    AuditEntry.action == action,
                    AuditEntry.actor == f"patient:{patient}",
                )
            )
        )


def post(client: FlaskClient, path: str, data: dict[str, str], page: str = PAGE) -> Any:
    token = csrf_of(client.get(page).get_data(as_text=True))
    return client.post(path, data={"csrf_token": token, **data})


def two_women(app: Flask, api: Api) -> tuple[int, int, FlaskClient]:
    her = register(api, "p-401", 401, phone="13900000401", name="王小红")
    other = register(api, "p-402", 402, phone="13900000402", name="李秀英")
    api.post("/api/v1/events", diagnosis("p-401", "dx-401"))
    give_consents(app, her, "sms_tencent", "wechat_template")
    answer(app, her, "她的备注：早上有点头晕")
    answer(app, other, "另一位的备注：不要给别人看", systolic=150)
    file_item(app, her, "k-her-401", title="她的孕期课程", body="她的正文")
    file_item(app, other, "k-other-402", title="别人的孕期课程", body="别人的正文")
    client = app.test_client()
    sign_in_as(client, app, her)
    return her, other, client


def test_she_sees_what_is_held_about_her_unmasked_and_private(app: Flask, api: Api) -> None:
    her, other, client = two_women(app, api)
    answer_ = client.get(PAGE)
    page = answer_.get_data(as_text=True)
    assert answer_.status_code == 200 and answer_.headers["Cache-Control"] == "no-store"
    for shown in ("王小红", "13900000401", "妊娠期糖尿病", "家庭血压记录", "收缩压（高压）", "头痛",
                  "她的备注：早上有点头晕", "短信", "接收中", "处理我的健康信息", "她的孕期课程"):  # fmt: skip
        assert shown in page, shown
    assert "李秀英" not in page and "另一位的备注" not in page and "13900000402" not in page
    assert "别人的孕期课程" not in page
    assert "bp-log" not in page  # titles, not ids
    assert audited(app, her, "read") == ["her data page"]
    assert audited(app, other, "read") == []


def test_the_download_is_hers_alone_with_her_answers_and_audited(app: Flask, api: Api) -> None:
    her, _, client = two_women(app, api)
    answer_ = client.get(f"{PAGE}/download.json")
    assert answer_.status_code == 200 and "attachment" in answer_.headers["Content-Disposition"]
    assert answer_.headers["Cache-Control"] == "no-store"
    data = json.loads(answer_.get_data(as_text=True))
    assert data["format"] == "carepath-her-data/1"
    assert data["identity"]["name"] == "王小红" and data["identity"]["phone"] == "13900000401"
    [response] = data["answers"]
    assert response["title"] == "家庭血压记录"
    notes = next(a for a in response["answers"] if a["item"] == "notes")
    assert notes["answer"] == "她的备注：早上有点头晕"
    shown = {a["question"]: a["answer"] for a in response["answers"]}
    assert shown["测量日期"] == "2026年7月10日" and shown["收缩压（高压）"] == "128 mmHg"
    assert shown["现在有没有以下感觉（可多选）"] == "头痛" and shown["测量时间"] == "上午"
    assert [d["code"] for d in data["pregnancies"][0]["diagnoses"]] == ["O24.401"]
    assert {c["channel"] for c in data["consents"]} >= {"sms_tencent", "wechat_template"}
    text = json.dumps(data, ensure_ascii=False)
    assert [m["title"] for m in data["messages"]] == ["她的孕期课程"] and data["messages"][0][
        "body"
    ] == "她的正文"
    assert "李秀英" not in text and "另一位的备注" not in text and "13900000402" not in text
    assert "别人的" not in text
    assert audited(app, her, "export") == ["her data, json: 1 message(s), 1 answer(s)"]

    printed = client.get(f"{PAGE}/print")
    page = printed.get_data(as_text=True)
    assert printed.status_code == 200 and "她的备注：早上有点头晕" in page and "另一位的备注" not in page
    assert "她的正文" in page and "别人的" not in page
    assert "<form" not in page  # nothing to post from the printable copy
    assert len(audited(app, her, "export")) == 2


def test_withdrawing_sms_stops_the_next_message_by_sms_and_giving_again_restores_it(
    app: Flask,
    api: Api,
    fake: FakeProviders,
) -> None:
    from carepath.delivery.dispatcher import dispatch_once
    from carepath.store import consents
    from carepath.store.models import OutboxRow, Pregnancy
    from tests.delivery.test_dispatcher import hospital_delivery

    her = register(api, "p-411", 411, phone="13900000411")
    give_consents(app, her, "sms_tencent")
    db, cipher = app.extensions["carepath.db"], app.extensions["carepath.cipher"]
    with db.transaction() as session:
        consents.bind(
            session, cipher, hospital_id="a", patient_id=her, kind="phone", value="13900000411", at=NOW
        )
    with db.reading() as session:
        pregnancy = session.scalars(select(Pregnancy).where(Pregnancy.patient_id == her)).one().id

    def due(key: str) -> None:
        with db.transaction() as session:
            session.add(
                OutboxRow(
                    hospital_id="a", pregnancy_id=pregnancy, dedupe_key=key, pathway_id="anc", version="1",
                    rule_id="r", kind="remind", params={"visit": "anc-2"}, due_at=NOW - timedelta(minutes=5),
                    channels=["sms"], enrolment_id="e", why="test", status="due", attempts=0,
                    created_at=NOW, updated_at=NOW,
                )
            )  # fmt: skip

    def row(key: str) -> OutboxRow:
        with db.reading() as session:
            return session.scalars(select(OutboxRow).where(OutboxRow.dedupe_key == key)).one()

    import httpx

    with httpx.Client() as http:
        setup = hospital_delivery(fake, http)
        client = app.test_client()
        sign_in_as(client, app, her)
        stopped = post(client, f"{PAGE}/consent", {"channel": "sms", "give": "0"})
        assert stopped.status_code == 303 and stopped.headers["Location"].endswith("?done=sms-off#channels")
        page = client.get(stopped.headers["Location"]).get_data(as_text=True)
        assert "已停止通过短信给您发消息" in page and "恢复通过短信通知我" in page
        due("k-after-withdrawal")
        dispatch_once(db, NOW, lambda h: setup, cipher=cipher)
        assert row("k-after-withdrawal").channel != "sms_tencent"
        assert row("k-after-withdrawal").status_reason == "no-consent"
        assert fake.count("tencent.sms") == 0

        again = post(client, f"{PAGE}/consent", {"channel": "sms", "give": "1"})
        assert again.status_code == 303 and again.headers["Location"].endswith("?done=sms-on#channels")
        due("k-after-consent")
        dispatch_once(db, NOW + timedelta(minutes=1), lambda h: setup, cipher=cipher)
        assert (row("k-after-consent").status, row("k-after-consent").channel) == ("sent", "sms_tencent")
        assert fake.count("tencent.sms") == 1
    changes = audited(app, her, "change")
    assert "consent withdrawn on her data page: sms (1 row(s))" in changes
    assert "consent given on her data page: sms (2 row(s))" in changes


def test_a_form_without_its_csrf_token_is_refused_and_changes_nothing(app: Flask, api: Api) -> None:
    her = register(api, "p-412", 412, phone="13900000412")
    give_consents(app, her, "sms_tencent")
    client = app.test_client()
    sign_in_as(client, app, her)
    for path, data in (
        (f"{PAGE}/consent", {"channel": "sms", "give": "0"}),
        (f"{PAGE}/requests", {"kind": "deletion", "text": ""}),
        (f"{PAGE}/phone", {"phone": "13900000499"}),
    ):
        refused = client.post(path, data=data)
        assert refused.status_code == 400 and "页面已过期" in refused.get_data(as_text=True)
    assert "接收中" in client.get(PAGE).get_data(as_text=True)
    assert audited(app, her, "change") == []


def test_nobody_signed_in_goes_to_the_sign_in(app: Flask) -> None:
    client = app.test_client()
    for path in (PAGE, f"{PAGE}/download.json", f"{PAGE}/print"):
        answer_ = client.get(path)
        assert answer_.status_code == 302 and "/h5/sign-in" in answer_.headers["Location"]


# --- her requests ------------------------------------------------------------------------------


def test_she_asks_for_deletion_once_and_sees_the_hospitals_retention_text(app: Flask, api: Api) -> None:
    from carepath.store import her_requests
    from carepath.store.models_requests import HerRequest

    her = register(api, "p-421", 421, phone="13900000421")
    client = app.test_client()
    sign_in_as(client, app, her)
    page = client.get(PAGE).get_data(as_text=True)
    assert "医院会按照法律法规的要求保存您的病历" in page  # the draft default
    asked = post(client, f"{PAGE}/requests", {"kind": "deletion", "text": "请删除我的微信绑定"})
    assert asked.status_code == 303
    again = post(client, f"{PAGE}/requests", {"kind": "deletion", "text": "请删除我的微信绑定"})
    assert again.headers["Location"] == asked.headers["Location"]
    shown = client.get(asked.headers["Location"]).get_data(as_text=True)
    assert "删除我的个人信息" in shown and "已收到" in shown and "请删除我的微信绑定" in shown
    with app.extensions["carepath.db"].reading() as session:
        [row] = session.scalars(select(HerRequest)).all()
        assert row.status == "received" and "请删除" not in (row.text_sealed or "")  # sealed
        assert row.retention_notice == her_requests.DEFAULT_RETENTION_NOTICE
    assert any("deletion received" in d for d in audited(app, her, "change"))


def test_a_hospitals_own_retention_text_is_shown(app: Flask, api: Api) -> None:
    from carepath.store import hospital_settings
    from carepath.store.scope import Actor

    with app.extensions["carepath.db"].transaction() as session:
        hospital_settings.update(
            session, "a", {"retention_notice": "本院依法保存病历。\n其他信息将在 15 个工作日内答复。"},
            actor=Actor("a", "cli", "test"), now=NOW,
        )  # fmt: skip
    her = register(api, "p-422", 422, phone="13900000422")
    client = app.test_client()
    sign_in_as(client, app, her)
    page = client.get(PAGE).get_data(as_text=True)
    assert "本院依法保存病历。\n其他信息将在 15 个工作日内答复。" in page
    assert "医院会按照法律法规的要求" not in page


def test_a_correction_must_say_what_and_a_decision_closes_it(app: Flask, api: Api) -> None:
    from carepath.store import her_requests
    from carepath.store.scope import Actor

    her = register(api, "p-423", 423, phone="13900000423")
    client = app.test_client()
    sign_in_as(client, app, her)
    empty = post(client, f"{PAGE}/requests", {"kind": "correction", "text": "  "})
    assert empty.status_code == 422 and "请写明哪一项信息不对" in empty.get_data(as_text=True)
    bad_kind = post(client, f"{PAGE}/requests", {"kind": "everything", "text": "x"})
    assert bad_kind.status_code == 422 and "请选择申请的类型" in bad_kind.get_data(as_text=True)
    asked = post(client, f"{PAGE}/requests", {"kind": "correction", "text": "末次月经应为1月6日"})
    request_id = int(asked.headers["Location"].rsplit("/", 1)[1])
    db, cipher = app.extensions["carepath.db"], app.extensions["carepath.cipher"]
    nurse = Actor("a", "staff", "7")
    assert [r.id for r in her_requests.list_open(db, cipher, nurse, NOW)] == [request_id]
    assert her_requests.list_open(db, cipher, Actor("b", "staff", "8"), NOW) == []
    her_requests.start_review(db, cipher, nurse, request_id, NOW)
    decided = her_requests.decide(
        db, cipher, nurse, request_id, outcome="done", decision="已在病历中更正末次月经。", now=NOW
    )
    assert (decided.status, decided.decided_by) == ("done", "staff:7")
    shown = client.get(asked.headers["Location"]).get_data(as_text=True)
    assert "已办理" in shown and "已在病历中更正末次月经。" in shown
    assert her_requests.list_open(db, cipher, nurse, NOW) == []
    # decided: the same text again is a new request
    again = post(client, f"{PAGE}/requests", {"kind": "correction", "text": "末次月经应为1月6日"})
    assert again.headers["Location"] != asked.headers["Location"]


def test_another_womans_request_is_404_and_audited(app: Flask, api: Api) -> None:
    from carepath.store.models import AuditEntry

    her = register(api, "p-424", 424, phone="13900000424")
    other = register(api, "p-425", 425, phone="13900000425")
    theirs = app.test_client()
    sign_in_as(theirs, app, other)
    asked = post(theirs, f"{PAGE}/requests", {"kind": "correction", "text": "另一位的秘密更正"})
    foreign = asked.headers["Location"]
    client = app.test_client()
    sign_in_as(client, app, her)
    for path in (foreign, f"{PAGE}/requests/999999", f"{PAGE}/requests/{2**40}"):
        answer_ = client.get(path)
        page = answer_.get_data(as_text=True)
        assert answer_.status_code == 404 and "没有这条内容" in page and "另一位的秘密更正" not in page
    with app.extensions["carepath.db"].reading() as session:
        rows = session.scalars(
            select(AuditEntry).where(AuditEntry.actor == f"patient:{her}", AuditEntry.action == "not-found")
        ).all()
    assert sum(r.count for r in rows) == 3 and "her-request" in rows[0].detail


# --- her phone ---------------------------------------------------------------------------------


def test_an_invalid_phone_is_a_field_error_in_chinese(
    signing_in: Flask, api: Api, fake: FakeProviders
) -> None:
    her = register(api, "p-431", 431, phone="13900000431")
    client = signing_in.test_client()
    sign_in_as(client, signing_in, her)
    for typed in ("12345", "1390000043x", "23900000431"):
        refused = post(client, f"{PAGE}/phone", {"phone": typed})
        page = refused.get_data(as_text=True)
        assert refused.status_code == 422 and "请输入中国大陆的 11 位手机号码" in page
        assert 'aria-invalid="true"' in page and f'value="{typed}"' in page
    assert sent_codes(fake) == []


def test_her_phone_changes_only_with_the_code_sent_to_the_new_number(
    signing_in: Flask,
    api: Api,
    fake: FakeProviders,
) -> None:
    from carepath.store.models import ChannelBinding, Patient
    from carepath.store.models_requests import ContactChange

    her = register(api, "p-432", 432, phone="13900000432")
    client = signing_in.test_client()
    sign_in_as(client, signing_in, her)
    asked = post(client, f"{PAGE}/phone", {"phone": "139 0000 0499"})
    assert asked.status_code == 200 and "13900000499" in asked.get_data(as_text=True)
    assert fake.delivered("tencent.sms")[-1].payload["PhoneNumberSet"] == ["+8613900000499"]
    (code,) = sent_codes(fake)
    token = csrf_of(asked.get_data(as_text=True))
    wrong = "000000" if code != "000000" else "111111"
    refused = client.post(f"{PAGE}/phone/verify", data={"csrf_token": token, "code": wrong})
    assert refused.status_code == 422 and "验证码不对，还可以再试 4 次" in refused.get_data(as_text=True)
    cipher = signing_in.extensions["carepath.cipher"]
    with signing_in.extensions["carepath.db"].reading() as session:
        assert cipher.open(session.get(Patient, her).phone_sealed) == "13900000432"  # type: ignore[union-attr]
    done = client.post(f"{PAGE}/phone/verify", data={"csrf_token": token, "code": code})
    assert done.status_code == 303 and "done=phone" in done.headers["Location"]
    page = client.get(done.headers["Location"]).get_data(as_text=True)
    assert "手机号已更新" in page and "手机号由 13900000432 改为 13900000499" in page
    with signing_in.extensions["carepath.db"].reading() as session:
        assert cipher.open(session.get(Patient, her).phone_sealed) == "13900000499"  # type: ignore[union-attr]
        phones = session.scalars(select(ChannelBinding).where(ChannelBinding.kind == "phone")).all()
        assert [(cipher.open(b.value_sealed or ""), b.unbound_at is None) for b in phones][-1] == (
            "13900000499",
            True,
        )
        assert len(session.scalars(select(ContactChange)).all()) == 1
    assert "her phone changed (h5:sms-code)" in audited(signing_in, her, "change")
    # the new phone signs her in; the old one no longer finds her
    from carepath.store import sign_in_codes

    db = signing_in.extensions["carepath.db"]
    later = NOW + timedelta(minutes=3)
    new_code = sign_in_codes.issue(db, cipher, "a", "13900000499", later)
    assert sign_in_codes.verify(db, cipher, "a", "13900000499", code=new_code, now=later) == her
    old_code = sign_in_codes.issue(db, cipher, "a", "13900000432", later)
    assert sign_in_codes.verify(db, cipher, "a", "13900000432", code=old_code, now=later) is None


def test_another_womans_phone_cannot_be_taken(signing_in: Flask, api: Api, fake: FakeProviders) -> None:
    from carepath.store.models import Patient

    her = register(api, "p-433", 433, phone="13900000433")
    register(api, "p-434", 434, phone="13900000434")
    client = signing_in.test_client()
    sign_in_as(client, signing_in, her)
    asked = post(client, f"{PAGE}/phone", {"phone": "13900000434"})
    (code,) = sent_codes(fake)
    taken = client.post(
        f"{PAGE}/phone/verify", data={"csrf_token": csrf_of(asked.get_data(as_text=True)), "code": code}
    )
    assert taken.status_code == 409 and "已登记在本院其他孕妇的档案中" in taken.get_data(as_text=True)
    cipher = signing_in.extensions["carepath.cipher"]
    with signing_in.extensions["carepath.db"].reading() as session:
        assert cipher.open(session.get(Patient, her).phone_sealed) == "13900000433"  # type: ignore[union-attr]


def test_a_code_without_asking_first_is_refused(signing_in: Flask, api: Api) -> None:
    her = register(api, "p-435", 435, phone="13900000435")
    client = signing_in.test_client()
    sign_in_as(client, signing_in, her)
    refused = post(client, f"{PAGE}/phone/verify", {"code": "123456"})
    assert refused.status_code == 400 and "请先填写新手机号并获取验证码" in refused.get_data(as_text=True)
