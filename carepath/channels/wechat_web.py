"""WeChat web authorisation (网页授权) with ``snsapi_base``: the official account's openid of the
woman whose WeChat opened a page, silently.

Two steps (``docs/her-pages.md``): her browser is sent to ``authorize_url(...)`` on
``open.weixin.qq.com``, which sends it back to our ``redirect_uri`` with ``code`` and our
``state``; the server exchanges the code at ``sns/oauth2/access_token`` for ``openid``. The
appsecret and this access token stay on the server: ``exchange_code`` returns the openid only
and drops the token (``snsapi_base`` needs no other call). A code is single-use and lives a few
minutes; WeChat refuses a second exchange (40163) and an unknown code (40029).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from urllib.parse import urlencode

import httpx

from carepath.channels.base import WECHAT_BASE_URL, ChannelError, json_object

AUTHORIZE_URL = "https://open.weixin.qq.com/connect/oauth2/authorize"
SCOPE = "snsapi_base"
CHANNEL = "wechat_web"
#: WeChat's own codes for a code it will not exchange.
CODE_USED = 40163
CODE_INVALID = 40029


_SECRET = re.compile(r"(secret=)[^&\s\"]+")


class _NoSecretInLogs(logging.Filter):
    """httpx logs each request's URL at INFO; this exchange's URL carries the appsecret (WeChat
    wants it in the query), so the secret is masked before any handler sees the line."""

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        if "secret=" in text:
            record.msg, record.args = _SECRET.sub(r"\1***", text), ()
        return True


logging.getLogger("httpx").addFilter(_NoSecretInLogs())


@dataclass(frozen=True)
class WebAccount:
    """The official account whose openid she is known by (its ``wechat_template`` appid)."""

    appid: str
    secret: str
    api_url: str = WECHAT_BASE_URL
    authorize_url: str = AUTHORIZE_URL


class CodeRefusedError(ChannelError):
    """WeChat would not exchange the code (used, unknown, expired: ``errcode``) or could not be
    reached; she is asked to open the page again."""

    def __init__(self, message: str, errcode: int | None = None) -> None:
        super().__init__(message)
        self.errcode = errcode


def authorize_url(account: WebAccount, redirect_uri: str, state: str) -> str:
    """Where her browser goes: ``#wechat_redirect`` is required by WeChat."""
    query = urlencode(
        {
            "appid": account.appid,
            "redirect_uri": redirect_uri,
            "response_type": "code",
            "scope": SCOPE,
            "state": state,
        }
    )
    return f"{account.authorize_url}?{query}#wechat_redirect"


def exchange_code(client: httpx.Client, account: WebAccount, code: str) -> str:
    """The openid for ``code`` (one GET; the token in the reply is dropped here)."""
    url = f"{account.api_url.rstrip('/')}/sns/oauth2/access_token"
    params = {
        "appid": account.appid,
        "secret": account.secret,
        "code": code,
        "grant_type": "authorization_code",
    }
    try:
        response = client.get(url, params=params)
    except httpx.HTTPError as exc:
        raise CodeRefusedError(f"{CHANNEL}: cannot reach WeChat: {exc.__class__.__name__}") from exc
    try:
        reply = json_object(response, CHANNEL)
    except ChannelError as exc:
        raise CodeRefusedError(str(exc)) from exc
    openid = reply.get("openid")
    if reply.get("errcode") or not isinstance(openid, str) or not openid:
        errcode = reply.get("errcode")
        raise CodeRefusedError(
            f"{CHANNEL}: code refused: {errcode} {reply.get('errmsg', '')}".strip(),
            errcode if isinstance(errcode, int) else None,
        )
    return openid
