"""Official-account template messages (``/cgi-bin/message/template/send``).

For service notices only — checkup and appointment reminders, questionnaires due, follow-ups,
and the weekly digest of new lessons in her inbox — never one message per lesson: WeChat
restricts accounts that use template messages for mass education. Which kinds reach this
adapter is delivery's policy; this module only sends.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import httpx

from carepath.channels.base import (
    BAD_RECIPIENT,
    CONFIG_ERROR,
    NOT_FOLLOWING,
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

SEND_PATH = "/cgi-bin/message/template/send"

#: This endpoint's permanent errcodes. 40003 (bad openid) is a binding recorded wrongly, which
#: staff must correct, so it is reported as a configuration error, as docs/channels.md ("What the
#: providers' documentation says") has it.
PERMANENT = MappingProxyType(
    {43004: NOT_FOLLOWING, 40003: CONFIG_ERROR, 40037: CONFIG_ERROR, 43019: BAD_RECIPIENT}
)


@dataclass(frozen=True)
class WechatTemplateSettings:
    """One hospital's official account. ``templates`` maps a notification kind to a template id;
    ``miniprogram_appid`` set means links open a mini-program page instead of a URL."""

    appid: str
    secret: str
    templates: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    miniprogram_appid: str | None = None
    base_url: str = WECHAT_BASE_URL


class WechatTemplateChannel:
    name = "wechat_template"
    external = True

    def __init__(
        self,
        settings: WechatTemplateSettings,
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
            "client_msg_id": message.client_msg_id,
            "data": {key: {"value": value} for key, value in external_params(message).items()},
        }
        if message.link and self._settings.miniprogram_appid:
            payload["miniprogram"] = {"appid": self._settings.miniprogram_appid, "pagepath": message.link}
        elif message.link:
            payload["url"] = message.link
        reply = self._api.post(SEND_PATH, payload, PERMANENT)
        return Receipt(self.name, str(reply.get("msgid", "")), self._clock(), str(reply.get("errmsg", "ok")))
