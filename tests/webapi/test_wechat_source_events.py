"""The official account's ``subscribe`` and ``SCAN`` events over HTTP, signed as WeChat signs
them, in plain, compatible and safe mode: a scan of a source's QR code is counted against the
source with her openid's keyed hash (never the openid), once however often WeChat repeats it,
and never across hospitals."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from carepath.store import sources
from carepath.store.models_sources import Source, SourceEvent
from tests.conftest import NOW
from tests.fakes.wechat_callbacks import callback, event_xml

TOKEN_A, TOKEN_B = "token-of-hospital-a", "token-of-hospital-b"
APPID_A, APPID_B = "wx-a", "wx-b"
AES_A = base64.b64encode(bytes(range(32))).decode().rstrip("=")  # 43 characters
OTHER_AES = base64.b64encode(bytes(range(1, 33))).decode().rstrip("=")
HER = "o-her-openid-4242"


@pytest.fixture
def wechat(app: Flask, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Flask:
    """Hospital a's account in safe mode (a token and an EncodingAESKey), b's in plain mode."""
    monkeypatch.setenv("TEST_WX_TOKEN_A", TOKEN_A)
    monkeypatch.setenv("TEST_WX_AES_A", AES_A)
    monkeypatch.setenv("TEST_WX_TOKEN_B", TOKEN_B)
    files = []
    for hospital, appid, extra in (
        (
            "a",
            APPID_A,
            "TEST_WX_TOKEN_A\n    encoding_aes_key_env: TEST_WX_AES_A\n"
            "  wechat_subscribe:\n    appid: wx-mini-a\n    callback_token_env: TEST_WX_TOKEN_A",
        ),
        ("b", APPID_B, "TEST_WX_TOKEN_B"),
    ):
        path = tmp_path / f"{hospital}.yaml"
        path.write_text(
            f"hospital: {hospital}\nchannels:\n  wechat_template:\n    appid: {appid}\n"
            f"    secret_env: UNSET_SECRET\n    callback_token_env: {extra}\n",
            encoding="utf-8",
        )
        files.append(str(path))
    app.config["CHANNELS_CONFIG"] = ":".join(files)
    return app


def _source(app: Flask, hospital: str = "a") -> Source:
    with app.extensions["carepath.db"].transaction() as session:
        return sources.create(session, sources.plan(session, hospital, NOW), NOW, "test")


def _post(
    app: Flask, query: dict[str, str], body: bytes, *, hospital: str = "a", appid: str = APPID_A
) -> Any:
    return app.test_client().post(
        f"/wechat/{hospital}/{appid}/events", query_string=query, data=body, content_type="text/xml"
    )


def _counts(app: Flask, source: Source) -> tuple[int, int]:
    with app.extensions["carepath.db"].reading() as session:
        found = sources.counts(session, [source.id])[source.id]
    return found.scans, found.follows


def _send(app: Flask, fields: str, mode: str = "plain", **given: Any) -> Any:
    query, body = callback(TOKEN_A, fields, mode=mode, aes_key=AES_A, appid=APPID_A, **given)
    return _post(app, query, body)


@pytest.mark.parametrize("mode", ["plain", "compatible", "safe"])
def test_a_follow_through_a_sources_code_counts_a_scan_and_a_follow_once(wechat: Flask, mode: str) -> None:
    poster = _source(wechat)
    fields = event_xml(HER, "subscribe", f"qrscene_src_{poster.code}")
    answer = _send(wechat, fields, mode)
    assert answer.status_code == 200 and answer.get_data(as_text=True) == "success"
    assert _counts(wechat, poster) == (1, 1)
    assert _send(wechat, fields, mode).status_code == 200  # WeChat's retry: nothing new
    assert _counts(wechat, poster) == (1, 1)
    with wechat.extensions["carepath.db"].reading() as session:
        rows = session.scalars(select(SourceEvent)).all()
        hashed = sources.openid_hash(wechat.extensions["carepath.cipher"], APPID_A, HER)
        assert {row.openid_hash for row in rows} == {hashed}
        assert all(HER not in str(value) for row in rows for value in vars(row).values())
        # registration, once she signs in through WeChat, finds where she came from
        assert sources.source_for_openid(session, "a", hashed).id == poster.id  # type: ignore[union-attr]


@pytest.mark.parametrize("mode", ["plain", "safe"])
def test_a_scan_by_a_follower_counts_a_scan(wechat: Flask, mode: str) -> None:
    card = _source(wechat)
    assert _send(wechat, event_xml(HER, "SCAN", f"src_{card.code}"), mode).status_code == 200
    assert (
        _send(wechat, event_xml(HER, "SCAN", f"src_{card.code}", created=1783667000), mode).status_code == 200
    )
    assert _counts(wechat, card) == (2, 0)


def test_compatible_mode_reads_the_encrypted_copy_not_the_plain_one(wechat: Flask) -> None:
    genuine, other = _source(wechat), _source(wechat)
    fields = event_xml(HER, "subscribe", f"qrscene_src_{genuine.code}")
    forged = event_xml(HER, "subscribe", f"qrscene_src_{other.code}")
    assert _send(wechat, fields, "compatible", plain_copy=forged).status_code == 200
    assert (_counts(wechat, genuine), _counts(wechat, other)) == ((1, 1), (0, 0))


def test_follows_without_a_source_are_acknowledged_and_record_nothing(wechat: Flask) -> None:
    _source(wechat)
    foreign = _source(wechat, "b")
    for fields in (
        event_xml(HER, "subscribe"),  # followed from a search or an article
        event_xml(HER, "subscribe", "qrscene_src_zzzzzzzz"),  # no such source
        event_xml(HER, "SCAN", f"src_{foreign.code}"),  # another hospital's source
        event_xml(HER, "SCAN", "bind_12345"),  # a scene that is not a source's
        event_xml(HER, "unsubscribe"),  # part 2
    ):
        answer = _send(wechat, fields, "safe")
        assert answer.status_code == 200 and answer.get_data(as_text=True) == "success"
    with wechat.extensions["carepath.db"].reading() as session:
        assert session.scalars(select(SourceEvent)).all() == []


def test_hospital_bs_plain_account_counts_its_own_sources(wechat: Flask) -> None:
    theirs = _source(wechat, "b")
    query, body = callback(TOKEN_B, event_xml(HER, "subscribe", f"qrscene_src_{theirs.code}"))
    assert _post(wechat, query, body, hospital="b", appid=APPID_B).status_code == 200
    assert _counts(wechat, theirs) == (1, 1)


def test_forged_or_unopenable_encrypted_callbacks_are_refused_and_record_nothing(wechat: Flask) -> None:
    poster = _source(wechat)
    fields = event_xml(HER, "subscribe", f"qrscene_src_{poster.code}")
    query, body = callback(TOKEN_A, fields, mode="safe", aes_key=AES_A, appid=APPID_A)
    bad_signature = _post(wechat, {**query, "msg_signature": "0" * 40}, body)
    assert bad_signature.status_code == 401 and bad_signature.get_json()["code"] == "callback-bad-signature"
    for aes_key, appid in ((OTHER_AES, APPID_A), (AES_A, "wx-someone-else")):
        query, body = callback(TOKEN_A, fields, mode="safe", aes_key=aes_key, appid=appid)
        refused = _post(wechat, query, body)
        assert refused.status_code == 400 and refused.get_json()["code"] == "callback-not-decryptable"
    # hospital b has no EncodingAESKey: its encrypted callbacks cannot be read
    query, body = callback(TOKEN_B, fields, mode="safe", aes_key=AES_A, appid=APPID_B)
    refused = _post(wechat, query, body, hospital="b", appid=APPID_B)
    assert refused.status_code == 400 and refused.get_json()["code"] == "callback-not-decryptable"
    query, _ = callback(TOKEN_A, fields, mode="safe", aes_key=AES_A, appid=APPID_A)
    no_encrypt = _post(wechat, query, f"<xml>{fields}</xml>".encode())
    assert no_encrypt.status_code == 400 and no_encrypt.get_json()["code"] == "callback-bad-xml"
    bad_time = _send(wechat, event_xml(HER, "SCAN", f"src_{poster.code}").replace("1783666800", "soon"))
    assert bad_time.status_code == 400 and bad_time.get_json()["code"] == "callback-bad-xml"
    assert _counts(wechat, poster) == (0, 0)


def test_delivery_reports_are_read_in_safe_mode_too(wechat: Flask) -> None:
    from tests.webapi.delivery_seed import add_pregnancy, add_sent, outbox_row

    pregnancy = add_pregnancy(wechat, "a", 1, openid=HER, appid=APPID_A)
    row_id, _ = add_sent(wechat, "a", pregnancy, "k-1", msgid="1001")
    fields = (
        f"<ToUserName><![CDATA[gh_a]]></ToUserName><FromUserName><![CDATA[{HER}]]></FromUserName>"
        "<CreateTime>1783666800</CreateTime><MsgType><![CDATA[event]]></MsgType>"
        "<Event><![CDATA[TEMPLATESENDJOBFINISH]]></Event><MsgID>1001</MsgID><Status><![CDATA[success]]></Status>"
    )
    assert _send(wechat, fields, "safe").get_data(as_text=True) == "success"
    assert outbox_row(wechat, row_id).receipt_status == "delivered"


def test_a_mini_programs_callback_records_no_source_events(wechat: Flask) -> None:
    poster = _source(wechat)
    query, body = callback(TOKEN_A, event_xml(HER, "subscribe", f"qrscene_src_{poster.code}"))
    answer = _post(wechat, query, body, appid="wx-mini-a")
    assert answer.status_code == 200 and answer.get_data(as_text=True) == "success"
    assert _counts(wechat, poster) == (0, 0)
