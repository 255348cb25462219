"""WeChat's delivery callbacks, from a hospital's channels file to the store.

A hospital points each WeChat account's callback URL (the MP console's 服务器配置, plain-text
mode) at ``/wechat/<hospital>/<appid>/events`` with a token of its choosing; the same token is
named in its channels file, under the account's channel, by ``callback_token_env`` (the
environment variable holding it: a token is a secret and never sits in the file)::

    hospital: demo-mch
    channels:
      wechat_template:
        appid: wx0123456789abcdef
        callback_token_env: CAREPATH_WECHAT_CALLBACK_TOKEN

An account in safe or compatible mode (安全模式 / 兼容模式) also names its EncodingAESKey the same
way, ``encoding_aes_key_env``; ``open_message`` checks ``msg_signature`` and decrypts
(``channels/wechat_crypto.py``).

``callback_accounts`` reads those; ``verify`` checks WeChat's signature with the account's token;
``record_callback`` parses the event XML (``channels/wechat_events.py``) and records its reports
against the outbox (``store/receipts.py``) in one transaction.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any

import yaml

from carepath.channels import wechat_crypto
from carepath.channels.wechat_events import CallbackError, encrypted_part, parse_event, verify_signature
from carepath.store.db import Database
from carepath.store.receipts import BINDING_KINDS, RecordResult, ReportAccount, record_reports

logger = logging.getLogger("carepath.delivery.receipts")

__all__ = [
    "CallbackAccount",
    "CallbackError",
    "CallbackSignatureError",
    "NotDecryptableError",
    "callback_accounts",
    "encrypted_reply",
    "read_channels_files",
    "record_callback",
    "verify",
]

TOKEN_KEY = "callback_token_env"
AES_KEY = "encoding_aes_key_env"
MENU_REPLIES = "menu_replies"


class CallbackSignatureError(CallbackError):
    """``msg_signature`` is not the one of this account's token over the ``Encrypt`` text."""


class NotDecryptableError(CallbackError):
    """An encrypted callback this account cannot open: no EncodingAESKey configured, or the
    text was not encrypted with it for this appid."""


@dataclass(frozen=True)
class CallbackAccount:
    account: ReportAccount
    token: str
    aes_key: bytes | None = None  # safe and compatible mode
    #: The official account's menu: a ``CLICK`` key -> the text answered as a passive reply
    #: (``menu_replies`` in its channels section; ``delivery/account_events.py``).
    menu_replies: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))


def read_channels_files(paths: str) -> list[dict[str, Any]]:
    """The hospital channels files named in ``paths`` (separated by ``os.pathsep``), parsed."""
    found = []
    for path in filter(None, (p.strip() for p in paths.split(os.pathsep))):
        with open(path, encoding="utf-8") as handle:
            config = yaml.safe_load(handle) or {}
        if not isinstance(config, dict):
            raise ValueError(f"{path}: a channels file is a mapping")
        found.append(config)
    return found


def callback_accounts(
    configs: list[dict[str, Any]], environ: Mapping[str, str]
) -> dict[tuple[str, str], CallbackAccount]:
    """(hospital, appid) -> its callback account, for every WeChat channel of the files that
    names a callback token. A token variable that is not set leaves that account out (logged):
    its callbacks are then refused as not configured, never accepted unchecked."""
    accounts: dict[tuple[str, str], CallbackAccount] = {}
    for config in configs:
        hospital = config.get("hospital")
        channels = config.get("channels") or {}
        if not hospital or not isinstance(channels, dict):
            continue
        for channel in BINDING_KINDS:
            settings = channels.get(channel)
            if not isinstance(settings, dict) or "appid" not in settings or TOKEN_KEY not in settings:
                continue
            variable = str(settings[TOKEN_KEY])
            token = environ.get(variable, "")
            if not token:
                logger.warning(
                    "%s %s: %s names %s, which is not set: its callbacks are refused",
                    hospital,
                    settings["appid"],
                    TOKEN_KEY,
                    variable,
                )
                continue
            appid = str(settings["appid"])
            accounts[(str(hospital), appid)] = CallbackAccount(
                ReportAccount(str(hospital), channel, appid),
                token,
                _aes_key(hospital, settings, environ),
                _menu_replies(hospital, settings),
            )
    return accounts


def _aes_key(hospital: str, settings: Mapping[str, Any], environ: Mapping[str, str]) -> bytes | None:
    """The account's EncodingAESKey, when its section names one that is set and well formed
    (otherwise logged: its encrypted callbacks are then refused, never read unchecked)."""
    if AES_KEY not in settings:
        return None
    variable = str(settings[AES_KEY])
    try:
        return wechat_crypto.aes_key(environ.get(variable, ""))
    except ValueError as exc:
        logger.warning("%s %s: %s names %s: %s", hospital, settings["appid"], AES_KEY, variable, exc)
        return None


#: WeChat takes a text message of at most 2,048 bytes; a menu's answer is far shorter.
MENU_REPLY_LIMIT = 600


def _menu_replies(hospital: str, settings: Mapping[str, Any]) -> Mapping[str, str]:
    """The account's ``menu_replies`` (a ``CLICK`` key -> its answer); one that is not text,
    or too long, is left out (logged): that click is then answered ``success``."""
    configured = settings.get(MENU_REPLIES)
    if not isinstance(configured, dict):
        return MappingProxyType({})
    replies = {}
    for key, text in configured.items():
        if isinstance(text, str) and text.strip() and len(text) <= MENU_REPLY_LIMIT:
            replies[str(key)] = text.strip()
        else:
            logger.warning("%s %s: menu reply for %r is not a text of 1-%d characters: left out",
                           hospital, settings["appid"], key, MENU_REPLY_LIMIT)  # fmt: skip
    return MappingProxyType(replies)


def verify(account: CallbackAccount, timestamp: str, nonce: str, signature: str) -> bool:
    """WeChat's signature over the account's token, the timestamp and the nonce."""
    if not (timestamp and nonce and signature):
        return False
    return verify_signature(account.token, timestamp, nonce, signature)


def open_message(account: CallbackAccount, query: Mapping[str, str], body: bytes) -> bytes:
    """The message XML of a callback whose ``signature`` was verified: the body as it is in
    plain mode; in safe and compatible mode (``encrypt_type=aes``) what ``Encrypt`` holds, once
    ``msg_signature`` is checked (the plain copies of compatible mode are not read)."""
    if query.get("encrypt_type", "raw") != "aes":
        return body
    encrypted = encrypted_part(body)
    if not wechat_crypto.verify_msg_signature(
        account.token,
        query.get("timestamp", ""),
        query.get("nonce", ""),
        encrypted,
        query.get("msg_signature", ""),
    ):
        raise CallbackSignatureError(
            "msg_signature is not the SHA-1 of the sorted token, timestamp, nonce and Encrypt"
        )
    if account.aes_key is None:
        raise NotDecryptableError(f"an encrypted callback, but the account names no {AES_KEY} that is set")
    try:
        return wechat_crypto.decrypt(account.aes_key, account.account.appid, encrypted)
    except wechat_crypto.DecryptError as exc:
        raise NotDecryptableError(str(exc)) from exc


def encrypted_reply(account: CallbackAccount, reply: bytes, timestamp: str, nonce: str) -> bytes:
    """A passive reply as an account in safe or compatible mode sends it."""
    assert account.aes_key is not None
    return wechat_crypto.encrypted_reply(
        account.aes_key, account.account.appid, account.token, reply, timestamp=timestamp, nonce=nonce
    )


def record_callback(db: Database, account: CallbackAccount, body: bytes, now: datetime) -> RecordResult:
    """Parse one callback (``CallbackError`` when it is not understood: nothing recorded) and
    record its delivery reports; events without reports (follows, menu clicks) record nothing."""
    reports = parse_event(body)
    if not reports:
        return RecordResult()
    with db.transaction() as session:
        result = record_reports(session, account.account, reports, now)
    logger.info(
        "%s %s: %d report(s): applied %d, unchanged %d, unknown %d, mismatched %d",
        account.account.hospital_id,
        account.account.appid,
        len(reports),
        result.applied,
        result.unchanged,
        result.unknown,
        result.mismatched,
    )
    return result
