"""Build adapters by name: a hospital's configuration names its channels and their settings.

Secrets never sit in configuration files: a setting ``secret_env: CAREPATH_WECHAT_SECRET``
becomes ``secret`` with that environment variable's value (``resolve_secrets``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

import httpx

from carepath.channels.base import Channel, InboxSink, TokenStore
from carepath.channels.console import ConsoleChannel
from carepath.channels.inbox import InboxChannel
from carepath.channels.sms_aliyun import AliyunSmsChannel, AliyunSmsSettings
from carepath.channels.sms_tencent import TencentSmsChannel, TencentSmsSettings
from carepath.channels.webhook import WebhookChannel, WebhookSettings
from carepath.channels.wechat_subscribe import WechatSubscribeChannel, WechatSubscribeSettings
from carepath.channels.wechat_template import WechatTemplateChannel, WechatTemplateSettings


class ChannelDeps:
    """What adapters share within one process: the pooled client, the token cache, the inbox."""

    def __init__(self, *, client: httpx.Client, token_store: TokenStore, inbox: InboxSink) -> None:
        self.client = client
        self.token_store = token_store
        self.inbox = inbox


def _templates(config: Mapping[str, Any]) -> Mapping[str, str]:
    return MappingProxyType({str(k): str(v) for k, v in (config.get("templates") or {}).items()})


def _wechat_template(config: Mapping[str, Any], deps: ChannelDeps) -> Channel:
    settings = WechatTemplateSettings(
        appid=config["appid"],
        secret=config["secret"],
        templates=_templates(config),
        miniprogram_appid=config.get("miniprogram_appid"),
        **({"base_url": config["base_url"]} if "base_url" in config else {}),
    )
    return WechatTemplateChannel(settings, client=deps.client, token_store=deps.token_store)


def _wechat_subscribe(config: Mapping[str, Any], deps: ChannelDeps) -> Channel:
    extra = {k: config[k] for k in ("state", "lang", "base_url") if k in config}
    settings = WechatSubscribeSettings(
        appid=config["appid"], secret=config["secret"], templates=_templates(config), **extra
    )
    return WechatSubscribeChannel(settings, client=deps.client, token_store=deps.token_store)


def _sms_tencent(config: Mapping[str, Any], deps: ChannelDeps) -> Channel:
    extra = {k: config[k] for k in ("region", "endpoint") if k in config}
    settings = TencentSmsSettings(
        secret_id=config["secret_id"],
        secret_key=config["secret_key"],
        sdk_app_id=str(config["sdk_app_id"]),
        sign_name=config["sign_name"],
        templates=_templates(config),
        **extra,
    )
    return TencentSmsChannel(settings, client=deps.client)


def _sms_aliyun(config: Mapping[str, Any], deps: ChannelDeps) -> Channel:
    extra = {k: config[k] for k in ("region", "endpoint") if k in config}
    settings = AliyunSmsSettings(
        access_key_id=config["access_key_id"],
        access_key_secret=config["access_key_secret"],
        sign_name=config["sign_name"],
        templates=_templates(config),
        **extra,
    )
    return AliyunSmsChannel(settings, client=deps.client)


def _webhook(config: Mapping[str, Any], deps: ChannelDeps) -> Channel:
    settings = WebhookSettings(url=config["url"], key_id=config["key_id"], secret=config["secret"])
    return WebhookChannel(settings, client=deps.client)


BUILDERS: Mapping[str, Callable[[Mapping[str, Any], ChannelDeps], Channel]] = MappingProxyType(
    {
        "inbox": lambda config, deps: InboxChannel(deps.inbox),
        "console": lambda config, deps: ConsoleChannel(),
        "wechat_template": _wechat_template,
        "wechat_subscribe": _wechat_subscribe,
        "sms_tencent": _sms_tencent,
        "sms_aliyun": _sms_aliyun,
        "webhook": _webhook,
    }
)


def resolve_secrets(config: Mapping[str, Any], environ: Mapping[str, str]) -> dict[str, Any]:
    """``name_env: VAR`` -> ``name: environ[VAR]``; a missing variable is a configuration error."""
    resolved: dict[str, Any] = {}
    for key, value in config.items():
        if key.endswith("_env"):
            if value not in environ:
                raise KeyError(f"environment variable {value} (for {key[:-4]}) is not set")
            resolved[key[:-4]] = environ[value]
        else:
            resolved[key] = value
    return resolved


def build_channel(name: str, config: Mapping[str, Any], deps: ChannelDeps) -> Channel:
    try:
        builder = BUILDERS[name]
    except KeyError:
        raise ValueError(f"unknown channel {name!r}; known: {', '.join(sorted(BUILDERS))}") from None
    return builder(config, deps)


#: Settings a channel's section may carry for carepath's receiving side, not for sending (the
#: WeChat callback's token, EncodingAESKey and menu replies, read by ``delivery/receipts.py``;
#: the secret path of the SMS vendors' reply callbacks, ``delivery/sms_replies.py``): a sender
#: does not need them set.
RECEIVING_KEYS = frozenset({"callback_token_env", "encoding_aes_key_env", "menu_replies", "reply_secret_env"})


def build_channels(
    channels: Mapping[str, Mapping[str, Any]], deps: ChannelDeps, environ: Mapping[str, str]
) -> dict[str, Channel]:
    """Every channel of a hospital's ``channels:`` section, secrets read from ``environ``."""
    return {
        name: build_channel(
            name,
            resolve_secrets({k: v for k, v in (config or {}).items() if k not in RECEIVING_KEYS}, environ),
            deps,
        )
        for name, config in channels.items()
    }
