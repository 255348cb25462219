"""WeChat adapters: request shapes, links, dedupe ids, and the token cache."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from carepath.channels.base import AccessTokens, CachedToken, InMemoryTokenStore, RetryableError
from carepath.channels.registry import ChannelDeps, build_channel
from carepath.channels.wechat_subscribe import WechatSubscribeSettings
from tests.channels.conftest import Adapters, message_for, settings_for


def test_template_message_shape(adapters: Adapters) -> None:
    message = message_for("wechat_template")
    adapters.build("wechat_template").send(message)
    (sent,) = adapters.fake.delivered("wechat.template")
    assert sent.payload == {
        "touser": "o-openid-1",
        "template_id": "TPL-wechat_template",
        "client_msg_id": message.client_msg_id,
        "url": "https://mch.example.cn/inbox/42",
        "data": {"thing1": {"value": message.summary}, "time2": {"value": "2026年6月20日"}},
    }


def test_client_msg_id_is_stable_per_dedupe_key_and_fits_wechat() -> None:
    a = message_for("wechat_template", key="p1/x@v/r/2026-06-20/0")
    b = message_for("wechat_template", key="p1/x@v/r/2026-06-20/0")
    c = message_for("wechat_template", key="p1/x@v/r/2026-06-27/0")
    assert a.client_msg_id == b.client_msg_id != c.client_msg_id
    assert len(a.client_msg_id) == 32


def test_links_open_the_mini_program_when_one_is_configured(adapters: Adapters) -> None:
    config = dict(settings_for("wechat_template", adapters.fake), miniprogram_appid="wx-mini")
    deps = ChannelDeps(client=adapters.client, token_store=adapters.token_store, inbox=adapters.inbox)
    build_channel("wechat_template", config, deps).send(
        message_for("wechat_template", link="pages/inbox/item?id=42")
    )
    (sent,) = adapters.fake.delivered("wechat.template")
    assert sent.payload["miniprogram"] == {"appid": "wx-mini", "pagepath": "pages/inbox/item?id=42"}
    assert "url" not in sent.payload


def test_subscribe_message_shape(adapters: Adapters) -> None:
    adapters.build("wechat_subscribe").send(message_for("wechat_subscribe", link="pages/inbox/item?id=42"))
    (sent,) = adapters.fake.delivered("wechat.subscribe")
    assert sent.payload["page"] == "pages/inbox/item?id=42"
    assert sent.payload["miniprogram_state"] == "formal"
    assert sent.payload["lang"] == "zh_CN"


def test_subscribe_state_must_be_one_wechat_knows() -> None:
    with pytest.raises(ValueError):
        WechatSubscribeSettings(appid="a", secret="s", state="production")


def test_not_following_and_no_subscription_come_from_the_provider(adapters: Adapters) -> None:
    from carepath.channels.base import PermanentError

    adapters.fake.not_following.add("o-openid-1")
    adapters.fake.no_subscription.add("o-mini-openid-1")
    for name, reason in (("wechat_template", "not-following"), ("wechat_subscribe", "no-subscription")):
        with pytest.raises(PermanentError) as caught:
            adapters.build(name).send(message_for(name))
        assert caught.value.reason == reason


def test_tokens_are_cached_until_shortly_before_they_expire(adapters: Adapters) -> None:
    channel = adapters.build("wechat_template")
    for key in ("a", "b", "c"):
        channel.send(message_for("wechat_template", key=key))
    assert adapters.fake.tokens_issued["wx-hospital"] == 1
    cached = adapters.token_store.get("wechat:token:wx-hospital")
    assert cached is not None
    assert timedelta(minutes=110) < cached.expires_at - datetime.now(UTC) <= timedelta(minutes=115)


def test_a_token_refresh_waits_for_the_lock_holder() -> None:
    store = InMemoryTokenStore()
    calls: list[bool] = []
    tokens = AccessTokens(store, "k", lambda force: (calls.append(force), ("T1", 7200))[1], lock_timeout=0.05)
    with store.lock("k", 1.0), pytest.raises(RetryableError):
        tokens.current()  # another process holds the lock for longer than we wait
    assert tokens.current() == "T1"
    assert tokens.replace("stale", force=True) == "T1"  # someone already replaced "stale"
    assert tokens.replace("T1", force=True) == "T1"
    assert calls == [False, True]


def test_memory_store_forgets_expired_tokens() -> None:
    now = [datetime(2026, 6, 20, tzinfo=UTC)]
    store = InMemoryTokenStore(clock=lambda: now[0])
    store.put("k", CachedToken("T", now[0] + timedelta(seconds=10)))
    assert store.get("k") == CachedToken("T", now[0] + timedelta(seconds=10))
    now[0] += timedelta(seconds=10)
    assert store.get("k") is None
