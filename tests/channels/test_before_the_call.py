"""Whatever fails before the provider call sent nothing: the adapter raises a ``RetryableError``
that is not an unknown outcome (``base.before_the_call``), and the provider saw no message."""

from __future__ import annotations

from pathlib import Path

import pytest

from carepath.channels.base import RetryableError, TokenStore
from tests.channels.conftest import ROUTE, WECHAT, Adapters, message_for
from tests.fakes.gate import free_port


def assert_sent_nothing(
    adapters: Adapters, name: str, store: TokenStore | None = None, **message: str
) -> str:
    channel = adapters.build(name, store)
    with pytest.raises(RetryableError) as raised:
        channel.send(message_for(name, **message))
    assert not raised.value.outcome_unknown
    assert adapters.fake.count(ROUTE[name]) == 0
    return str(raised.value)


@pytest.mark.parametrize("name", WECHAT)
def test_a_redis_token_store_that_refuses_connections_sends_nothing(adapters: Adapters, name: str) -> None:
    from carepath.channels.redis_tokens import RedisTokenStore, redis_client

    client = redis_client(f"redis://127.0.0.1:{free_port()}/0")  # nothing listens there
    try:
        error = assert_sent_nothing(adapters, name, RedisTokenStore(client))
    finally:
        client.close()
    assert "nothing sent: getting an access token failed: ConnectionError" in error
    assert adapters.fake.requests == []  # not even for a token


@pytest.mark.parametrize("name", WECHAT)
def test_a_database_token_store_that_cannot_connect_sends_nothing(
    adapters: Adapters, name: str, tmp_path: Path
) -> None:
    from carepath.delivery.token_store import DatabaseTokenStore
    from carepath.store.db import Database

    unreachable = Database(f"sqlite:///{tmp_path / 'no-such-folder' / 'tokens.db'}")
    try:
        error = assert_sent_nothing(adapters, name, DatabaseTokenStore(unreachable))
    finally:
        unreachable.dispose()
    assert "getting an access token failed: OperationalError" in error
    assert "[SQL" not in error  # a driver's long message (statement, parameters) stays out
    assert adapters.fake.requests == []


@pytest.mark.parametrize("name", WECHAT)
def test_a_request_that_cannot_be_built_sends_nothing(adapters: Adapters, name: str) -> None:
    """A lone surrogate cannot be encoded as UTF-8 JSON: the request never exists."""
    error = assert_sent_nothing(adapters, name, summary="提醒\ud800")
    assert "nothing sent: building the request failed: UnicodeEncodeError" in error
