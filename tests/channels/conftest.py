"""Fixtures: a started fake provider server, a pooled client pointed at it with short timeouts,
token stores (in memory; Redis when one answers on 127.0.0.1:6379), and every adapter built
against the fake the way ``registry.build_channel`` builds them from a hospital's settings."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import httpx
import pytest

from carepath.channels.base import Channel, InMemoryTokenStore, Message, TokenStore, make_http_client
from carepath.channels.inbox import MemoryInbox
from carepath.channels.registry import ChannelDeps, build_channel
from tests.fakes.providers import FakeProviders

#: Generous, so that a loaded machine never turns a normal reply into a timeout ...
TEST_TIMEOUT = httpx.Timeout(connect=2.0, read=5.0, write=2.0, pool=2.0)
#: ... and short where a test makes the fake hang on purpose: its hangs last twice as long, so a
#: hang is always a lost reply and a reply slowed by a busy machine never is.
IMPATIENT_TIMEOUT = httpx.Timeout(connect=2.0, read=1.0, write=2.0, pool=2.0)
#: Loading the CA bundle costs ~50 ms per client; the tests build one client each.
SSL_CONTEXT = httpx.create_ssl_context()

ADAPTERS = ("inbox", "console", "wechat_template", "wechat_subscribe", "sms_tencent", "sms_aliyun", "webhook")
EXTERNAL = ("wechat_template", "wechat_subscribe", "sms_tencent", "sms_aliyun", "webhook")
WECHAT = ("wechat_template", "wechat_subscribe")

#: The fake's route each external adapter sends to.
ROUTE = {
    "wechat_template": "wechat.template",
    "wechat_subscribe": "wechat.subscribe",
    "sms_tencent": "tencent.sms",
    "sms_aliyun": "aliyun.sms",
    "webhook": "webhook",
}

SUMMARY = "小雨，您有一条新的提醒，点开看看吧。"
BODY = "妊娠期糖尿病随访：空腹血糖 6.1 mmol/L，请于周三复诊。"
TITLE = "妊娠期糖尿病复诊提醒"


def settings_for(name: str, fake: FakeProviders) -> dict[str, object]:
    base = fake.base_url
    templates = {"checkup-reminder": f"TPL-{name}"}
    return {
        "inbox": {},
        "console": {},
        "wechat_template": {
            "appid": "wx-hospital",
            "secret": "wx-secret",
            "templates": templates,
            "base_url": base,
        },
        "wechat_subscribe": {
            "appid": "wx-hospital",
            "secret": "wx-secret",
            "templates": templates,
            "base_url": base,
        },
        "sms_tencent": {
            "secret_id": "AKIDfake",
            "secret_key": "tencent-secret",
            "sdk_app_id": "1400006666",
            "sign_name": "市妇幼",
            "templates": templates,
            "endpoint": f"{base}/tencent/",
        },
        "sms_aliyun": {
            "access_key_id": "LTAIfake",
            "access_key_secret": "aliyun-secret",
            "sign_name": "市妇幼",
            "templates": templates,
            "endpoint": f"{base}/aliyun/",
        },
        "webhook": {"url": f"{base}/hooks/call-centre", "key_id": "ck_hospital", "secret": "hook-secret"},
    }[name]


RECIPIENT = {
    "inbox": "pregnancy-1",
    "console": "+8613800005678",
    "wechat_template": "o-openid-1",
    "wechat_subscribe": "o-mini-openid-1",
    "sms_tencent": "+8613800005678",
    "sms_aliyun": "+8613800005678",
    "webhook": "his-000123",
}


def params_for(name: str, summary: str) -> dict[str, str]:
    if name == "sms_tencent":
        return {"1": summary}
    if name == "sms_aliyun":
        return {"summary": summary}
    return {"thing1": summary, "time2": "2026年6月20日"}


def message_for(name: str, *, key: str = "p1/checkups@v1/visit-3/2026-06-20/0", **changes: object) -> Message:
    summary = str(changes.pop("summary", SUMMARY))
    fields: dict[str, object] = {
        "dedupe_key": key,
        "hospital_id": "h1",
        "kind": "checkup-reminder",
        "recipient": RECIPIENT[name],
        "summary": summary,
        "link": "https://mch.example.cn/inbox/42",
        "params": params_for(name, summary),
        "title": TITLE,
        "body": BODY,
    }
    fields.update(changes)
    return Message(**fields)  # type: ignore[arg-type]


@dataclass
class Adapters:
    fake: FakeProviders
    client: httpx.Client
    token_store: TokenStore
    inbox: MemoryInbox = field(default_factory=MemoryInbox)

    def build(self, name: str, token_store: TokenStore | None = None) -> Channel:
        deps = ChannelDeps(client=self.client, token_store=token_store or self.token_store, inbox=self.inbox)
        return build_channel(name, settings_for(name, self.fake), deps)


@pytest.fixture
def fake() -> Iterator[FakeProviders]:
    with FakeProviders() as server:
        yield server
    assert server.errors == [], "the fake provider raised while handling a request"


@pytest.fixture
def http(fake: FakeProviders) -> Iterator[httpx.Client]:
    client = make_http_client(TEST_TIMEOUT, verify=SSL_CONTEXT)
    yield client
    client.close()  # before the fake stops: its handler threads wait for kept-alive connections


@pytest.fixture
def adapters(fake: FakeProviders, http: httpx.Client) -> Adapters:
    return Adapters(fake, http, InMemoryTokenStore())


@pytest.fixture
def impatient(fake: FakeProviders) -> Iterator[Adapters]:
    """Adapters whose client gives up on a reply after 1 s, for tests of lost replies."""
    client = make_http_client(IMPATIENT_TIMEOUT, verify=SSL_CONTEXT)
    yield Adapters(fake, client, InMemoryTokenStore())
    client.close()


@pytest.fixture
def redis_store() -> Iterator[Callable[[], TokenStore]]:
    """A factory of Redis token stores sharing one fresh prefix (as processes would)."""
    redis = pytest.importorskip("redis")
    from carepath.channels.redis_tokens import RedisTokenStore

    client = redis.Redis(host="127.0.0.1", port=6379, socket_connect_timeout=0.5)
    try:
        client.ping()
    except redis.exceptions.ConnectionError:
        client.close()
        pytest.skip("no Redis on 127.0.0.1:6379")
    prefix = f"carepath-test-{uuid.uuid4().hex}:"
    yield lambda: RedisTokenStore(client, prefix=prefix)
    for key in client.scan_iter(f"{prefix}*"):
        client.delete(key)
    client.close()
