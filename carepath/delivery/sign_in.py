"""What her sign-in needs of a hospital's channels: the SMS adapter that carries her one-time
code, and the official account whose openid web authorisation yields.

Read from the same hospital channels files as delivery (``CHANNELS_CONFIG``, ``carepath serve
--config``): the SMS vendor is the one ``delivery.sms`` names (``sms_tencent`` by default) and
its template for the kind ``sign-in-code`` (a verification-code template, 验证码类, approved by
the vendor; its one variable is the code); the official account is ``wechat_template``'s
``appid`` and ``secret_env`` (``base_url`` too, for a test's fake). A hospital without them
simply has no SMS or no WeChat sign-in: the page says so in Chinese.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from carepath.channels.base import (
    Channel,
    ChannelError,
    InMemoryTokenStore,
    Message,
    Receipt,
    make_http_client,
)
from carepath.channels.inbox import MemoryInbox
from carepath.channels.registry import RECEIVING_KEYS, ChannelDeps, build_channel, resolve_secrets
from carepath.channels.wechat_web import (
    AUTHORIZE_URL,
    CodeRefusedError,
    WebAccount,
    authorize_url,
    exchange_code,
)
from carepath.delivery.receipts import read_channels_files

#: What the pages need of the channels, re-exported (pages import delivery, never channels).
__all__ = ["ChannelError", "CodeRefusedError", "HospitalSignIn", "SignInSetup", "WebAccount", "authorize_url",
           "exchange_code", "send_code"]  # fmt: skip

log = logging.getLogger(__name__)
KIND = "sign-in-code"
#: The code's template variable, by vendor: Tencent numbers them, Alibaba names them.
CODE_PARAM = {"sms_tencent": "1", "sms_aliyun": "code"}


@dataclass(frozen=True)
class HospitalSignIn:
    hospital_id: str
    sms: Channel | None = None
    wechat: WebAccount | None = None


class SignInSetup:
    """Every hospital's sign-in channels, read once from the channels files (``source``)."""

    def __init__(
        self, source: str, environ: Mapping[str, str], *, authorize_url: str = AUTHORIZE_URL
    ) -> None:
        self.source = source
        self.authorize_url = authorize_url
        self.client = make_http_client()
        deps = ChannelDeps(client=self.client, token_store=InMemoryTokenStore(), inbox=MemoryInbox())
        self._hospitals: dict[str, HospitalSignIn] = {}
        for config in read_channels_files(source):
            hospital = str(config.get("hospital") or "")
            channels = config.get("channels") or {}
            if hospital and isinstance(channels, dict):
                self._hospitals[hospital] = _hospital(
                    hospital, config, channels, deps=deps, environ=environ, authorize_url=authorize_url
                )

    def get(self, hospital_id: str) -> HospitalSignIn:
        return self._hospitals.get(hospital_id) or HospitalSignIn(hospital_id)

    def close(self) -> None:
        self.client.close()


def _hospital(
    hospital: str,
    config: Mapping[str, Any],
    channels: Mapping[str, Any],
    *,
    deps: ChannelDeps,
    environ: Mapping[str, str],
    authorize_url: str,
) -> HospitalSignIn:
    delivery = config.get("delivery") or {}
    sms_name = str(delivery.get("sms") or "sms_tencent") if isinstance(delivery, dict) else "sms_tencent"
    sms: Channel | None = None
    wechat: WebAccount | None = None
    try:
        if isinstance(channels.get(sms_name), dict):
            settings = {k: v for k, v in channels[sms_name].items() if k not in RECEIVING_KEYS}
            sms = build_channel(sms_name, resolve_secrets(settings, environ), deps)
        account = channels.get("wechat_template")
        if isinstance(account, dict) and "appid" in account:
            resolved = resolve_secrets({k: v for k, v in account.items() if k == "secret_env"}, environ)
            extra = {"api_url": str(account["base_url"])} if "base_url" in account else {}
            wechat = WebAccount(
                str(account["appid"]), str(resolved["secret"]), authorize_url=authorize_url, **extra
            )
    except (KeyError, ValueError, TypeError) as exc:  # a missing secret: that sign-in is off, logged
        log.warning("hospital %s: sign-in channel not usable: %s", hospital, exc)
    return HospitalSignIn(hospital, sms, wechat)


def send_code(setup: HospitalSignIn, phone: str, code: str) -> Receipt:
    """Send her code by SMS (``phone``: 11 digits). Raises ``ChannelError`` (nothing to send
    with: ``LookupError``)."""
    if setup.sms is None:
        raise LookupError(f"hospital {setup.hospital_id} has no SMS channel for sign-in codes")
    message = Message(
        dedupe_key=f"{KIND}:{secrets.token_hex(8)}",
        hospital_id=setup.hospital_id,
        kind=KIND,
        recipient=f"+86{phone}",
        summary="",
        params={CODE_PARAM.get(setup.sms.name, "1"): code},
    )
    return setup.sms.send(message)
