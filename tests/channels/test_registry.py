"""Adapters are chosen by name; secrets come from the environment, never the configuration."""

from __future__ import annotations

import logging

import pytest

from carepath.channels.base import mask_recipient
from carepath.channels.registry import BUILDERS, ChannelDeps, build_channel, resolve_secrets
from tests.channels.conftest import ADAPTERS, BODY, Adapters, message_for


def test_every_adapter_is_registered_by_its_name() -> None:
    assert set(BUILDERS) == set(ADAPTERS)


def test_an_unknown_channel_is_refused_with_the_known_ones(adapters: Adapters) -> None:
    deps = ChannelDeps(client=adapters.client, token_store=adapters.token_store, inbox=adapters.inbox)
    with pytest.raises(ValueError, match="wechat_template"):
        build_channel("fax", {}, deps)


def test_secrets_are_read_from_the_environment() -> None:
    config = {"appid": "wx1", "secret_env": "CAREPATH_WECHAT_SECRET"}
    assert resolve_secrets(config, {"CAREPATH_WECHAT_SECRET": "s"}) == {"appid": "wx1", "secret": "s"}
    with pytest.raises(KeyError, match="CAREPATH_WECHAT_SECRET"):
        resolve_secrets(config, {})


def test_the_console_logs_the_summary_with_the_recipient_masked(
    adapters: Adapters, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="carepath.channels.console"):
        adapters.build("console").send(message_for("console"))
    assert "+86138****5678" in caplog.text
    assert "13800005678" not in caplog.text
    assert BODY not in caplog.text


def test_masking_keeps_only_the_ends() -> None:
    assert mask_recipient("+8613800005678") == "+86138****5678"
    assert mask_recipient("o-openid-1234567890") == "o-openid-12****7890"
    assert mask_recipient("short") == "*****"
