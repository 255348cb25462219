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
    assert got.expires_at == expires  # stored as written: no clock reading involved
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
        with one.lock("k", 30.0):
            entered.set()
            time.sleep(0.1)
            order.append("first")

    thread = threading.Thread(target=first)
    thread.start()
    entered.wait()
    with two.lock("k", 30.0):  # a bound: it gets the lock as soon as the first releases it
        order.append("second")
    thread.join()
    assert order == ["first", "second"]


def test_a_crashed_holder_blocks_only_for_its_lease(redis_store: Callable[[], TokenStore]) -> None:
    """While a dead holder's lease lives the lock is refused; once Redis expires it the next
    holder gets the lock and releases it. (Timeouts here are bounds, not measurements.)"""
    import redis

    from carepath.channels.redis_tokens import RedisTokenStore

    client = redis.Redis(host="127.0.0.1", port=6379)
    try:
        prefix = f"carepath-test-{uuid.uuid4().hex}:"
        store = RedisTokenStore(client, prefix=prefix)
        client.set(f"{prefix}lock:k", "a process that died", px=600_000)  # its lease
        with pytest.raises(RetryableError, match="busy"), store.lock("k", 0.05):
            pass
        assert client.get(f"{prefix}lock:k") == b"a process that died"  # refused, not taken over
        client.pexpire(f"{prefix}lock:k", 100)  # its lease runs out
        with store.lock("k", 30.0):
            holder = client.get(f"{prefix}lock:k")
            assert holder not in (None, b"a process that died")  # the lock is this holder's
        assert client.get(f"{prefix}lock:k") is None  # released by its holder
    finally:
        client.delete(f"{prefix}lock:k")
        client.close()
