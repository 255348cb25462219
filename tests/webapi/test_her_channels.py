"""Issue 19 items 5 and 6 at the HTTP level, on SQLite and PostgreSQL: WeChat's callbacks
(signed as WeChat signs them) and the SMS vendors' reply callbacks go in over HTTP, the
dispatcher sends her next message against the fake providers, and the fake's counts say which
channel carried it. (The issue names these browser tests; they have no page of hers, so they
are HTTP tests: the callback, the dispatcher and what the fake provider received.)

- unfollow → her next message falls back (SMS, or her inbox without a phone); re-follow →
  WeChat again; a replayed event has one effect;
- SMS consent withdrawn → her next message goes through WeChat;
- a TD reply → SMS withdrawn (source ``sms-reply``) and confirmed by one SMS, her next
  message not by SMS; a replayed callback confirms nothing twice;
- a wrong secret → 404, audited, nothing recorded.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from carepath.delivery.dispatcher import dispatch_once
from carepath.store.models import AuditEntry, ChannelBinding, Consent, OutboxRow
from carepath.store.models_binding_events import BindingEvent
from tests.conftest import NOW
from tests.delivery.conftest import OA_APPID, add_outbox, add_pregnancy
from tests.delivery.test_dispatcher import TEMPLATES, client, fake, hospital_delivery  # noqa: F401
from tests.fakes.providers import FakeProviders
from tests.fakes.wechat_callbacks import callback, event_xml
from tests.webapi.conftest import Api

TOKEN = "token-of-hospital-a"
SECRET = "s3cret-path-of-hospital-a-0123456789"
ALIYUN_SECRET = "another-s3cret-for-aliyun-replies-abcdef"
HER, PHONE = "o-1", "13800000000"
CREATED = int(NOW.timestamp())
CONFIRMATION = "TPL-optout"
SMS_FIRST = ("sms_tencent", "wechat_template", "inbox")


def _close_reply_setup(app: Flask) -> None:
    setup = app.extensions.pop("carepath.sms_replies", None)
    if setup is not None:
        setup.close()  # its pooled connections to the fake


@pytest.fixture
def channels(
    app: Flask,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    fake: FakeProviders,  # noqa: F811
) -> Iterator[Flask]:
    """Hospital a's official account (callback token, a menu answer) and both SMS vendors
    (their sending keys, the confirmation's template and the reply paths' secrets), pointed at
    the fake providers."""
    for name, value in {
        "T_WX_TOKEN": TOKEN, "T_WX_SECRET": "wx-secret", "T_TC_ID": "AKIDfake", "T_TC_KEY": "tencent-secret",
        "T_ALI_ID": "LTAIfake", "T_ALI_KEY": "aliyun-secret", "T_REPLY": SECRET, "T_ALI_REPLY": ALIYUN_SECRET,
    }.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    config = {
        "hospital": "a",
        "channels": {
            "wechat_template": {
                "appid": OA_APPID, "secret_env": "T_WX_SECRET", "callback_token_env": "T_WX_TOKEN",
                "templates": TEMPLATES, "base_url": fake.base_url, "menu_replies": {"HELP": "急诊电话：120"},
            },
            "sms_tencent": {
                "secret_id_env": "T_TC_ID", "secret_key_env": "T_TC_KEY", "sdk_app_id": "1400006666",
                "sign_name": "市妇幼", "templates": {**TEMPLATES, "sms-opt-out-confirmed": CONFIRMATION},
                "endpoint": f"{fake.base_url}/tencent/", "reply_secret_env": "T_REPLY",
            },
            "sms_aliyun": {
                "access_key_id_env": "T_ALI_ID", "access_key_secret_env": "T_ALI_KEY", "sign_name": "市妇幼",
                "templates": {"sms-opt-out-confirmed": "SMS_100"}, "endpoint": f"{fake.base_url}/aliyun/",
                "reply_secret_env": "T_ALI_REPLY",
            },
        },
    }  # fmt: skip
    path = tmp_path / "a.yaml"
    path.write_text(json.dumps(config, ensure_ascii=False), encoding="utf-8")  # JSON is YAML
    app.config["CHANNELS_CONFIG"] = str(path)
    yield app
    _close_reply_setup(app)


@pytest.fixture
def her(channels: Flask) -> Iterator[str]:
    """Her pregnancy in hospital a: consent to WeChat and SMS, bound with both."""
    db, cipher = channels.extensions["carepath.db"], channels.extensions["carepath.cipher"]
    _, pregnancy = add_pregnancy(db, cipher, 1, openid=HER, phone=PHONE, hospital="a")
    yield pregnancy


def _event(app: Flask, event: str, key: str = "", *, created: int = CREATED) -> Any:
    query, body = callback(TOKEN, event_xml(HER, event, key, created=created))
    return app.test_client().post(
        f"/wechat/a/{OA_APPID}/events", query_string=query, data=body, content_type="text/xml"
    )


def _tencent_reply(
    app: Flask, text: str, *, mobile: str = PHONE, time: int = CREATED, secret: str = SECRET
) -> Any:
    body = {"extend": "", "mobile": mobile, "nationcode": "86", "sign": "市妇幼", "text": text, "time": time}
    return app.test_client().post(f"/sms/replies/{secret}", json=body)


def _next_message(
    app: Flask,
    fake: FakeProviders,  # noqa: F811
    client: Any,  # noqa: F811
    pregnancy: str,
    key: str,
    *,
    minutes: int,
    order: tuple[str, ...] = (),
) -> OutboxRow:
    """Her next message, due now, dispatched against the fake providers: its row."""
    db, cipher = app.extensions["carepath.db"], app.extensions["carepath.cipher"]
    add_outbox(db, pregnancy, key, hospital="a")
    setup = hospital_delivery(fake, client, **({"fallback_order": order} if order else {}))
    dispatch_once(db, NOW + timedelta(minutes=minutes), lambda h: setup, cipher=cipher)
    with db.reading() as session:
        row = session.scalar(select(OutboxRow).where(OutboxRow.dedupe_key == key))
        assert row is not None
        session.expunge(row)
        return row


def _rows(app: Flask, model: Any) -> list[Any]:
    with app.extensions["carepath.db"].reading() as session:
        return list(session.scalars(select(model).order_by(model.id)))


def _binding(app: Flask) -> ChannelBinding:
    [binding] = [b for b in _rows(app, ChannelBinding) if b.kind == "wechat_oa"]
    return binding


# --- item 5: the official account's events ------------------------------------------------------


def test_unfollow_falls_back_to_sms_and_a_refollow_brings_wechat_back(
    channels: Flask,
    her: str,
    fake: FakeProviders,  # noqa: F811
    client: Any,  # noqa: F811
) -> None:
    first = _next_message(channels, fake, client, her, "k-1", minutes=0)
    assert (first.status, first.channel) == ("sent", "wechat_template")

    for _ in range(2):  # WeChat's retry of the same unfollow: one effect
        answer = _event(channels, "unsubscribe", created=CREATED + 60)
        assert answer.status_code == 200 and answer.get_data(as_text=True) == "success"
    assert _binding(channels).unsubscribed_at is not None
    second = _next_message(channels, fake, client, her, "k-2", minutes=2)
    assert (second.status, second.channel) == ("sent", "sms_tencent")
    assert fake.count("wechat.template") == 1 and fake.count("tencent.sms") == 1

    assert _event(channels, "subscribe", created=CREATED + 180).status_code == 200
    assert _binding(channels).unsubscribed_at is None
    # the unfollow replayed after she followed again (WeChat's late retry) changes nothing, nor
    # does an older one delivered out of order
    assert _event(channels, "unsubscribe", created=CREATED + 60).status_code == 200
    assert _event(channels, "unsubscribe", created=CREATED + 120).status_code == 200
    third = _next_message(channels, fake, client, her, "k-3", minutes=4)
    assert (third.status, third.channel) == ("sent", "wechat_template")
    assert fake.count("wechat.template") == 2 and fake.count("tencent.sms") == 1
    logged = [(e.kind, e.outcome) for e in _rows(channels, BindingEvent)]
    assert logged == [
        ("unsubscribe", "binding-inactive"),
        ("subscribe", "binding-active"),
        ("unsubscribe", "stale"),
    ]
    assert all(HER not in str(value) for e in _rows(channels, BindingEvent) for value in vars(e).values())


def test_unfollow_without_a_phone_falls_back_to_her_inbox(
    channels: Flask,
    fake: FakeProviders,  # noqa: F811
    client: Any,  # noqa: F811
) -> None:
    db, cipher = channels.extensions["carepath.db"], channels.extensions["carepath.cipher"]
    _, pregnancy = add_pregnancy(db, cipher, 1, openid=HER, phone=None, hospital="a")
    assert _event(channels, "unsubscribe").status_code == 200
    row = _next_message(channels, fake, client, pregnancy, "k-1", minutes=1)
    assert (row.status, row.channel) == ("sent", "inbox")
    assert fake.count("wechat.template") == 0 and fake.count("tencent.sms") == 0


def test_an_unfollow_of_someone_unknown_is_recorded_and_changes_no_binding(channels: Flask, her: str) -> None:
    query, body = callback(TOKEN, event_xml("o-stranger", "unsubscribe"))
    answer = channels.test_client().post(
        f"/wechat/a/{OA_APPID}/events", query_string=query, data=body, content_type="text/xml"
    )
    assert answer.status_code == 200
    assert [(e.outcome, e.patient_id) for e in _rows(channels, BindingEvent)] == [("unknown-sender", None)]
    assert _binding(channels).unsubscribed_at is None


def test_menu_clicks_are_recorded_open_her_window_and_a_known_key_gets_its_answer(
    channels: Flask, her: str
) -> None:
    from carepath.store import binding_events

    answer = _event(channels, "CLICK", "HELP")
    assert answer.status_code == 200 and answer.mimetype == "application/xml"
    reply = answer.get_data(as_text=True)
    assert "<ToUserName><![CDATA[o-1]]></ToUserName>" in reply and "<![CDATA[急诊电话：120]]>" in reply
    assert "<MsgType><![CDATA[text]]></MsgType>" in reply
    assert _event(channels, "CLICK", "OTHER", created=CREATED + 1).get_data(as_text=True) == "success"
    assert (
        _event(channels, "VIEW", "https://mch.example/h5/", created=CREATED + 2).get_data(as_text=True)
        == "success"
    )
    kinds = [(e.kind, e.detail) for e in _rows(channels, BindingEvent)]
    assert kinds == [("click", "HELP"), ("click", "OTHER"), ("view", "https://mch.example/h5/")]
    # a click allows 3 customer-service messages within a minute (docs/channels.md) ...
    binding = _binding(channels)
    assert binding_events.service_messages_left(binding, NOW + timedelta(seconds=30)) == 3
    assert binding_events.service_messages_left(binding, NOW + timedelta(seconds=62)) == 0
    db = channels.extensions["carepath.db"]
    with db.transaction() as session:
        used = [
            binding_events.use_service_message(session, binding.id, NOW + timedelta(seconds=5))
            for _ in range(4)
        ]
    assert used == [True, True, True, False]
    # ... a message from her 5 within 48 hours; her unfollow closes it
    message = (
        f"<ToUserName><![CDATA[gh_hospital]]></ToUserName><FromUserName><![CDATA[{HER}]]></FromUserName>"
        f"<CreateTime>{CREATED + 10}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
        "<Content><![CDATA[请问产检几点开始]]></Content><MsgId>61001</MsgId>"
    )
    for _ in range(2):
        query, body = callback(TOKEN, message)
        channels.test_client().post(f"/wechat/a/{OA_APPID}/events", query_string=query, data=body)
    binding = _binding(channels)
    assert binding_events.service_messages_left(binding, NOW + timedelta(hours=47)) == 5
    assert [e.detail for e in _rows(channels, BindingEvent) if e.kind == "message"] == ["text"]
    assert "请问" not in str([vars(e) for e in _rows(channels, BindingEvent)])  # her text is not kept
    _event(channels, "unsubscribe", created=CREATED + 20)
    assert binding_events.service_messages_left(_binding(channels), NOW + timedelta(minutes=1)) == 0


def test_a_menu_answer_in_safe_mode_is_encrypted_for_the_account(
    channels: Flask, her: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import base64
    import hashlib

    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    aes = base64.b64encode(bytes(range(32))).decode().rstrip("=")
    monkeypatch.setenv("T_WX_AES", aes)
    path = Path(channels.config["CHANNELS_CONFIG"])
    config = json.loads(path.read_text(encoding="utf-8"))
    config["channels"]["wechat_template"]["encoding_aes_key_env"] = "T_WX_AES"
    path.write_text(json.dumps(config, ensure_ascii=False), encoding="utf-8")
    channels.extensions.pop("carepath.callbacks", None)
    query, body = callback(TOKEN, event_xml(HER, "CLICK", "HELP"), mode="safe", aes_key=aes, appid=OA_APPID)
    answer = channels.test_client().post(f"/wechat/a/{OA_APPID}/events", query_string=query, data=body)
    assert answer.status_code == 200
    text = answer.get_data(as_text=True)
    encrypted = text.split("<Encrypt><![CDATA[")[1].split("]]>")[0]
    timestamp = text.split("<TimeStamp>")[1].split("</TimeStamp>")[0]
    nonce = text.split("<Nonce><![CDATA[")[1].split("]]>")[0]
    signature = text.split("<MsgSignature><![CDATA[")[1].split("]]>")[0]
    assert (
        signature == hashlib.sha1("".join(sorted([TOKEN, timestamp, nonce, encrypted])).encode()).hexdigest()
    )
    key = base64.b64decode(aes + "=")  # opened as WeChat would, apart from carepath's own code
    decryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).decryptor()
    plain = decryptor.update(base64.b64decode(encrypted)) + decryptor.finalize()
    plain = plain[: -plain[-1]]
    length = int.from_bytes(plain[16:20], "big")
    assert plain[20 + length :].decode() == OA_APPID
    assert "<![CDATA[急诊电话：120]]>" in plain[20 : 20 + length].decode()


# --- item 6: SMS opt-out ------------------------------------------------------------------------


def test_sms_consent_withdrawn_the_next_message_goes_through_wechat(
    channels: Flask,
    her: str,
    api: Api,
    fake: FakeProviders,  # noqa: F811
    client: Any,  # noqa: F811
) -> None:
    first = _next_message(channels, fake, client, her, "k-1", minutes=0, order=SMS_FIRST)
    assert (first.status, first.channel) == ("sent", "sms_tencent")
    path = "/api/v1/consents?his_id=p-1&channel=sms_tencent"  # the HIS, or her data page's service
    withdrawn = api.client.delete(path, headers=api.headers("DELETE", path, b""))
    assert withdrawn.status_code == 200 and withdrawn.get_json() == {"withdrawn": 1}
    second = _next_message(channels, fake, client, her, "k-2", minutes=1, order=SMS_FIRST)
    assert (second.status, second.channel) == ("sent", "wechat_template")
    assert fake.count("tencent.sms") == 1 and fake.count("wechat.template") == 1


@pytest.mark.parametrize("text", ["TD", " td。", "ＴＤ", "退订", "r"])
def test_a_td_reply_withdraws_sms_confirms_it_once_and_the_next_message_is_not_by_sms(
    channels: Flask,
    her: str,
    fake: FakeProviders,  # noqa: F811
    client: Any,  # noqa: F811
    text: str,
) -> None:
    first = _next_message(channels, fake, client, her, "k-1", minutes=0, order=SMS_FIRST)
    assert first.channel == "sms_tencent" and fake.count("tencent.sms") == 1
    for _ in range(2):  # the vendor's retry of the same callback: one withdrawal, one confirmation
        answer = _tencent_reply(channels, text)
        assert answer.status_code == 200 and answer.get_json() == {"result": 0, "errmsg": "OK"}
    confirmations = [r for r in fake.delivered("tencent.sms") if r.payload["TemplateId"] == CONFIRMATION]
    assert len(confirmations) == 1 and confirmations[0].payload["PhoneNumberSet"] == [f"+86{PHONE}"]
    assert confirmations[0].payload["TemplateParamSet"] == []
    refused = [c for c in _rows(channels, Consent) if c.channel == "sms_tencent" and c.withdrawn_at is None]
    assert [(c.granted, c.source) for c in refused] == [(False, "sms-reply")]
    [event] = _rows(channels, BindingEvent)
    assert (event.kind, event.outcome) == ("sms-reply", "sms-withdrawn; confirmation-sent")
    assert PHONE not in str(vars(event))
    audit = [a.detail for a in _rows(channels, AuditEntry) if a.patient_id == event.patient_id]
    assert any("consent withdrawn: SMS" in detail for detail in audit)

    second = _next_message(channels, fake, client, her, "k-2", minutes=1, order=SMS_FIRST)
    assert (second.status, second.channel) == ("sent", "wechat_template")
    assert fake.count("tencent.sms") == 2  # her first message and the one confirmation
    # a second TD, a new message from her: recorded, nothing more to withdraw, no SMS
    assert _tencent_reply(channels, "TD", time=CREATED + 600).status_code == 200
    assert fake.count("tencent.sms") == 2
    assert _rows(channels, BindingEvent)[-1].outcome == "already-withdrawn"


def test_replies_that_are_not_opt_outs_and_unknown_numbers_are_only_recorded(
    channels: Flask,
    her: str,
    fake: FakeProviders,  # noqa: F811
) -> None:
    for text in ("谢谢", "TD是什么意思", "T D"):
        assert _tencent_reply(channels, text).status_code == 200
    assert _tencent_reply(channels, "TD", mobile="13911112222").status_code == 200
    assert [(e.outcome, e.detail, e.patient_id is None) for e in _rows(channels, BindingEvent)] == [
        ("no-keyword", "", False),
        ("no-keyword", "", False),
        ("no-keyword", "", False),
        ("unknown-sender", "td", True),
    ]
    assert fake.count("tencent.sms") == 0
    assert all(c.withdrawn_at is None for c in _rows(channels, Consent))
    assert "谢谢" not in str([vars(e) for e in _rows(channels, BindingEvent)])


def test_alibabas_batch_push_is_read_and_acknowledged_its_own_way(
    channels: Flask,
    her: str,
    fake: FakeProviders,  # noqa: F811
) -> None:
    batch = [
        {"phone_number": PHONE, "content": "退订", "send_time": "2026-07-10 15:01:00", "dest_code": "1234",
         "sequence_id": 9001},
        {"phone_number": "13911112222", "content": "hello", "send_time": "2026-07-10 15:02:00",
         "dest_code": "1234", "sequence_id": "9002"},
    ]  # fmt: skip
    for _ in range(2):
        answer = channels.test_client().post(f"/sms/replies/{ALIYUN_SECRET}", json=batch)
        assert answer.status_code == 200 and answer.get_json() == {"code": 0, "msg": "接收成功"}
    assert fake.count("aliyun.sms") == 1 and fake.count("tencent.sms") == 0
    assert fake.delivered("aliyun.sms")[0].payload["TemplateCode"] == "SMS_100"
    events = _rows(channels, BindingEvent)
    assert [(e.channel, e.outcome) for e in events] == [
        ("sms_aliyun", "sms-withdrawn; confirmation-sent"),
        ("sms_aliyun", "unknown-sender"),
    ]
    assert events[0].at == NOW + timedelta(minutes=1)  # 15:01 in China
    withdrawn = {c.channel for c in _rows(channels, Consent) if c.source == "sms-reply"}
    assert withdrawn == {"sms_tencent"}  # her SMS consent, whichever vendor she answered


def test_a_kill_switch_on_sms_stops_the_confirmation_not_the_withdrawal(
    channels: Flask,
    her: str,
    fake: FakeProviders,  # noqa: F811
) -> None:
    from carepath.store import delivery_state

    with channels.extensions["carepath.db"].transaction() as session:
        delivery_state.pause(
            session, scope="channel", target="sms_tencent", by="cli:ops", at=NOW, hospital_id="a"
        )
    assert _tencent_reply(channels, "TD").status_code == 200
    assert fake.count("tencent.sms") == 0
    [event] = _rows(channels, BindingEvent)
    assert event.outcome == "sms-withdrawn; confirmation-not-sent: paused:channel"


def test_a_hospitals_own_keywords_replace_the_defaults(channels: Flask, her: str) -> None:
    from tests.conftest import set_hospital_settings

    set_hospital_settings(channels.extensions["carepath.db"], "a", sms_opt_out_keywords="停止, STOP")
    _tencent_reply(channels, "TD")
    _tencent_reply(channels, "stop", time=CREATED + 5)
    assert [e.outcome for e in _rows(channels, BindingEvent)] == [
        "no-keyword",
        "sms-withdrawn; confirmation-sent",
    ]


def test_a_wrong_secret_is_not_found_audited_and_records_nothing(channels: Flask, her: str) -> None:
    for secret in ("wrong", SECRET[:-1], SECRET + "x"):
        answer = _tencent_reply(channels, "TD", secret=secret)
        assert answer.status_code == 404
    bad = channels.test_client().post(
        f"/sms/replies/{SECRET}", data=b"not json", content_type="application/json"
    )
    assert bad.status_code == 400 and bad.get_json()["code"] == "sms-reply-bad-body"
    assert _rows(channels, BindingEvent) == []
    assert all(c.withdrawn_at is None for c in _rows(channels, Consent))
    refusals = [a for a in _rows(channels, AuditEntry) if a.action == "not-found"]
    assert len(refusals) == 1 and refusals[0].count == 3  # folded per minute
    assert refusals[0].actor == "sms-callback:unknown" and "wrong" not in refusals[0].detail


def test_a_secret_too_short_to_guess_safely_opens_no_path(
    channels: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("T_REPLY", "short")
    _close_reply_setup(channels)
    assert _tencent_reply(channels, "TD", secret="short").status_code == 404
