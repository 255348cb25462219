"""WeChat's delivery callbacks over HTTP with real signatures: URL check, reports recorded once,
unknown ids acknowledged, forged or broken callbacks refused, and never across hospitals."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from tests.fakes.providers import callback_query
from tests.webapi.delivery_seed import add_pregnancy, add_sent, outbox_row

TOKEN_A, TOKEN_B = "token-of-hospital-a", "token-of-hospital-b"
APPID_A, APPID_B, MINI_A = "wx-a", "wx-b", "wx-mini-a"
CREATED = 1783666800  # CreateTime in the events


@pytest.fixture
def wechat(app: Flask, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Flask:
    """Hospital a's official account and mini program, hospital b's account, with tokens."""
    monkeypatch.setenv("TEST_WX_TOKEN_A", TOKEN_A)
    monkeypatch.setenv("TEST_WX_TOKEN_B", TOKEN_B)
    monkeypatch.setenv("TEST_MINI_TOKEN_A", TOKEN_A + "-mini")
    files = []
    for hospital, appid, variable, mini in (
        ("a", APPID_A, "TEST_WX_TOKEN_A", f"\n  wechat_subscribe:\n    appid: {MINI_A}\n"
         "    callback_token_env: TEST_MINI_TOKEN_A"),
        ("b", APPID_B, "TEST_WX_TOKEN_B", ""),
    ):  # fmt: skip
        path = tmp_path / f"{hospital}.yaml"
        path.write_text(
            f"hospital: {hospital}\nchannels:\n  inbox: {{}}\n  wechat_template:\n    appid: {appid}\n"
            f"    secret_env: UNSET_SECRET\n    callback_token_env: {variable}{mini}\n",
            encoding="utf-8",
        )
        files.append(str(path))
    app.config["CHANNELS_CONFIG"] = ":".join(files)
    return app


def event_xml(msgid: str, openid: str, status: str = "success") -> bytes:
    return (
        "<xml><ToUserName><![CDATA[gh_a]]></ToUserName>"
        f"<FromUserName><![CDATA[{openid}]]></FromUserName><CreateTime>{CREATED}</CreateTime>"
        "<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[TEMPLATESENDJOBFINISH]]></Event>"
        f"<MsgID>{msgid}</MsgID><Status><![CDATA[{status}]]></Status></xml>"
    ).encode()


def post(app: Flask, body: bytes, *, hospital: str = "a", appid: str = APPID_A, token: str = TOKEN_A) -> Any:
    query = callback_query(token, "1783666801", "n0nce", openid="o-1")
    return app.test_client().post(
        f"/wechat/{hospital}/{appid}/events", query_string=query, data=body, content_type="text/xml"
    )


def test_url_check_answers_echostr_only_with_a_good_signature(wechat: Flask) -> None:
    client = wechat.test_client()
    query = callback_query(TOKEN_A, "1783666801", "n0nce", echostr="echo-4242")
    ok = client.get(f"/wechat/a/{APPID_A}/events", query_string=query)
    assert ok.status_code == 200 and ok.get_data(as_text=True) == "echo-4242"
    forged = callback_query("not-the-token", "1783666801", "n0nce", echostr="echo-4242")
    refused = client.get(f"/wechat/a/{APPID_A}/events", query_string=forged)
    assert refused.status_code == 401 and refused.mimetype == "application/problem+json"
    assert refused.get_json()["code"] == "callback-bad-signature"
    assert "echo-4242" not in refused.get_data(as_text=True)
    bare = client.get(f"/wechat/a/{APPID_A}/events", query_string={"echostr": "x"})
    assert bare.status_code == 401 and bare.get_json()["code"] == "callback-bad-signature"


def test_delivered_report_is_recorded_once(wechat: Flask) -> None:
    pregnancy = add_pregnancy(wechat, "a", 1, openid="o-1", appid=APPID_A)
    row_id, _ = add_sent(wechat, "a", pregnancy, "k-1", msgid="1001")
    first = post(wechat, event_xml("1001", "o-1"))
    assert first.status_code == 200 and first.get_data(as_text=True) == "success"
    row = outbox_row(wechat, row_id)
    at = datetime.fromtimestamp(CREATED, UTC)
    assert (row.receipt_status, row.delivered_at, row.receipt_at) == ("delivered", at, at)
    assert row.receipt_detail == "success" and row.status == "sent"
    # WeChat repeats a callback it thinks unanswered: nothing changes, and it is still success.
    wechat.config["CLOCK"].now = wechat.config["CLOCK"].now.replace(hour=9)
    again = post(wechat, event_xml("1001", "o-1"))
    assert again.status_code == 200 and again.get_data(as_text=True) == "success"
    assert outbox_row(wechat, row_id).updated_at == row.updated_at
    # A later, different report for the same message does not overwrite the first.
    post(wechat, event_xml("1001", "o-1", "failed: system failed"))
    assert outbox_row(wechat, row_id).receipt_status == "delivered"


def test_unknown_message_id_is_acknowledged_and_changes_nothing(wechat: Flask) -> None:
    pregnancy = add_pregnancy(wechat, "a", 1, openid="o-1", appid=APPID_A)
    row_id, _ = add_sent(wechat, "a", pregnancy, "k-1", msgid="1001")
    response = post(wechat, event_xml("999999", "o-1"))
    assert response.status_code == 200 and response.get_data(as_text=True) == "success"
    assert outbox_row(wechat, row_id).receipt_status is None


def test_system_failure_is_recorded_with_the_providers_words(wechat: Flask) -> None:
    pregnancy = add_pregnancy(wechat, "a", 1, openid="o-1", appid=APPID_A)
    row_id, _ = add_sent(wechat, "a", pregnancy, "k-1", msgid="1001")
    assert post(wechat, event_xml("1001", "o-1", "failed: system failed")).status_code == 200
    row = outbox_row(wechat, row_id)
    assert (row.receipt_status, row.receipt_detail, row.delivered_at) == (
        "failed",
        "failed: system failed",
        None,
    )


def test_blocked_report_marks_her_binding_so_the_policy_falls_back(wechat: Flask) -> None:
    from carepath.store import consents
    from carepath.store.models import ChannelBinding

    pregnancy = add_pregnancy(wechat, "a", 1, openid="o-1", appid=APPID_A)
    row_id, _ = add_sent(wechat, "a", pregnancy, "k-1", msgid="1001")
    assert post(wechat, event_xml("1001", "o-1", "failed:user block")).status_code == 200
    assert outbox_row(wechat, row_id).receipt_status == "blocked"
    database, cipher = wechat.extensions["carepath.db"], wechat.extensions["carepath.cipher"]
    with database.reading() as session:
        binding = session.scalars(select(ChannelBinding)).one()
        assert binding.blocked_at == datetime.fromtimestamp(CREATED, UTC)
        assert consents.active_bindings(session, cipher, [binding.patient_id]) == {}


def test_reports_never_cross_hospitals_or_recipients(wechat: Flask) -> None:
    pregnancy_a = add_pregnancy(wechat, "a", 1, openid="o-1", appid=APPID_A)
    row_a, _ = add_sent(wechat, "a", pregnancy_a, "k-a", msgid="1001")
    # Hospital b's own account, correctly signed, naming a's message id: not a's row.
    assert (
        post(wechat, event_xml("1001", "o-1"), hospital="b", appid=APPID_B, token=TOKEN_B).status_code == 200
    )
    # b's token on a's URL: refused.
    forged = post(wechat, event_xml("1001", "o-1"), token=TOKEN_B)
    assert forged.status_code == 401 and forged.get_json()["code"] == "callback-bad-signature"
    # a's account under b's name: no such account for b.
    wrong = post(wechat, event_xml("1001", "o-1"), hospital="b", appid=APPID_A)
    assert wrong.status_code == 404 and wrong.get_json()["code"] == "callback-unknown-account"
    # a's URL and token, but a recipient she was never bound with: not applied.
    assert post(wechat, event_xml("1001", "o-someone-else")).status_code == 200
    # The mini program's callbacks do not touch official-account rows.
    mini = callback_query(TOKEN_A + "-mini", "1783666801", "n0nce")
    body = (
        b"<xml><FromUserName>o-1</FromUserName><CreateTime>1783666800</CreateTime><Event>"
        b"subscribe_msg_sent_event</Event><SubscribeMsgSentEvent><List><MsgID>1001</MsgID>"
        b"<ErrorCode>0</ErrorCode><ErrorStatus>success</ErrorStatus></List></SubscribeMsgSentEvent></xml>"
    )
    response = wechat.test_client().post(f"/wechat/a/{MINI_A}/events", query_string=mini, data=body)
    assert response.status_code == 200
    assert outbox_row(wechat, row_a).receipt_status is None


def test_subscribe_message_reports_reach_mini_program_rows(wechat: Flask) -> None:
    from carepath.store import consents
    from carepath.store.models import Pregnancy

    pregnancy = add_pregnancy(wechat, "a", 1)
    with wechat.extensions["carepath.db"].transaction() as session:
        patient_id = session.scalar(select(Pregnancy.patient_id).where(Pregnancy.id == pregnancy))
        consents.bind(
            session, wechat.extensions["carepath.cipher"], hospital_id="a", patient_id=patient_id,
            kind="wechat_mp", value="o-mini-1", account=MINI_A, at=datetime.now(UTC),
        )  # fmt: skip
    row_id, _ = add_sent(wechat, "a", pregnancy, "k-1", channel="wechat_subscribe", msgid="77")
    query = callback_query(TOKEN_A + "-mini", "1783666801", "n0nce")
    body = (
        b"<xml><FromUserName>o-mini-1</FromUserName><CreateTime>1783666800</CreateTime><Event>"
        b"subscribe_msg_sent_event</Event><SubscribeMsgSentEvent><List><MsgID>77</MsgID>"
        b"<ErrorCode>20004</ErrorCode><ErrorStatus>user refuse to accept the msg</ErrorStatus>"
        b"</List></SubscribeMsgSentEvent></xml>"
    )
    response = wechat.test_client().post(f"/wechat/a/{MINI_A}/events", query_string=query, data=body)
    assert response.status_code == 200
    assert outbox_row(wechat, row_id).receipt_status == "blocked"


@pytest.mark.parametrize(
    "body",
    [b"<xml><unclosed></xml>", b'<!DOCTYPE x [<!ENTITY a "aaaa">]><xml>&a;</xml>', b"", b"\xff\xfe"],
)
def test_malformed_callbacks_are_400_problems_and_record_nothing(wechat: Flask, body: bytes) -> None:
    pregnancy = add_pregnancy(wechat, "a", 1, openid="o-1", appid=APPID_A)
    row_id, _ = add_sent(wechat, "a", pregnancy, "k-1", msgid="1001")
    response = post(wechat, body)
    assert response.status_code == 400 and response.mimetype == "application/problem+json"
    assert response.get_json()["code"] == "callback-bad-xml"
    assert outbox_row(wechat, row_id).receipt_status is None


def test_other_events_are_acknowledged(wechat: Flask) -> None:
    body = b"<xml><FromUserName>o-1</FromUserName><CreateTime>1</CreateTime><Event>subscribe</Event></xml>"
    response = post(wechat, body)
    assert response.status_code == 200 and response.get_data(as_text=True) == "success"


def test_unconfigured_accounts_are_refused(
    app: Flask, wechat: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert post(wechat, b"<xml/>", appid="wx-unknown").status_code == 404
    # The token's variable unset: the account is not configured, never accepted unchecked.
    monkeypatch.delenv("TEST_WX_TOKEN_A")
    wechat.extensions.pop("carepath.callbacks", None)
    response = post(wechat, event_xml("1", "o-1"))
    assert response.status_code == 404 and response.get_json()["code"] == "callback-unknown-account"
    # A channels file that cannot be read: 503, said plainly.
    wechat.config["CHANNELS_CONFIG"] = "/nonexistent/channels.yaml"
    broken = post(wechat, event_xml("1", "o-1"))
    assert broken.status_code == 503 and broken.get_json()["code"] == "callback-config-error"
