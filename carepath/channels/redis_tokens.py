"""A ``TokenStore`` in Redis, shared by every process and machine that sends for an account.

A token is one key with Redis's own expiry (``SET key value PXAT``); the refresh lock is a key
set with ``NX`` and a lease, released only by its holder (compare-and-delete in Lua), so a
process that dies holding it blocks others for the lease at most.

``redis_client`` connects the way a sender should: with timeouts (a Redis host that stops
answering must not hold a dispatcher thread past a row's ``stale_after``) and a short retry,
since a lost connection is then a ``RetryableError`` of the send and the row waits for its own
backoff (``base.before_the_call``).
"""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from collections.abc import Iterator
from datetime import datetime

import redis
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

from carepath.channels.base import CachedToken, RetryableError


def redis_client(url: str) -> redis.Redis:
    """A client for ``url`` (``CAREPATH_REDIS_URL``): 2 s to connect, 5 s per command, two
    quick retries of a dropped connection."""
    return redis.Redis.from_url(
        url,
        socket_connect_timeout=2.0,
        socket_timeout=5.0,
        retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), 2),
    )


_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"


class RedisTokenStore:
    def __init__(
        self, client: redis.Redis, *, prefix: str = "carepath:", lease_seconds: float = 30.0
    ) -> None:
        self._redis = client
        self._prefix = prefix
        self._lease_ms = int(lease_seconds * 1000)

    def get(self, key: str) -> CachedToken | None:
        raw = self._redis.get(self._prefix + key)
        if raw is None:
            return None
        data = json.loads(raw)
        token = CachedToken(data["value"], datetime.fromisoformat(data["expires_at"]))
        # Redis expires the key itself; this guards against clock skew between machines.
        return token if token.expires_at.timestamp() > time.time() else None

    def put(self, key: str, token: CachedToken) -> None:
        data = json.dumps({"value": token.value, "expires_at": token.expires_at.isoformat()})
        expire_ms = int(token.expires_at.timestamp() * 1000)
        if expire_ms <= int(time.time() * 1000):
            self._redis.delete(self._prefix + key)
            return
        self._redis.set(self._prefix + key, data, pxat=expire_ms)

    @contextlib.contextmanager
    def lock(self, key: str, timeout: float) -> Iterator[None]:
        name = f"{self._prefix}lock:{key}"
        holder = uuid.uuid4().hex
        deadline = time.monotonic() + timeout
        while not self._redis.set(name, holder, nx=True, px=self._lease_ms):
            if time.monotonic() >= deadline:
                raise RetryableError(f"token lock {key!r} busy for {timeout} s")
            time.sleep(0.01)
        try:
            yield
        finally:
            self._redis.eval(_RELEASE, 1, name, holder)
