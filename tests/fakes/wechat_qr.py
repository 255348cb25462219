"""The fake WeChat's parametric QR codes: ``POST /cgi-bin/qrcode/create`` (route
``wechat.qrcode``) and ``GET /cgi-bin/showqrcode?ticket=`` (the image of a ticket it issued).

It keeps WeChat's rules as docs/channels.md states them: a valid access token (40001 / 42001
otherwise, like the send routes), ``QR_STR_SCENE`` / ``QR_SCENE`` with ``expire_seconds`` up to
2,592,000 (a temporary code), ``QR_LIMIT_STR_SCENE`` / ``QR_LIMIT_SCENE`` without (permanent),
a string scene of 1 to 64 characters. What it issued is kept in ``fake.qr_codes`` (ticket ->
appid, action, scene, expiry), so a test can check the scene a code carries. A malformed request
is answered 47001 (data format error), as the fake's send routes answer one.
"""

from __future__ import annotations

import json
import secrets
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

if TYPE_CHECKING:
    from tests.fakes.providers import FakeProviders, _Request

TEMPORARY = ("QR_SCENE", "QR_STR_SCENE")
PERMANENT = ("QR_LIMIT_SCENE", "QR_LIMIT_STR_SCENE")
MAX_EXPIRE_SECONDS = 2_592_000
#: A 1x1 PNG: what showqrcode answers is an image; its pixels are not what the tests check.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)


def _appid_of(token: str) -> str:
    return token.removeprefix("TOKEN-").rsplit("-", 1)[0]  # the fake's tokens: TOKEN-<appid>-<n>


def create(req: _Request) -> tuple[int, dict[str, Any], dict[str, str]]:
    fake, received, fault = req.fake, req.received, req.fault
    try:
        body = json.loads(req.raw or b"{}")
    except ValueError:
        body = {}
    body = body if isinstance(body, dict) else {}
    received.payload, received.text = body, json.dumps(body, ensure_ascii=False)
    token = dict(parse_qsl(req.split.query)).get("access_token", "")
    state = fake.check_token(token)
    if state:
        return 200, {"errcode": state, "errmsg": "invalid credential" if state == 40001 else "expired"}, {}
    if fault is not None and fault.code is not None:
        return 200, {"errcode": fault.code, "errmsg": "injected"}, {}
    action = body.get("action_name")
    scene = (
        ((body.get("action_info") or {}).get("scene") or {})
        if isinstance(body.get("action_info"), dict)
        else {}
    )
    scene_value = scene.get("scene_str") if "STR" in str(action) else scene.get("scene_id")
    expire = body.get("expire_seconds")
    well_formed = (
        action in TEMPORARY + PERMANENT
        and scene_value is not None
        and (not isinstance(scene_value, str) or 1 <= len(scene_value) <= 64)
        and (action in PERMANENT or (isinstance(expire, int) and 1 <= expire <= MAX_EXPIRE_SECONDS))
        and (action in TEMPORARY or expire is None)
    )
    if not well_formed:
        return 200, {"errcode": 47001, "errmsg": "data format error"}, {}
    ticket = "gQ" + secrets.token_urlsafe(24)
    url = f"http://weixin.qq.com/q/{secrets.token_urlsafe(16)}"
    with fake._lock:
        fake.qr_codes[ticket] = {
            "appid": _appid_of(token),
            "action": action,
            "scene": scene_value,
            "expire_seconds": expire,
            "url": url,
        }
    received.delivered = True
    reply: dict[str, Any] = {"ticket": ticket, "url": url}
    if action in TEMPORARY:
        reply["expire_seconds"] = expire
    return 200, reply, {}


def show(fake: FakeProviders, query: str) -> tuple[int, bytes, str]:
    """The image of a ticket the fake issued; 404 for any other."""
    ticket = dict(parse_qsl(query)).get("ticket", "")
    with fake._lock:
        known = ticket in fake.qr_codes
    return (200, PNG, "image/png") if known else (404, b"", "text/plain")
