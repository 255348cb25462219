"""``/wechat/<hospital>/<appid>/events``: WeChat's callback URL for one hospital's account.

- ``GET`` is WeChat's URL check when the URL is saved in the MP console: the signature (SHA-1
  of the sorted token, timestamp and nonce) is checked and ``echostr`` answered as sent.
- ``POST`` carries an event's XML in plain mode; in safe and compatible mode
  (``encrypt_type=aes``) inside ``Encrypt``, opened with the account's EncodingAESKey once
  ``msg_signature`` is checked (``delivery/receipts.py``, ``open_message``). Delivery reports
  (``TEMPLATESENDJOBFINISH``, ``subscribe_msg_sent_event``) are recorded against the outbox;
  the official account's ``subscribe`` and ``SCAN`` events with a source's scene are recorded
  against that source (``delivery/account_events.py``, where part 2 adds ``unsubscribe`` and
  menu clicks); other events are acknowledged and ignored. WeChat expects ``success`` (or an
  empty body), in every mode.

The accounts and their tokens come from the hospitals' channels files
(``CHANNELS_CONFIG``, ``carepath serve --config``; see ``delivery/receipts.py``). A bad
signature is 401 ``callback-bad-signature``, an unknown hospital or account 404
``callback-unknown-account``, a body that is not the event XML 400 ``callback-bad-xml``:
A wrong ``msg_signature`` is 401 ``callback-bad-signature`` too; an encrypted callback the account
cannot open (no EncodingAESKey configured, or not encrypted with it for this appid) is 400
``callback-not-decryptable``. All problem+json, never a 500 and never a half-recorded callback.
"""

from __future__ import annotations

import os
import secrets
from datetime import datetime

from flask import Blueprint, Response, current_app, request

from carepath.delivery import account_events, receipts
from carepath.webapi.common.problems import ApiProblemError

blp = Blueprint("wechat", __name__, url_prefix="/wechat")


def _account(hospital_id: str, appid: str) -> receipts.CallbackAccount:
    source = str(current_app.config.get("CHANNELS_CONFIG") or "")
    cached = current_app.extensions.get("carepath.callbacks")
    if cached is None or cached[0] != source:
        try:
            accounts = receipts.callback_accounts(receipts.read_channels_files(source), os.environ)
        except (OSError, ValueError) as exc:
            raise ApiProblemError(
                503, "callback-config-error", f"the channels configuration cannot be read: {exc}"
            ) from None
        cached = (source, accounts)
        current_app.extensions["carepath.callbacks"] = cached
    account = cached[1].get((hospital_id, appid))
    if account is None:
        raise ApiProblemError(
            404,
            "callback-unknown-account",
            f"no WeChat account {appid!r} with a callback token for hospital {hospital_id!r}",
        )
    return account


def _verified(hospital_id: str, appid: str) -> receipts.CallbackAccount:
    account = _account(hospital_id, appid)
    args = request.args
    if not receipts.verify(
        account, args.get("timestamp", ""), args.get("nonce", ""), args.get("signature", "")
    ):
        raise ApiProblemError(
            401,
            "callback-bad-signature",
            "signature is not the SHA-1 of the sorted token, timestamp and nonce",
        )
    return account


@blp.get("/<hospital_id>/<appid>/events")
def check_url(hospital_id: str, appid: str) -> Response:
    """WeChat's URL check: answer ``echostr`` when the signature is good."""
    _verified(hospital_id, appid)
    return Response(request.args.get("echostr", ""), mimetype="text/plain")


@blp.post("/<hospital_id>/<appid>/events")
def event(hospital_id: str, appid: str) -> Response:
    """One event: delivery reports and follows or scans of a source are recorded; ``success``."""
    account = _verified(hospital_id, appid)
    database = current_app.extensions["carepath.db"]
    now = current_app.config["CLOCK"]()
    try:
        body = receipts.open_message(account, request.args, request.get_data(cache=False))
        receipts.record_callback(database, account, body, now)
        recorded = account_events.record_account_event(
            database, current_app.extensions["carepath.cipher"], account, body, now
        )
    except receipts.CallbackSignatureError as exc:
        raise ApiProblemError(401, "callback-bad-signature", str(exc)) from None
    except receipts.NotDecryptableError as exc:
        raise ApiProblemError(400, "callback-not-decryptable", str(exc)) from None
    except receipts.CallbackError as exc:
        raise ApiProblemError(400, "callback-bad-xml", str(exc)) from None
    if recorded is not None and recorded.reply is not None:
        return _passive_reply(account, recorded.reply, now)
    return Response("success", mimetype="text/plain")


def _passive_reply(account: receipts.CallbackAccount, reply: bytes, now: datetime) -> Response:
    """A menu click's answer: as it is in plain mode, encrypted and signed in safe and
    compatible mode (WeChat reads an encrypted account's replies encrypted)."""
    if request.args.get("encrypt_type", "raw") == "aes" and account.aes_key is not None:
        reply = receipts.encrypted_reply(account, reply, str(int(now.timestamp())), secrets.token_hex(8))
    return Response(reply, mimetype="application/xml")
