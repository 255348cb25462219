"""WeChat's delivery callbacks: after a send, WeChat posts an event to the account's callback
URL saying whether the message reached her. This module checks the request's signature and
turns the XML into ``DeliveryReport``s; the API endpoint (with the store) records them against
the receipt's provider message id.

- Official-account template messages: ``Event`` = ``TEMPLATESENDJOBFINISH``, ``MsgID``,
  ``Status`` = ``success`` | ``failed:user block`` | ``failed: system failed``.
- Mini-program subscribe messages: ``Event`` = ``subscribe_msg_sent_event`` with a
  ``SubscribeMsgSentEvent/List`` per message (``MsgID``, ``ErrorCode``, ``ErrorStatus``).

Plain-text mode only; an account in encrypted ("safe") mode needs the AES layer first.
"""

from __future__ import annotations

import hashlib
import hmac
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import UTC, datetime

DELIVERED = "delivered"
BLOCKED = "blocked"  # she blocked the account's messages: treat as a permanent refusal
FAILED = "failed"

MAX_EVENT_BYTES = 64 * 1024


class CallbackError(ValueError):
    """A callback that is not WeChat's or not understood; answer 400, record nothing."""


@dataclass(frozen=True)
class DeliveryReport:
    provider_message_id: str
    recipient: str
    status: str
    raw_status: str
    at: datetime


def verify_signature(token: str, timestamp: str, nonce: str, signature: str) -> bool:
    """WeChat's callback signature: SHA-1 of the sorted token, timestamp and nonce."""
    expected = hashlib.sha1("".join(sorted([token, timestamp, nonce])).encode()).hexdigest()
    return hmac.compare_digest(expected, signature.lower())


def parse_event(body: bytes) -> list[DeliveryReport]:
    """The delivery reports in one callback; other events (follow, menu clicks) give none."""
    if len(body) > MAX_EVENT_BYTES or b"<!DOCTYPE" in body.upper() or b"<!ENTITY" in body.upper():
        raise CallbackError("refused: oversized or declares a DTD")
    try:
        root = ET.fromstring(body)
    except ET.ParseError as exc:
        raise CallbackError(f"not XML: {exc}") from exc
    event = root.findtext("Event", "")
    recipient = root.findtext("FromUserName", "")
    at = _time(root.findtext("CreateTime", "0"))
    if event == "TEMPLATESENDJOBFINISH":
        raw = root.findtext("Status", "")
        return [DeliveryReport(root.findtext("MsgID", ""), recipient, _template_status(raw), raw, at)]
    if event == "subscribe_msg_sent_event":
        reports = []
        for item in root.iterfind("SubscribeMsgSentEvent/List"):
            code = item.findtext("ErrorCode", "")
            raw = item.findtext("ErrorStatus", "")
            refused = code == "20004" or any(word in raw.lower() for word in ("refuse", "block"))
            status = DELIVERED if code == "0" else (BLOCKED if refused else FAILED)
            reports.append(DeliveryReport(item.findtext("MsgID", ""), recipient, status, raw, at))
        return reports
    return []


def _template_status(raw: str) -> str:
    text = raw.replace(" ", "").lower()
    if text == "success":
        return DELIVERED
    if text == "failed:userblock":
        return BLOCKED
    return FAILED


def _time(text: str) -> datetime:
    try:
        return datetime.fromtimestamp(int(text), UTC)
    except (ValueError, OverflowError) as exc:
        raise CallbackError(f"bad CreateTime {text!r}") from exc
