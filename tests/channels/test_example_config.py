"""The example hospital configuration (docs/channels.md) builds every channel it names."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from carepath.channels.registry import ChannelDeps, build_channels, resolve_secrets
from tests.channels.conftest import Adapters

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "hospital" / "channels.yaml"
ENVIRON = {
    "CAREPATH_WECHAT_SECRET": "a",
    "CAREPATH_MINIPROGRAM_SECRET": "b",
    "CAREPATH_TENCENT_SECRET_ID": "c",
    "CAREPATH_TENCENT_SECRET_KEY": "d",
    "CAREPATH_CALLCENTRE_SECRET": "e",
}


def test_the_example_configuration_builds_its_channels(adapters: Adapters) -> None:
    config = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    deps = ChannelDeps(client=adapters.client, token_store=adapters.token_store, inbox=adapters.inbox)
    channels = build_channels(config["channels"], deps, ENVIRON)
    assert set(channels) == {"inbox", "wechat_template", "wechat_subscribe", "sms_tencent", "webhook"}
    assert [c for c in config["delivery"]["fallback_order"] if c not in channels] == []


SECRET_KEYS = {"secret", "secret_id", "secret_key", "access_key_id", "access_key_secret"}


def test_the_example_holds_no_secret_only_the_variables_naming_them() -> None:
    config = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    for name, settings in config["channels"].items():
        assert not SECRET_KEYS & set(settings), name
        if name not in ("inbox", "console"):
            with pytest.raises(KeyError):
                resolve_secrets(settings, {})


def test_the_example_names_callback_tokens_that_sending_does_not_need() -> None:
    from carepath.delivery.receipts import callback_accounts

    config = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    environ = {**ENVIRON, "CAREPATH_WECHAT_CALLBACK_TOKEN": "t1", "CAREPATH_MINIPROGRAM_CALLBACK_TOKEN": "t2"}
    accounts = callback_accounts([config], environ)
    assert {key: (a.account.channel, a.token) for key, a in accounts.items()} == {
        ("demo-mch", "wx0123456789abcdef"): ("wechat_template", "t1"),
        ("demo-mch", "wxfedcba9876543210"): ("wechat_subscribe", "t2"),
    }
    assert callback_accounts([config], ENVIRON) == {}  # tokens unset: no callbacks accepted
