"""Her replies to SMS (issue 19 item 6): the vendors' reply callbacks on a secret path, her
opt-out recorded, and one SMS to confirm it.

A hospital points its SMS vendor's reply callback (Tencent: 回复回调; Alibaba: 上行消息, HTTP
batch push) at ``<carepath>/sms/replies/<secret>`` and names the secret's environment variable
under that vendor in its channels file (a secret never sits in a file)::

    channels:
      sms_tencent:
        ...
        reply_secret_env: CAREPATH_SMS_REPLY_SECRET

Tencent's callbacks are not signed, so the path is the only proof that a reply comes from the
vendor: the secret is at least ``MIN_SECRET`` characters (``python -c "import secrets;
print(secrets.token_urlsafe(32))"``), and ``SmsReplySetup.find`` compares the path with every
configured secret in constant time, the same work whether or not one matches. The secret names
the hospital and the vendor; a wrong one is answered 404 and audited by the view.

Each reply is recorded (``store/binding_events.py``: the phone's keyed hash, the keyword it
matched, never her text). A reply that is one of the hospital's opt-out keywords from a woman
bound with that phone withdraws her SMS consent; **after** that commit she is sent one SMS
through the same vendor confirming it (template kind ``sms-opt-out-confirmed``, a fixed text
with no fields). That confirmation is the only SMS after her withdrawal: it is sent only when
the reply withdrew something (a second "TD" gets none), once per reply (a vendor's retry of the
callback is a repeat: nothing happens), never retried (a confirmation lost to a crash or a
refused call is logged on the event row, ``confirmation-failed: …``; her withdrawal stands),
and not sent while a kill switch stops all sending or this vendor (``carepath delivery pause``).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from carepath.channels.base import Channel, ChannelError, InMemoryTokenStore, Message, make_http_client
from carepath.channels.inbox import MemoryInbox
from carepath.channels.registry import RECEIVING_KEYS, ChannelDeps, build_channel, resolve_secrets
from carepath.channels.sms_replies import ACKNOWLEDGEMENTS, BadReplyError, SmsReply, parse
from carepath.delivery.receipts import read_channels_files
from carepath.store import binding_events, delivery_state, hospital_settings
from carepath.store.crypto import FieldCipher
from carepath.store.db import Database

__all__ = ["ACKNOWLEDGEMENTS", "BadReplyError", "ReplyAccount", "SmsReplySetup", "record_replies"]

log = logging.getLogger(__name__)
REPLY_SECRET = "reply_secret_env"
MIN_SECRET = 24
CONFIRMATION_KIND = "sms-opt-out-confirmed"
SMS_VENDORS = ("sms_tencent", "sms_aliyun")


@dataclass(frozen=True)
class ReplyAccount:
    """One hospital's SMS vendor whose replies arrive on ``secret``'s path; ``sender`` sends
    the confirmation (None when the vendor's sending settings are not usable: logged)."""

    hospital_id: str
    channel: str
    secret: str
    sender: Channel | None = None


def _digest(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()


class SmsReplySetup:
    """Every hospital's reply accounts, read once from the channels files (``source``)."""

    def __init__(self, source: str, environ: Mapping[str, str]) -> None:
        self.source = source
        self.client = make_http_client()
        deps = ChannelDeps(client=self.client, token_store=InMemoryTokenStore(), inbox=MemoryInbox())
        self.accounts: list[ReplyAccount] = []
        for config in read_channels_files(source):
            hospital = str(config.get("hospital") or "")
            channels = config.get("channels") or {}
            if not hospital or not isinstance(channels, dict):
                continue
            for vendor in SMS_VENDORS:
                settings = channels.get(vendor)
                if isinstance(settings, dict) and REPLY_SECRET in settings:
                    account = _account(hospital, vendor, settings, environ, deps)
                    if account is not None:
                        self.accounts.append(account)

    def find(self, secret: str) -> ReplyAccount | None:
        """The account whose secret is ``secret``: every account is compared, in constant time
        over digests of equal length, so the answer's timing tells nothing of how close it was."""
        given = _digest(secret)
        found = None
        for account in self.accounts:
            if hmac.compare_digest(given, _digest(account.secret)) and found is None:
                found = account
        return found

    def close(self) -> None:
        self.client.close()


def _account(
    hospital: str, vendor: str, settings: Mapping[str, Any], environ: Mapping[str, str], deps: ChannelDeps
) -> ReplyAccount | None:
    variable = str(settings[REPLY_SECRET])
    secret = environ.get(variable, "")
    if len(secret) < MIN_SECRET:
        log.warning(
            "%s %s: %s names %s, which is not set or shorter than %d characters: its replies are refused",
            hospital, vendor, REPLY_SECRET, variable, MIN_SECRET,
        )  # fmt: skip
        return None
    sender: Channel | None = None
    try:
        sending = {k: v for k, v in settings.items() if k not in RECEIVING_KEYS}
        sender = build_channel(vendor, resolve_secrets(sending, environ), deps)
    except (KeyError, ValueError, TypeError) as exc:
        log.warning("%s %s: cannot send opt-out confirmations: %s", hospital, vendor, exc)
    return ReplyAccount(hospital, vendor, secret, sender)


def _recipient(phone: str) -> str:
    return phone if phone.startswith("+") else f"+86{phone}"


def _phone_hashes(cipher: FieldCipher, phone: str) -> tuple[str, ...]:
    """Her phone's keyed hash as a binding may hold it: 11 digits, or with +86 (``put_binding``
    keeps what the caller gave)."""
    forms = (phone,) if phone.startswith("+") else (phone, f"+86{phone}")
    return tuple(cipher.lookup_hash("phone", form) for form in forms)


def record_replies(
    db: Database, cipher: FieldCipher, account: ReplyAccount, replies: list[SmsReply], now: datetime
) -> list[binding_events.SmsReplyOutcome]:
    """Record the replies of one callback (one transaction), then confirm each opt-out."""
    with db.transaction() as session:
        keywords = hospital_settings.current(session, account.hospital_id).sms_opt_out_keywords
        paused = [
            scope
            for scope, target in delivery_state.pauses(session, account.hospital_id)
            if scope == "all" or (scope == "channel" and target == account.channel)
        ]
        outcomes = [
            binding_events.sms_reply(
                session,
                hospital_id=account.hospital_id,
                channel=account.channel,
                phone_hashes=_phone_hashes(cipher, reply.phone),
                text=reply.text,
                keywords=keywords,
                reply_key=reply.key,
                at=reply.at,
                now=now,
            )
            for reply in replies
        ]
    for reply, outcome in zip(replies, outcomes, strict=True):
        log.info("%s %s: SMS reply: %s", account.hospital_id, account.channel, outcome.outcome)
        if outcome.confirm:
            # a kill switch on all sending or on this vendor stops the confirmation too
            paused_by = f"confirmation-not-sent: paused:{paused[0]}" if paused else None
            result = paused_by or _confirm(account, reply.phone, outcome.event_ids[0])
            with db.transaction() as session:
                binding_events.set_confirmation(session, outcome.event_ids, result)
    return outcomes


def _confirm(account: ReplyAccount, phone: str, event_id: int) -> str:
    """Send her the one SMS that confirms her opt-out; what became of it, for the event rows."""
    if account.sender is None:
        return "confirmation-failed: no SMS sender"
    message = Message(
        dedupe_key=f"{CONFIRMATION_KIND}:{event_id}",
        hospital_id=account.hospital_id,
        kind=CONFIRMATION_KIND,
        recipient=_recipient(phone),
        summary="",
        params={},
    )
    try:
        account.sender.send(message)
    except ChannelError as exc:
        log.warning("%s %s: opt-out confirmation not sent: %s", account.hospital_id, account.channel, exc)
        return f"confirmation-failed: {exc}"
    except Exception as exc:  # an adapter's bug must not undo her recorded withdrawal
        log.exception("%s %s: opt-out confirmation failed", account.hospital_id, account.channel)
        return f"confirmation-failed: {type(exc).__name__}"
    return "confirmation-sent"


def parse_replies(account: ReplyAccount, body: bytes) -> list[SmsReply]:
    """The replies of a callback on ``account``'s path (``BadReplyError`` when not understood)."""
    return parse(account.channel, body)
