"""The Redis on 127.0.0.1:6379 (here and in CI) for the tests of Redis-backed stores: a
fixture for its client and fresh key prefixes, so concurrent test runs never share keys."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture
def redis_client() -> Iterator[Any]:
    """Redis's client; without a server the test is skipped, or fails when ``CI`` is set."""
    import redis

    client = redis.Redis(host="127.0.0.1", port=6379, socket_connect_timeout=0.5)
    try:
        client.ping()
    except redis.exceptions.ConnectionError:
        client.close()
        if os.environ.get("CI"):
            pytest.fail("no Redis on 127.0.0.1:6379")
        pytest.skip("no Redis on 127.0.0.1:6379")
    yield client
    client.close()


def redis_prefix(client: Any, what: str) -> Iterator[str]:
    """One fresh key prefix (``for prefix in redis_prefix(...)``), its keys deleted after."""
    prefix = f"carepath-test-{uuid.uuid4().hex}:{what}:"
    yield prefix
    for key in client.scan_iter(f"{prefix}*"):
        client.delete(key)
