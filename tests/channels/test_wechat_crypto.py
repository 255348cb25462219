"""Safe mode's decryption against the fake's own encryption, and the account events' parse."""

from __future__ import annotations

import base64

import pytest

from carepath.channels import wechat_crypto
from carepath.channels.wechat_events import CallbackError, parse_account_event
from tests.fakes.wechat_callbacks import encrypt, event_xml

KEY = base64.b64encode(bytes(range(32))).decode().rstrip("=")


@pytest.mark.parametrize("size", [1, 27, 28, 100, 2000])  # padding from 1 to 32 bytes
def test_what_wechat_encrypts_opens_for_its_appid_only(size: int) -> None:
    xml = f"<xml>{'事' * size}</xml>"
    encrypted = encrypt(KEY, "wx-a", xml)
    assert wechat_crypto.decrypt(wechat_crypto.aes_key(KEY), "wx-a", encrypted) == xml.encode()
    with pytest.raises(wechat_crypto.DecryptError):
        wechat_crypto.decrypt(wechat_crypto.aes_key(KEY), "wx-b", encrypted)


@pytest.mark.parametrize(
    "text", ["not base64!", "", base64.b64encode(b"short").decode(), base64.b64encode(bytes(32)).decode()]
)
def test_garbage_is_a_decrypt_error(text: str) -> None:
    with pytest.raises(wechat_crypto.DecryptError):
        wechat_crypto.decrypt(wechat_crypto.aes_key(KEY), "wx-a", text)


@pytest.mark.parametrize("key", ["", KEY[:-1], KEY + "A", "!" * 43])
def test_a_malformed_encoding_aes_key_is_refused(key: str) -> None:
    with pytest.raises(ValueError):
        wechat_crypto.aes_key(key)


def test_msg_signature_covers_the_encrypted_text() -> None:
    signature = wechat_crypto.msg_signature("token", "1783666801", "n0nce", "ENC")
    assert wechat_crypto.verify_msg_signature("token", "1783666801", "n0nce", "ENC", signature.upper())
    assert not wechat_crypto.verify_msg_signature("token", "1783666801", "n0nce", "ENC2", signature)
    assert not wechat_crypto.verify_msg_signature("token", "", "n0nce", "ENC", signature)


@pytest.mark.parametrize(
    ("event", "key", "scene"),
    [
        ("subscribe", "qrscene_src_abcd2345", "src_abcd2345"),
        ("subscribe", "", None),
        ("SCAN", "src_abcd2345", "src_abcd2345"),
        ("unsubscribe", "", None),
        ("CLICK", "MENU_1", None),
    ],
)
def test_the_scene_of_an_account_event(event: str, key: str, scene: str | None) -> None:
    parsed = parse_account_event(f"<xml>{event_xml('o-1', event, key)}</xml>".encode())
    assert parsed is not None and (parsed.event, parsed.openid, parsed.scene) == (event, "o-1", scene)


def test_delivery_reports_are_not_account_events_and_her_messages_carry_no_content() -> None:
    report = (
        "<xml><MsgType>event</MsgType><Event>TEMPLATESENDJOBFINISH</Event><CreateTime>1</CreateTime></xml>"
    )
    assert parse_account_event(report.encode()) is None
    message = parse_account_event(
        b"<xml><FromUserName>o-1</FromUserName><CreateTime>7</CreateTime><MsgType>text</MsgType>"
        b"<Content>hi there</Content><MsgId>6100</MsgId></xml>"
    )
    assert message is not None
    assert (message.event, message.event_key, message.occurrence) == ("message", "text", "6100")
    assert "hi there" not in repr(message)  # her message opens her window; its text is never read
    with pytest.raises(CallbackError):
        parse_account_event(b"<!DOCTYPE x><xml/>")
