"""The official account's events about her, from its callback to the store.

A scan of a source's parametric QR code (``store/sources.py``) comes back as:
- ``subscribe`` with ``EventKey`` ``qrscene_src_<code>``: she followed the account by scanning it
  — a scan and a follow of that source;
- ``SCAN`` with ``EventKey`` ``src_<code>``: she already followed — a scan.

Both are recorded with the keyed hash of her openid on this account (never the openid: she has
not registered and may never), so that registration, once she signs in through WeChat, can find
where she came from (``sources.source_for_openid``). WeChat repeats a callback it did not see
answered within 5 s: each event's dedupe key is the openid's hash and ``CreateTime``, as
docs/channels.md says to de-duplicate events, so a repeat records nothing new.

Issue 19 item 5 adds what the events mean for her binding (``store/binding_events.py``, logged
in ``binding_events``): ``unsubscribe`` stops her WeChat binding being used (delivery falls back
to her next channel), a ``subscribe`` of an openid she is bound with makes it active again, and
a follow, a scan, a menu ``CLICK`` or a message she sends opens her customer-service window.
Menu clicks (``CLICK``, ``VIEW``) are logged with their key; a ``CLICK`` whose key the account's
``menu_replies`` names is answered with that text as a passive reply (``MenuReply``), the only
answer other than ``success`` the callback gives.

Only the official account's callbacks (the ``wechat_template`` channel's account) are read
here; a mini program's account sends no such events. A follow not made through a QR code and a
scene that is no source's (another hospital's, a retired code) are acknowledged and logged.

``HANDLERS`` maps WeChat's event name to what carepath does with it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType

from sqlalchemy.orm import Session

from carepath.channels.wechat_events import AccountEvent, parse_account_event, passive_text_reply
from carepath.delivery.receipts import CallbackAccount
from carepath.store import binding_events, sources
from carepath.store.crypto import FieldCipher
from carepath.store.db import Database
from carepath.store.receipts import ReportAccount

logger = logging.getLogger("carepath.delivery.account_events")

#: The channel whose account is the official account (服务号).
OFFICIAL_ACCOUNT = "wechat_template"

Handler = Callable[[Session, ReportAccount, str, AccountEvent, datetime], str]


def _scene_source(session: Session, account: ReportAccount, event: AccountEvent) -> sources.Source | None:
    scene = event.scene
    return sources.find_by_scene(session, account.hospital_id, scene) if scene else None


def _scan(
    session: Session, account: ReportAccount, hashed: str, event: AccountEvent, source: sources.Source
) -> None:
    key = f"wx:{account.appid}:{hashed}:{event.created}:scan"
    sources.record_scan(session, source, sources.HOW_WECHAT_QR, event.at, openid_hash=hashed, dedupe_key=key)


def _followed(
    session: Session, account: ReportAccount, hashed: str, event: AccountEvent, now: datetime
) -> str:
    done = _binding(binding_events.SUBSCRIBE)(session, account, hashed, event, now)
    source = _scene_source(session, account, event)
    if source is None:
        return f"{done}, follow-without-source"
    _scan(session, account, hashed, event, source)
    key = f"wx:{account.appid}:{hashed}:{event.created}:follow"
    sources.record_follow(session, source, event.at, openid_hash=hashed, dedupe_key=key)
    return f"{done}, follow"


def _scanned(
    session: Session, account: ReportAccount, hashed: str, event: AccountEvent, now: datetime
) -> str:
    done = _binding(binding_events.SCAN)(session, account, hashed, event, now)
    source = _scene_source(session, account, event)
    if source is None:
        return f"{done}, scan-without-source"
    _scan(session, account, hashed, event, source)
    return f"{done}, scan"


def _binding(kind: str) -> Handler:
    """The handler that logs an event of this kind and applies it to her binding."""

    def handle(
        session: Session, account: ReportAccount, hashed: str, event: AccountEvent, now: datetime
    ) -> str:
        return binding_events.account_event(
            session, hospital_id=account.hospital_id, appid=account.appid, openid=event.openid,
            openid_hash=hashed, kind=kind, detail=event.event_key, occurrence=event.occurrence,
            at=event.at, now=now,
        )  # fmt: skip

    return handle


#: WeChat's event -> what is recorded (``message``: she sent the account a message).
HANDLERS: Mapping[str, Handler] = MappingProxyType(
    {
        "subscribe": _followed,
        "SCAN": _scanned,
        "unsubscribe": _binding(binding_events.UNSUBSCRIBE),
        "CLICK": _binding(binding_events.CLICK),
        "VIEW": _binding(binding_events.VIEW),
        "message": _binding(binding_events.MESSAGE),
    }
)


@dataclass(frozen=True)
class Recorded:
    """What one callback did: ``done`` (for logs and tests: the binding's outcome, then the
    source's — ``binding-inactive``, ``recorded, follow``, ``unknown-sender, scan-without-source``,
    ``repeat`` …) and, for a menu ``CLICK`` the account answers, the passive reply's XML."""

    done: str
    reply: bytes | None = None


def record_account_event(
    db: Database, cipher: FieldCipher, callback: CallbackAccount, body: bytes, now: datetime
) -> Recorded | None:
    """Record what one callback says about her (see the module docstring); None when the
    callback is not such an event. A ``CallbackError`` (the body is not understood) records nothing."""
    account = callback.account
    if account.channel != OFFICIAL_ACCOUNT:
        return None
    event = parse_account_event(body)
    handler = HANDLERS.get(event.event) if event is not None else None
    if event is None or handler is None or not event.openid:
        return None
    hashed = sources.openid_hash(cipher, account.appid, event.openid)
    with db.transaction() as session:
        done = handler(session, account, hashed, event, now)
    if "-without-source" in done:
        logger.info(
            "%s %s: %s with scene %r: no source of this hospital",
            account.hospital_id,
            account.appid,
            event.event,
            event.scene,
        )
    answer = callback.menu_replies.get(event.event_key) if event.event == "CLICK" else None
    reply = passive_text_reply(event, answer, int(now.timestamp())) if answer else None
    return Recorded(done, reply)
