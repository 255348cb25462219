"""The fake WeChat's web authorisation (网页授权), beside ``providers.py``'s other routes.

- ``GET /connect/oauth2/authorize?appid&redirect_uri&response_type=code&scope&state``: WeChat's
  page that the woman's WeChat browser is sent to. The fake plays her WeChat: it answers 302 to
  ``redirect_uri`` with a fresh ``code`` and the ``state`` as given, for the openid that
  ``WebAuth.openid`` names (the test sets who is "inside WeChat"). It checks the appid, the
  scope (``snsapi_base``) and the ``#wechat_redirect`` suffix cannot be seen by a server, so not.
- ``GET /sns/oauth2/access_token?appid&secret&code&grant_type=authorization_code``: the code for
  the openid, once: a second exchange is errcode 40163, an unknown code 40029, a wrong secret
  40125, a code older than five minutes 40029 (as WeChat answers an expired one).
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urlsplit

if TYPE_CHECKING:
    from tests.fakes.providers import _Request

CODE_SECONDS = 300


@dataclass
class WebAuth:
    """Who is "inside WeChat" (``openid``) and the codes handed out."""

    openid: str = "o-web-1"
    codes: dict[str, tuple[str, str, float]] = field(default_factory=dict)  # code -> appid, openid, at
    used: set[str] = field(default_factory=set)
    redirects: list[str] = field(default_factory=list)  # every redirect_uri received

    def __post_init__(self) -> None:
        self._lock = threading.Lock()

    def issue(self, appid: str) -> str:
        code = secrets.token_hex(16)
        with self._lock:
            self.codes[code] = (appid, self.openid, time.monotonic())
        return code

    def spend(self, code: str) -> tuple[str, str] | int:
        """(appid, openid) for a fresh code, else WeChat's errcode."""
        with self._lock:
            if code in self.used:
                return 40163
            found = self.codes.get(code)
            if found is None or time.monotonic() - found[2] > CODE_SECONDS:
                return 40029
            self.used.add(code)
            return found[0], found[1]


def route(path: str) -> str | None:
    if path == "/connect/oauth2/authorize":
        return "wechat.authorize"
    if path == "/sns/oauth2/access_token":
        return "wechat.oauth_token"
    return None


def handle(req: _Request) -> tuple[int, dict[str, Any], dict[str, str]]:
    query = dict(parse_qsl(req.split.query))
    req.received.payload = {k: v for k, v in query.items() if k != "secret"}
    req.received.text = " ".join(f"{k}={v}" for k, v in req.received.payload.items())
    web: WebAuth = req.fake.web
    if req.route == "wechat.authorize":
        return _authorize(req, web, query)
    return _exchange(req, web, query)


def _authorize(
    req: _Request, web: WebAuth, query: dict[str, str]
) -> tuple[int, dict[str, Any], dict[str, str]]:
    appid, redirect_uri = query.get("appid", ""), query.get("redirect_uri", "")
    if appid not in req.fake.wechat_accounts:
        return 400, {"errcode": 10003, "errmsg": "redirect_uri domain mismatch or bad appid"}, {}
    if query.get("response_type") != "code" or query.get("scope") != "snsapi_base" or not redirect_uri:
        return 400, {"errcode": 10005, "errmsg": "bad request"}, {}
    web.redirects.append(redirect_uri)
    parts = urlsplit(redirect_uri)
    joined = "&".join(
        p for p in (parts.query, urlencode({"code": web.issue(appid), "state": query.get("state", "")})) if p
    )
    req.received.delivered = True
    return 302, {}, {"Location": parts._replace(query=joined).geturl()}


def _exchange(
    req: _Request, web: WebAuth, query: dict[str, str]
) -> tuple[int, dict[str, Any], dict[str, str]]:
    appid = query.get("appid", "")
    if query.get("grant_type") != "authorization_code":
        return 200, {"errcode": 40002, "errmsg": "invalid grant_type"}, {}
    if req.fake.wechat_accounts.get(appid) != query.get("secret"):
        return 200, {"errcode": 40125, "errmsg": "invalid appsecret"}, {}
    spent = web.spend(query.get("code", ""))
    if isinstance(spent, int):
        return 200, {"errcode": spent, "errmsg": "code been used" if spent == 40163 else "invalid code"}, {}
    if spent[0] != appid:
        return 200, {"errcode": 40029, "errmsg": "invalid code"}, {}
    req.received.delivered = True
    token = f"WEB-{secrets.token_hex(8)}"
    return (
        200,
        {
            "access_token": token,
            "expires_in": 7200,
            "refresh_token": "R",
            "openid": spent[1],
            "scope": "snsapi_base",
        },
        {},
    )
