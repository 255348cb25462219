"""Mini-program subscribe messages (``/cgi-bin/message/subscribe/send``).

Each consent she gives in the mini program allows one message (long-term subscriptions exist
for medical accounts after approval); without one WeChat answers 43101, a permanent failure
the dispatcher falls back from.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import httpx

from carepath.channels.base import (
    CONFIG_ERROR,
    NO_SUBSCRIPTION,
    WECHAT_BASE_URL,
    Clock,
    Message,
    Receipt,
    TokenStore,
    WechatApi,
    external_params,
    template_for,
    utc_now,
)

SEND_PATH = "/cgi-bin/message/subscribe/send"

PERMANENT = MappingProxyType(
    {
        43101: NO_SUBSCRIPTION,
        47003: CONFIG_ERROR,
        41030: CONFIG_ERROR,
        40003: CONFIG_ERROR,
        40037: CONFIG_ERROR,
    }
)

MINIPROGRAM_STATES = ("developer", "trial", "formal")


@dataclass(frozen=True)
class WechatSubscribeSettings:
    appid: str
    secret: str
    templates: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    state: str = "formal"
    lang: str = "zh_CN"
    base_url: str = WECHAT_BASE_URL

    def __post_init__(self) -> None:
        if self.state not in MINIPROGRAM_STATES:
            raise ValueError(f"miniprogram state must be one of {MINIPROGRAM_STATES}")


class WechatSubscribeChannel:
    name = "wechat_subscribe"
    external = True

    def __init__(
        self,
        settings: WechatSubscribeSettings,
        *,
        client: httpx.Client,
        token_store: TokenStore,
        clock: Clock = utc_now,
    ) -> None:
        self._settings = settings
        self._clock = clock
        self._api = WechatApi(
            appid=settings.appid,
            secret=settings.secret,
            client=client,
            token_store=token_store,
            base_url=settings.base_url,
            channel=self.name,
            clock=clock,
        )

    def send(self, message: Message) -> Receipt:
        payload: dict[str, object] = {
            "touser": message.recipient,
            "template_id": template_for(message, self._settings.templates, self.name),
            "data": {key: {"value": value} for key, value in external_params(message).items()},
            "miniprogram_state": self._settings.state,
            "lang": self._settings.lang,
        }
        if message.link:
            payload["page"] = message.link
        reply = self._api.post(SEND_PATH, payload, PERMANENT)
        return Receipt(self.name, str(reply.get("msgid", "")), self._clock(), str(reply.get("errmsg", "ok")))
