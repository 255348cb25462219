"""The database token store against the fake WeChat server over loopback, on SQLite and on
PostgreSQL: "processes" are threads with a store each on their own ``Database`` (own engine,
own connections), sending through the real template adapter."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from carepath.channels.base import CachedToken, Message, RetryableError, make_http_client
from carepath.channels.wechat_template import WechatTemplateChannel, WechatTemplateSettings
from carepath.delivery.token_store import DatabaseTokenStore
from tests.conftest import NOW, Clock
from tests.delivery.conftest import OA_APPID
from tests.fakes.providers import FakeProviders

KEY = f"wechat:token:{OA_APPID}"


@pytest.fixture
def fake() -> Iterator[FakeProviders]:
    with FakeProviders() as fake:
        yield fake


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with make_http_client() as client:
        yield client


@pytest.fixture
def process(db: Any, database_url: str) -> Iterator[Callable[..., DatabaseTokenStore]]:
    """A factory of stores, each on a Database of its own (as separate processes would be)."""
    from carepath.store.db import Database

    opened: list[Database] = []

    def make(clock: Clock | None = None) -> DatabaseTokenStore:
        database = Database(database_url)
        opened.append(database)
        return DatabaseTokenStore(database, clock=clock or Clock())

    yield make
    for database in opened:
        database.dispose()


def channel(
    fake: FakeProviders, client: httpx.Client, store: DatabaseTokenStore, clock: Clock
) -> WechatTemplateChannel:
    settings = WechatTemplateSettings(
        appid=OA_APPID, secret="wx-secret", templates={"checkup-reminder": "TPL-1"}, base_url=fake.base_url
    )
    return WechatTemplateChannel(settings, client=client, token_store=store, clock=clock)


def message(n: int) -> Message:
    return Message(
        dedupe_key=f"k-{n}",
        hospital_id="h1",
        kind="checkup-reminder",
        recipient=f"o-{n}",
        summary="您有一条新的孕期消息",
        link="https://mch.example/inbox/1",
        params={"thing1": "您有一条新的孕期消息"},
    )


def send_at_once(channels: list[WechatTemplateChannel], per_channel: int, start: int = 0) -> None:
    barrier = threading.Barrier(len(channels) * per_channel)
    failures: list[BaseException] = []

    def run(sender: WechatTemplateChannel, n: int) -> None:
        barrier.wait()
        try:
            sender.send(message(n))
        except BaseException as exc:  # reported in the test's thread
            failures.append(exc)

    threads = [
        threading.Thread(target=run, args=(sender, start + i * 100 + j))
        for i, sender in enumerate(channels)
        for j in range(per_channel)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []


def token_requests(fake: FakeProviders, *, forced: bool | None = None) -> int:
    return sum(
        1
        for r in fake.requests
        if r.route == "wechat.token" and (forced is None or bool(r.payload.get("force_refresh")) == forced)
    )


def test_processes_refreshing_at_once_call_stable_token_once(
    fake: FakeProviders, client: httpx.Client, process: Callable[..., DatabaseTokenStore]
) -> None:
    clock = Clock(NOW)
    senders = [channel(fake, client, process(clock), clock) for _ in range(2)]
    send_at_once(senders, per_channel=4)
    assert token_requests(fake) == 1 and fake.tokens_issued[OA_APPID] == 1
    fake.expire_tokens()  # WeChat says 42001 to every holder: one refresh between them
    send_at_once(senders, per_channel=4, start=1000)
    assert token_requests(fake) == 2 and fake.tokens_issued[OA_APPID] == 2
    assert token_requests(fake, forced=True) == 0  # an expiry never forces
    assert len(fake.delivered("wechat.template")) == 16
    assert not fake.errors


def test_a_token_expiring_by_the_clock_is_refreshed_once(
    fake: FakeProviders, client: httpx.Client, process: Callable[..., DatabaseTokenStore]
) -> None:
    clock = Clock(NOW)
    one, two = process(clock), process(clock)
    senders = [channel(fake, client, one, clock), channel(fake, client, two, clock)]
    senders[0].send(message(1))
    first = one.get(KEY)
    assert first is not None and two.get(KEY) == first  # the other process reads it from the table
    # expiry minus the margin; the fake counts its token's lifetime on the real clock, so a
    # loaded machine may spend seconds between issuing it and a later stable_token: the bound is
    # a minute, still far from both the lifetime without the margin (7200) and half of it
    expected = NOW + timedelta(seconds=7200 - 300)
    assert expected - timedelta(seconds=60) <= first.expires_at <= expected
    clock.now = first.expires_at  # both copies are stale now
    assert one.get(KEY) is None and two.get(KEY) is None
    send_at_once(senders, per_channel=3)
    assert token_requests(fake) == 2  # one refresh between the two processes
    renewed = two.get(KEY)
    assert renewed is not None and renewed.expires_at > first.expires_at
    assert len(fake.delivered("wechat.template")) == 7


def test_an_invalidated_token_is_refreshed_once_and_the_send_retried(
    fake: FakeProviders, client: httpx.Client, process: Callable[..., DatabaseTokenStore]
) -> None:
    clock = Clock(NOW)
    senders = [channel(fake, client, process(clock), clock) for _ in range(2)]
    send_at_once(senders, per_channel=1)
    # Someone else forced a new token: every copy the processes hold now meets 40001.
    fake.stable_token(
        {"grant_type": "client_credential", "appid": OA_APPID, "secret": "wx-secret", "force_refresh": True}
    )
    send_at_once(senders, per_channel=4, start=1000)
    assert token_requests(fake, forced=True) == 1  # one forced refresh between them, not one each
    assert fake.tokens_issued[OA_APPID] == 3  # first, someone else's, ours
    rejected = [r for r in fake.requests if r.route == "wechat.template" and not r.delivered]
    assert 1 <= len(rejected) <= 8  # each rejected send was retried once with the new token
    assert len(fake.delivered("wechat.template")) == 10
    assert not fake.errors


def test_the_lock_excludes_other_processes_and_commits_with_the_refresh(
    process: Callable[..., DatabaseTokenStore],
) -> None:
    clock = Clock(NOW)
    one, two = process(clock), process(clock)
    token = CachedToken("T-1", NOW + timedelta(hours=1))
    with one.lock(KEY, timeout=1.0):
        assert one.get(KEY) is None
        one.put(KEY, token)
        with pytest.raises(RetryableError, match="busy"), two.lock(KEY, timeout=0.2):
            pass
    assert two.get(KEY) == token
    with two.lock(KEY, timeout=1.0):  # free again
        two.put(KEY, CachedToken("T-2", NOW + timedelta(hours=2)))
    assert one.get(KEY) == token  # its own copy, until a send meets 40001 ...
    with one.lock(KEY, timeout=1.0):
        assert one.get(KEY) == CachedToken("T-2", NOW + timedelta(hours=2))  # ... under the lock, the row


def test_a_failed_refresh_leaves_the_row_as_it_was(process: Callable[..., DatabaseTokenStore]) -> None:
    store = process(Clock(NOW))
    store.put(KEY, CachedToken("T-1", NOW + timedelta(hours=1)))
    with pytest.raises(RetryableError, match="provider down"), store.lock(KEY, timeout=1.0):
        store.put(KEY, CachedToken("T-half", NOW + timedelta(hours=2)))
        raise RetryableError("provider down")
    assert process(Clock(NOW)).get(KEY) == CachedToken("T-1", NOW + timedelta(hours=1))
