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

Only the official account's callbacks (the ``wechat_template`` channel's account) are read
here; a mini program's account sends no such events. A follow not made through a QR code and a
scene that is no source's (another hospital's, a retired code) are acknowledged and logged.

``HANDLERS`` maps WeChat's event name to what carepath does with it. Part 2 of her pages adds
``unsubscribe`` (her binding stops being used) and menu clicks (``CLICK``, ``VIEW``) there, and
the customer-service quota a follow or a scan opens.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from types import MappingProxyType

from sqlalchemy.orm import Session

from carepath.channels.wechat_events import AccountEvent, parse_account_event
from carepath.delivery.receipts import CallbackAccount
from carepath.store import sources
from carepath.store.crypto import FieldCipher
from carepath.store.db import Database
from carepath.store.receipts import ReportAccount

logger = logging.getLogger("carepath.delivery.account_events")

#: The channel whose account is the official account (服务号).
OFFICIAL_ACCOUNT = "wechat_template"

Handler = Callable[[Session, ReportAccount, str, AccountEvent], str]


def _scene_source(session: Session, account: ReportAccount, event: AccountEvent) -> sources.Source | None:
    scene = event.scene
    return sources.find_by_scene(session, account.hospital_id, scene) if scene else None


def _scan(
    session: Session, account: ReportAccount, hashed: str, event: AccountEvent, source: sources.Source
) -> None:
    key = f"wx:{account.appid}:{hashed}:{event.created}:scan"
    sources.record_scan(session, source, sources.HOW_WECHAT_QR, event.at, openid_hash=hashed, dedupe_key=key)


def _followed(session: Session, account: ReportAccount, hashed: str, event: AccountEvent) -> str:
    source = _scene_source(session, account, event)
    if source is None:
        return "follow-without-source"
    _scan(session, account, hashed, event, source)
    key = f"wx:{account.appid}:{hashed}:{event.created}:follow"
    sources.record_follow(session, source, event.at, openid_hash=hashed, dedupe_key=key)
    return "follow"


def _scanned(session: Session, account: ReportAccount, hashed: str, event: AccountEvent) -> str:
    source = _scene_source(session, account, event)
    if source is None:
        return "scan-without-source"
    _scan(session, account, hashed, event, source)
    return "scan"


#: WeChat's event -> what is recorded. Part 2: "unsubscribe", "CLICK", "VIEW".
HANDLERS: Mapping[str, Handler] = MappingProxyType({"subscribe": _followed, "SCAN": _scanned})


def record_account_event(
    db: Database, cipher: FieldCipher, callback: CallbackAccount, body: bytes
) -> str | None:
    """Record what one callback says about her; returns what was done (for logs and tests:
    ``follow``, ``scan``, ``…-without-source``), None when the callback is not such an event.
    A ``CallbackError`` (the body is not understood) records nothing."""
    account = callback.account
    if account.channel != OFFICIAL_ACCOUNT:
        return None
    event = parse_account_event(body)
    handler = HANDLERS.get(event.event) if event is not None else None
    if event is None or handler is None or not event.openid:
        return None
    hashed = sources.openid_hash(cipher, account.appid, event.openid)
    with db.transaction() as session:
        done = handler(session, account, hashed, event)
    if done.endswith("-without-source"):
        logger.info(
            "%s %s: %s with scene %r: no source of this hospital",
            account.hospital_id,
            account.appid,
            event.event,
            event.scene,
        )
    return done
