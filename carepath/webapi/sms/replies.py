"""``/sms/replies/<secret>``: the SMS vendors' reply callbacks (上行短信), one path per hospital
and vendor.

Tencent Cloud does not sign its callbacks, so the secret in the path is what proves the caller:
``delivery/sms_replies.py`` finds the hospital and vendor whose ``reply_secret_env`` it is,
compared in constant time. A path with any other secret is answered 404, like any unknown URL,
and the attempt is audited (``not-found``, folded per minute, without the secret it tried). A
body that is not the vendor's callback is 400 ``sms-reply-bad-body`` and records nothing. What
the replies mean (an opt-out withdraws her SMS consent and is confirmed by one SMS; an unknown
number is only recorded) is ``delivery/sms_replies.py``; the answer is the vendor's own
acknowledgement (Tencent ``{"result": 0, "errmsg": "OK"}``, Alibaba ``{"code": 0, "msg": …}``).
"""

from __future__ import annotations

import logging
import os

from flask import Blueprint, Response, abort, current_app, jsonify, request

from carepath.delivery import sms_replies
from carepath.store import audit
from carepath.store.scope import Actor
from carepath.webapi.common.problems import ApiProblemError

blp = Blueprint("sms", __name__, url_prefix="/sms")
log = logging.getLogger(__name__)
#: The audit rows of wrong secrets name no hospital: the path did not say which.
NO_HOSPITAL = "*"


def _setup() -> sms_replies.SmsReplySetup:
    source = str(current_app.config.get("CHANNELS_CONFIG") or "")
    cached = current_app.extensions.get("carepath.sms_replies")
    if cached is None or cached.source != source:
        if cached is not None:
            cached.close()
        try:
            cached = sms_replies.SmsReplySetup(source, os.environ)
        except (OSError, ValueError) as exc:
            raise ApiProblemError(
                503, "callback-config-error", f"the channels configuration cannot be read: {exc}"
            ) from None
        current_app.extensions["carepath.sms_replies"] = cached
    return cached


@blp.post("/replies/<secret>")
def replies(secret: str) -> Response:
    """Record the replies of one vendor callback and acknowledge them as the vendor expects."""
    database = current_app.extensions["carepath.db"]
    now = current_app.config["CLOCK"]()
    account = _setup().find(secret)
    if account is None:
        actor = Actor(NO_HOSPITAL, "sms-callback", "unknown", request.remote_addr)
        detail = "SMS reply callback with a secret no hospital has (POST /sms/replies/…)"
        audit.record_repeated(database, actor, "not-found", now, detail, target_kind="sms-reply")
        log.warning("SMS reply callback from %s with an unknown secret: 404", request.remote_addr)
        abort(404)
    try:
        found = sms_replies.parse_replies(account, request.get_data(cache=False))
    except sms_replies.BadReplyError as exc:
        raise ApiProblemError(400, "sms-reply-bad-body", str(exc)) from None
    sms_replies.record_replies(database, current_app.extensions["carepath.cipher"], account, found, now)
    return jsonify(sms_replies.ACKNOWLEDGEMENTS[account.channel])
