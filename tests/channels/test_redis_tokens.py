"""The Redis token store: expiry by Redis itself, a lock only its holder releases."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from carepath.channels.base import CachedToken, RetryableError, TokenStore


def test_a_token_is_shared_and_expires(redis_store: Callable[[], TokenStore]) -> None:
    one, two = redis_store(), redis_store()
    expires = datetime.now(UTC) + timedelta(seconds=60)
    one.put("wechat:token:a", CachedToken("T1", expires))
    got = two.get("wechat:token:a")
    assert got is not None and got.value == "T1"
    assert abs((got.expires_at - expires).total_seconds()) < 1
    one.put("wechat:token:a", CachedToken("T2", datetime.now(UTC) - timedelta(seconds=1)))
    assert two.get("wechat:token:a") is None


def test_the_lock_excludes_other_holders_until_released(redis_store: Callable[[], TokenStore]) -> None:
    one, two = redis_store(), redis_store()
    with one.lock("k", 1.0), pytest.raises(RetryableError), two.lock("k", 0.05):
        pass
    with two.lock("k", 0.05):
        pass


def test_a_waiting_holder_gets_the_lock_when_it_is_released(redis_store: Callable[[], TokenStore]) -> None:
    one, two = redis_store(), redis_store()
    order: list[str] = []
    entered = threading.Event()

    def first() -> None:
        with one.lock("k", 1.0):
            entered.set()
            time.sleep(0.1)
            order.append("first")

    thread = threading.Thread(target=first)
    thread.start()
    entered.wait()
    with two.lock("k", 2.0):
        order.append("second")
    thread.join()
    assert order == ["first", "second"]


def test_a_crashed_holder_blocks_only_for_its_lease(redis_store: Callable[[], TokenStore]) -> None:
    import redis

    from carepath.channels.redis_tokens import RedisTokenStore

    client = redis.Redis(host="127.0.0.1", port=6379)
    try:
        prefix = f"carepath-test-{uuid.uuid4().hex}:"
        store = RedisTokenStore(client, prefix=prefix)
        client.set(f"{prefix}lock:k", "a process that died", px=100)  # its lease
        started = time.monotonic()
        with store.lock("k", 1.0):
            waited = time.monotonic() - started
        assert 0.05 < waited < 0.5
        assert client.get(f"{prefix}lock:k") is None  # released by its holder
    finally:
        client.delete(f"{prefix}lock:k")
        client.close()
