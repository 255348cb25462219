"""The nonce stores' contract, run against each: the database (SQLite, and PostgreSQL when
configured) and Redis. A nonce is held once per key until it expires; concurrent claims of
one nonce have exactly one winner."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from carepath.store.db import Database
from carepath.store.models import RequestNonce
from carepath.store.nonces import (
    DatabaseNonceStore,
    NonceStore,
    NonceStoreUnavailableError,
    RedisNonceStore,
)
from tests.conftest import NOW, empty_tables
from tests.redis_server import redis_client, redis_prefix  # noqa: F401 (a fixture)

WINDOW = timedelta(minutes=5)


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    db = Database(database_url)
    empty_tables(db)
    yield db
    db.dispose()


@pytest.fixture(params=["database", "redis"])
def store(request: pytest.FixtureRequest, database: Database) -> Iterator[NonceStore]:
    if request.param == "database":
        yield DatabaseNonceStore(database)
        return
    client = request.getfixturevalue("redis_client")
    yield from (RedisNonceStore(client, prefix=prefix) for prefix in redis_prefix(client, "nonce"))


def _claim(store: NonceStore, nonce: str, now: datetime = NOW, key_id: str = "ck_1") -> bool:
    return store.claim(key_id, nonce, expires_at=NOW + WINDOW, now=now)


def test_a_nonce_is_held_once_per_key(store: NonceStore) -> None:
    nonce = uuid.uuid4().hex
    assert _claim(store, nonce) is True
    assert _claim(store, nonce) is False
    assert _claim(store, nonce, now=NOW + WINDOW) is False  # the window's last second still holds it
    assert _claim(store, nonce, key_id="ck_2") is True  # another key's nonces are its own
    assert _claim(store, uuid.uuid4().hex) is True


def test_concurrent_claims_of_one_nonce_have_exactly_one_winner(store: NonceStore) -> None:
    nonce, threads = uuid.uuid4().hex, 8
    barrier = threading.Barrier(threads)
    results: list[bool] = []
    errors: list[BaseException] = []

    def claim() -> None:
        try:
            barrier.wait(timeout=30)
            results.append(_claim(store, nonce))
        except BaseException as error:  # re-raised below, in the test's thread
            errors.append(error)

    workers = [threading.Thread(target=claim) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    assert not errors, errors
    assert sorted(results) == [False] * (threads - 1) + [True]


def test_a_nonce_past_its_window_may_be_held_again(database: Database) -> None:
    """Redis forgets an expired key itself; the database takes over a row not purged yet."""
    store = DatabaseNonceStore(database, purge_every=timedelta(days=1))
    nonce = uuid.uuid4().hex
    assert _claim(store, nonce) is True
    later = NOW + WINDOW + timedelta(seconds=1)
    assert store.claim("ck_1", nonce, expires_at=later + WINDOW, now=later) is True
    assert store.claim("ck_1", nonce, expires_at=later + WINDOW, now=later) is False


def _rows(database: Database) -> int:
    with database.reading() as session:
        return session.scalar(select(func.count()).select_from(RequestNonce)) or 0


def test_expired_rows_are_purged_by_later_claims_a_page_at_a_time(database: Database) -> None:
    store = DatabaseNonceStore(database, purge_every=timedelta(minutes=1), purge_page=2)
    for _ in range(4):
        assert _claim(store, uuid.uuid4().hex)  # the first claim purges too (nothing yet)
    assert _claim(store, uuid.uuid4().hex, now=NOW + timedelta(seconds=30))  # within the minute
    assert _rows(database) == 5
    # Past the window each claim purges a page of two while pages come back full; after a
    # short page, not again for a minute.
    later = NOW + WINDOW + timedelta(seconds=1)
    counts = []
    for _ in range(4):
        assert store.claim("ck_1", uuid.uuid4().hex, expires_at=later + WINDOW, now=later)
        counts.append(_rows(database))
    assert counts == [4, 3, 3, 4]  # +1 -2, +1 -2, +1 -1 (short), +1


def test_a_redis_nonce_expires_with_its_window(redis_client: Any) -> None:  # noqa: F811
    for prefix in redis_prefix(redis_client, "nonce"):
        nonce = uuid.uuid4().hex
        assert _claim(RedisNonceStore(redis_client, prefix=prefix), nonce)
        assert 0 < redis_client.pttl(f"{prefix}ck_1:{nonce}") <= WINDOW.total_seconds() * 1000


def test_purge_keeps_rows_still_in_their_window(database: Database) -> None:
    store = DatabaseNonceStore(database)
    _claim(store, uuid.uuid4().hex)
    assert store.purge(NOW + WINDOW) == 0 and _rows(database) == 1
    assert store.purge(NOW + WINDOW + timedelta(microseconds=1)) == 1 and _rows(database) == 0


def test_a_store_that_cannot_answer_says_so() -> None:
    import redis

    unreachable = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.5)
    with pytest.raises(NonceStoreUnavailableError):
        RedisNonceStore(unreachable).claim("ck_1", uuid.uuid4().hex, expires_at=NOW + WINDOW, now=NOW)
