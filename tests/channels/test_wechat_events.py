"""WeChat's send-finished callbacks become delivery reports; forged or hostile ones are refused."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import pytest

from carepath.channels.wechat_events import (
    BLOCKED,
    DELIVERED,
    FAILED,
    CallbackError,
    DeliveryReport,
    parse_event,
    verify_signature,
)

TEMPLATE_EVENT = """<xml><ToUserName><![CDATA[gh_hospital]]></ToUserName>
<FromUserName><![CDATA[o-openid-1]]></FromUserName><CreateTime>1750400000</CreateTime>
<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[TEMPLATESENDJOBFINISH]]></Event>
<MsgID>200163836</MsgID><Status><![CDATA[{status}]]></Status></xml>"""


@pytest.mark.parametrize(
    ("status", "expected"),
    [("success", DELIVERED), ("failed:user block", BLOCKED), ("failed: system failed", FAILED)],
)
def test_template_send_finished_events_become_reports(status: str, expected: str) -> None:
    (report,) = parse_event(TEMPLATE_EVENT.format(status=status).encode())
    assert report == DeliveryReport(
        "200163836", "o-openid-1", expected, status, datetime.fromtimestamp(1750400000, UTC)
    )


def test_subscribe_sent_events_report_each_message() -> None:
    body = b"""<xml><ToUserName>gh</ToUserName><FromUserName>o-mini-1</FromUserName>
    <CreateTime>1750400000</CreateTime><MsgType>event</MsgType><Event>subscribe_msg_sent_event</Event>
    <SubscribeMsgSentEvent><List><TemplateId>T1</TemplateId><MsgID>11</MsgID><ErrorCode>0</ErrorCode>
    <ErrorStatus>success</ErrorStatus></List><List><TemplateId>T1</TemplateId><MsgID>12</MsgID>
    <ErrorCode>20004</ErrorCode><ErrorStatus>user refuse to accept the msg</ErrorStatus></List>
    </SubscribeMsgSentEvent></xml>"""
    assert [(r.provider_message_id, r.status) for r in parse_event(body)] == [
        ("11", DELIVERED),
        ("12", BLOCKED),
    ]


def test_other_events_give_no_reports() -> None:
    body = b"<xml><FromUserName>o</FromUserName><CreateTime>1</CreateTime><Event>subscribe</Event></xml>"
    assert parse_event(body) == []


@pytest.mark.parametrize(
    "body",
    [
        b'<!DOCTYPE x [<!ENTITY a "aaaa">]><xml>&a;</xml>',
        b"<xml><unclosed></xml>",
        b"<xml>" + b" " * 70_000 + b"</xml>",
    ],
)
def test_hostile_or_broken_callbacks_are_refused(body: bytes) -> None:
    with pytest.raises(CallbackError):
        parse_event(body)


def test_callback_signature() -> None:
    signature = hashlib.sha1("".join(sorted(["tok", "1750400000", "nonce1"])).encode()).hexdigest()
    assert verify_signature("tok", "1750400000", "nonce1", signature)
    assert not verify_signature("other", "1750400000", "nonce1", signature)
