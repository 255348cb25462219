"""WeChat's delivery callbacks: after a send, WeChat posts an event to the account's callback
URL saying whether the message reached her. This module checks the request's signature and
turns the XML into ``DeliveryReport``s; the API endpoint (with the store) records them against
the receipt's provider message id.

- Official-account template messages: ``Event`` = ``TEMPLATESENDJOBFINISH``, ``MsgID``,
  ``Status`` = ``success`` | ``failed:user block`` | ``failed: system failed``.
- Mini-program subscribe messages: ``Event`` = ``subscribe_msg_sent_event`` with a
  ``SubscribeMsgSentEvent/List`` per message (``MsgID``, ``ErrorCode``, ``ErrorStatus``).

The same callback URL receives the official account's events about her (``AccountEvent``):
``subscribe`` (with ``EventKey`` ``qrscene_<scene>`` when she followed by scanning a parametric
QR code) and ``SCAN`` (she already follows; ``EventKey`` is the scene), ``unsubscribe``, menu
clicks (``CLICK``, ``VIEW``) and, as the event ``message``, that she sent the account a message
(its type and ``MsgId``, never its content).

This module reads the message XML; in safe and compatible mode it is first taken out of
``Encrypt`` (``encrypted_part``, ``wechat_crypto.py``).
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


@dataclass(frozen=True)
class AccountEvent:
    """An event of the official account about her: ``event`` as WeChat names it (``subscribe``,
    ``SCAN``, ``unsubscribe``, ``CLICK`` …), her ``openid``, WeChat's ``created`` time (seconds,
    with the openid the key WeChat's retries repeat), ``event_key`` and ``ticket`` as sent."""

    event: str
    openid: str
    created: int
    event_key: str
    ticket: str
    #: A message she sent (``event`` ``message``): WeChat's ``MsgId``, by which its retries are
    #: de-duplicated; ``event_key`` is then its ``MsgType``. Her text itself is never read.
    msg_id: str = ""
    #: The account's original id (``ToUserName``), which a passive reply is sent from.
    to: str = ""

    @property
    def occurrence(self) -> str:
        """What WeChat's retries repeat: ``MsgId`` for her messages, ``CreateTime`` for events."""
        return self.msg_id or str(self.created)

    @property
    def at(self) -> datetime:
        return _time(str(self.created))

    @property
    def scene(self) -> str | None:
        """The QR code's scene: ``qrscene_<scene>`` of a ``subscribe``, the key of a ``SCAN``;
        None for a follow not made through a QR code (a search, an article)."""
        if self.event == "subscribe":
            return self.event_key.removeprefix("qrscene_") if self.event_key.startswith("qrscene_") else None
        if self.event == "SCAN":
            return self.event_key or None
        return None


def _root(body: bytes) -> ET.Element:
    if len(body) > MAX_EVENT_BYTES or b"<!DOCTYPE" in body.upper() or b"<!ENTITY" in body.upper():
        raise CallbackError("refused: oversized or declares a DTD")
    try:
        return ET.fromstring(body)
    except ET.ParseError as exc:
        raise CallbackError(f"not XML: {exc}") from exc


def encrypted_part(body: bytes) -> str:
    """The ``Encrypt`` text of a safe- or compatible-mode callback."""
    encrypted = (_root(body).findtext("Encrypt") or "").strip()
    if not encrypted:
        raise CallbackError("encrypt_type=aes but no Encrypt element")
    return encrypted


def parse_account_event(body: bytes) -> AccountEvent | None:
    """The account event in one callback, or None when it carries none (a delivery report is
    an event too, but about a message: ``parse_event`` reads those)."""
    root = _root(body)
    kind = root.findtext("MsgType", "")
    if kind != "event":
        return _her_message(root, kind) if kind else None
    event = root.findtext("Event", "")
    if event in ("TEMPLATESENDJOBFINISH", "subscribe_msg_sent_event"):
        return None
    created = root.findtext("CreateTime", "0").strip()
    _time(created)  # a CreateTime WeChat would never send is a CallbackError
    return AccountEvent(
        event=event,
        openid=root.findtext("FromUserName", ""),
        created=int(created),
        event_key=(root.findtext("EventKey") or "").strip(),
        ticket=(root.findtext("Ticket") or "").strip(),
        to=root.findtext("ToUserName", ""),
    )


def _her_message(root: ET.Element, kind: str) -> AccountEvent:
    """A message she sent the account (text, image, voice …) as an event ``message``: only
    that she wrote, when, and its ``MsgId`` — it opens her customer-service window."""
    created = root.findtext("CreateTime", "0").strip()
    _time(created)
    return AccountEvent(
        event="message",
        openid=root.findtext("FromUserName", ""),
        created=int(created),
        event_key=kind[:40],
        ticket="",
        msg_id=(root.findtext("MsgId") or "").strip()[:64],
        to=root.findtext("ToUserName", ""),
    )


def parse_event(body: bytes) -> list[DeliveryReport]:
    """The delivery reports in one callback; other events (follow, menu clicks) give none."""
    root = _root(body)
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


def _cdata(text: str) -> str:
    return "<![CDATA[" + text.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def passive_text_reply(event: AccountEvent, text: str, created: int) -> bytes:
    """The XML of a passive reply (被动回复) to her event: a text message from the account
    (``event.to``) to her, answered in the body of the callback's response."""
    return (
        f"<xml><ToUserName>{_cdata(event.openid)}</ToUserName><FromUserName>{_cdata(event.to)}</FromUserName>"
        f"<CreateTime>{created}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
        f"<Content>{_cdata(text)}</Content></xml>"
    ).encode()
