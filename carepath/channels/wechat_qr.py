"""The official account's parametric QR codes (生成带参数的二维码, ``/cgi-bin/qrcode/create``).

Scanning one follows the account (or, for a woman who already follows, opens it) and WeChat
pushes a ``subscribe`` event with ``EventKey`` ``qrscene_<scene>`` (or ``SCAN`` with the scene)
to the account's callback: one scan both follows and says where she came from. Facts from
docs/channels.md ("What the providers' documentation says"):

- temporary codes (``QR_STR_SCENE``) carry ``expire_seconds``, at most 2,592,000 (30 days);
  as many as wanted: campaigns;
- permanent codes (``QR_LIMIT_STR_SCENE``) never expire and are limited to 100,000 per
  account: posters and doctors' cards (``store/sources.py`` counts them before asking);
- the reply's ``ticket`` is exchanged for the image at ``showqrcode?ticket=`` (``show_url``),
  and its ``url`` is the code's content, which our own QR library can draw.

String scenes are 1 to 64 characters. The token comes from the same shared ``TokenStore`` as
the template adapter's (``base.WechatApi``): one account, one stable token for every process.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from urllib.parse import quote

import httpx

from carepath.channels.base import WECHAT_BASE_URL, Clock, RetryableError, TokenStore, WechatApi, utc_now

CREATE_PATH = "/cgi-bin/qrcode/create"
#: Where a ticket is exchanged for the code's image (no token needed: the ticket is the key).
SHOW_BASE_URL = "https://mp.weixin.qq.com"
SHOW_PATH = "/cgi-bin/showqrcode"
MAX_EXPIRE_SECONDS = 2_592_000
MAX_SCENE_LENGTH = 64


@dataclass(frozen=True)
class QrCode:
    """WeChat's answer: ``ticket`` (for the image), ``url`` (the content), the expiry of a
    temporary code in seconds (None for a permanent one)."""

    scene: str
    ticket: str
    url: str
    expire_seconds: int | None


class WechatQrCodes:
    """One official account's QR codes."""

    def __init__(
        self,
        *,
        appid: str,
        secret: str,
        client: httpx.Client,
        token_store: TokenStore,
        base_url: str = WECHAT_BASE_URL,
        show_base_url: str = SHOW_BASE_URL,
        clock: Clock = utc_now,
    ) -> None:
        self.appid = appid
        self._show_base_url = show_base_url.rstrip("/")
        self._api = WechatApi(
            appid=appid,
            secret=secret,
            client=client,
            token_store=token_store,
            base_url=base_url,
            channel="wechat_qr",
            clock=clock,
        )

    def permanent(self, scene: str) -> QrCode:
        """A permanent code (``QR_LIMIT_STR_SCENE``) for a poster or a doctor's card."""
        return self._create({"action_name": "QR_LIMIT_STR_SCENE", "action_info": _scene(scene)}, scene)

    def temporary(self, scene: str, expire_seconds: int) -> QrCode:
        """A temporary code (``QR_STR_SCENE``) living ``expire_seconds`` (1 to 30 days' worth)."""
        if not 1 <= expire_seconds <= MAX_EXPIRE_SECONDS:
            raise ValueError(f"expire_seconds must be 1 to {MAX_EXPIRE_SECONDS}, not {expire_seconds}")
        payload = {
            "expire_seconds": expire_seconds,
            "action_name": "QR_STR_SCENE",
            "action_info": _scene(scene),
        }
        return self._create(payload, scene)

    def show_url(self, ticket: str) -> str:
        return show_url(ticket, self._show_base_url)

    def _create(self, payload: dict[str, object], scene: str) -> QrCode:
        reply = self._api.post(CREATE_PATH, payload, MappingProxyType({}))
        ticket, url = reply.get("ticket"), reply.get("url")
        if not isinstance(ticket, str) or not ticket or not isinstance(url, str) or not url:
            raise RetryableError("wechat_qr: a reply without ticket or url")
        expires = reply.get("expire_seconds")
        return QrCode(scene, ticket, url, int(expires) if isinstance(expires, int) else None)


def show_url(ticket: str, show_base_url: str = SHOW_BASE_URL) -> str:
    """The image's URL: ``showqrcode?ticket=<urlencoded ticket>``."""
    return f"{show_base_url.rstrip('/')}{SHOW_PATH}?ticket={quote(ticket, safe='')}"


def _scene(scene: str) -> dict[str, object]:
    if not 1 <= len(scene) <= MAX_SCENE_LENGTH:
        raise ValueError(f"a scene string is 1 to {MAX_SCENE_LENGTH} characters")
    return {"scene": {"scene_str": scene}}
