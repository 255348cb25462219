"""The SMS vendors' reply callbacks (上行短信): what she answered to an SMS, as each vendor posts it.

- Tencent Cloud SMS (短信回复, API 2021-01-11's callback): one JSON object
  ``{extend, mobile, nationcode, sign, text, time}`` (``time`` in Unix seconds); the answer
  expected is ``{"result": 0, "errmsg": "OK"}``. The callback is not signed: carepath receives
  it on a secret path (``delivery/sms_replies.py``). A list of such objects is read too.
- Alibaba Cloud SMS (SmsUp, HTTP batch push): a JSON array of
  ``{phone_number, content, send_time, dest_code, sequence_id[, sign_name]}``, ``send_time``
  ``yyyy-MM-dd HH:mm:ss`` in China time; the answer expected is ``{"code": 0, "msg": "接收成功"}``
  (HTTP 200; anything else is pushed again after 1, 5 and 10 minutes).

``parse`` turns either into ``SmsReply``s; a body that is neither is ``BadReplyError``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

CHINA = ZoneInfo("Asia/Shanghai")
MAX_REPLY_BYTES = 256 * 1024
MAX_REPLIES = 500

#: What each vendor expects back once the replies are recorded.
ACKNOWLEDGEMENTS: dict[str, dict[str, Any]] = {
    "sms_tencent": {"result": 0, "errmsg": "OK"},
    "sms_aliyun": {"code": 0, "msg": "接收成功"},
}


class BadReplyError(ValueError):
    """A body that is not the vendor's reply callback: answer 400, record nothing."""


@dataclass(frozen=True)
class SmsReply:
    """One reply: her ``phone`` (11 digits for a mainland number, else as sent with its
    country code), the ``text`` she sent, ``at`` when the vendor says, and ``key``, the vendor's
    own id for it when it has one (Alibaba's ``sequence_id``; "" for Tencent)."""

    phone: str
    text: str
    at: datetime
    key: str = ""


def _mainland(phone: str, country: str = "86") -> str:
    digits = "".join(c for c in phone if c.isdigit())
    if country.lstrip("+") != "86":
        return f"+{country.lstrip('+')}{digits}"
    for prefix in ("0086", "86"):
        if len(digits) == 11 + len(prefix) and digits.startswith(prefix):
            digits = digits[len(prefix) :]
    return digits


def _entries(body: bytes) -> list[dict[str, Any]]:
    if len(body) > MAX_REPLY_BYTES:
        raise BadReplyError("refused: oversized")
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadReplyError(f"not JSON: {exc}") from None
    entries = data if isinstance(data, list) else [data]
    if not entries or len(entries) > MAX_REPLIES or not all(isinstance(e, dict) for e in entries):
        raise BadReplyError("a reply callback is a JSON object or a list of objects")
    return entries


def _text(entry: dict[str, Any], name: str) -> str:
    value = entry.get(name)
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise BadReplyError(f"{name} is required")
    return str(value)


def parse_tencent(body: bytes) -> list[SmsReply]:
    replies = []
    for entry in _entries(body):
        try:
            at = datetime.fromtimestamp(int(entry.get("time", "")), UTC)
        except (TypeError, ValueError, OverflowError):
            raise BadReplyError("time is Unix seconds") from None
        phone = _mainland(_text(entry, "mobile"), str(entry.get("nationcode") or "86"))
        replies.append(SmsReply(phone, _text(entry, "text"), at))
    return replies


def parse_aliyun(body: bytes) -> list[SmsReply]:
    replies = []
    for entry in _entries(body):
        try:
            at = datetime.strptime(_text(entry, "send_time"), "%Y-%m-%d %H:%M:%S").replace(tzinfo=CHINA)
        except ValueError:
            raise BadReplyError("send_time is yyyy-MM-dd HH:mm:ss") from None
        key = str(entry.get("sequence_id") or "")[:64]
        replies.append(SmsReply(_mainland(_text(entry, "phone_number")), _text(entry, "content"), at, key))
    return replies


PARSERS = {"sms_tencent": parse_tencent, "sms_aliyun": parse_aliyun}


def parse(channel: str, body: bytes) -> list[SmsReply]:
    """The replies in one callback of ``channel``'s vendor."""
    return PARSERS[channel](body)
