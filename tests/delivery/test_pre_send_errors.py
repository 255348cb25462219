"""An error before the provider call is not an unknown outcome (issue 14, item 8).

A token store that cannot be reached (Redis, or the database store's connection) and a provider
refusing the connection sent nothing: the row goes back to ``due`` with a retry time, the same
channel, no fallback, and is sent once when the store or provider answers again. Only a failure
after the request may have reached the provider (a read timeout) is an unknown outcome. The
dispatcher waits out its own database going away while calls are on the wire. Real parts
throughout: the fake providers over HTTP, a real Redis and PostgreSQL behind a ``Gate`` that
cuts them off.
"""

from __future__ import annotations

import contextlib
import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from carepath.channels.base import Channel, Message, Receipt, TokenStore, make_http_client
from carepath.channels.inbox import MemoryInbox
from carepath.channels.registry import ChannelDeps, build_channels
from carepath.delivery.dispatch_settings import DispatchSettings, HospitalDelivery
from carepath.delivery.dispatcher import dispatch_once
from carepath.store.models import OutboxRow
from tests.conftest import NOW
from tests.delivery.conftest import OA_APPID, add_outbox, add_pregnancy
from tests.fakes.gate import Gate
from tests.fakes.providers import FakeProviders, hang

TEMPLATES = {"checkup-reminder": "TPL-checkup"}
#: Generous for a reply that comes (a loaded machine), short for the hang a test injects.
TIMEOUT = httpx.Timeout(connect=2.0, read=0.3, write=2.0, pool=2.0)
SETTINGS = DispatchSettings(dedupe_window=timedelta(minutes=5))


@pytest.fixture
def fake() -> Iterator[FakeProviders]:
    with FakeProviders(client_msg_id_window=600.0) as fake:
        yield fake
    assert fake.errors == []


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with make_http_client(TIMEOUT) as client:
        yield client


def redis_or_skip() -> None:
    redis = pytest.importorskip("redis")
    probe = redis.Redis(host="127.0.0.1", port=6379, socket_connect_timeout=0.5)
    try:
        probe.ping()
    except redis.exceptions.ConnectionError:
        pytest.skip("no Redis on 127.0.0.1:6379")
    finally:
        probe.close()


@pytest.fixture
def redis_gate() -> Iterator[Gate]:
    """The local Redis behind a gate, open."""
    redis_or_skip()
    with Gate("127.0.0.1", 6379) as gate:
        yield gate


def delivery(fake: FakeProviders, client: httpx.Client, token_store: TokenStore) -> HospitalDelivery:
    """WeChat template messages with SMS to fall back to: a fallback would show at the fake."""
    config = {
        "wechat_template": {
            "appid": OA_APPID,
            "secret": "wx-secret",
            "templates": TEMPLATES,
            "base_url": fake.base_url,
        },
        "sms_tencent": {
            "secret_id": "AKIDfake",
            "secret_key": "tencent-secret",
            "sdk_app_id": "1400006666",
            "sign_name": "市妇幼",
            "templates": TEMPLATES,
            "endpoint": f"{fake.base_url}/tencent/",
        },
    }
    deps = ChannelDeps(client=client, token_store=token_store, inbox=MemoryInbox())
    return HospitalDelivery(channels=build_channels(config, deps, {}), accounts={"wechat_template": OA_APPID})


def the_row(db: Any, key: str = "k-1") -> OutboxRow:
    with db.reading() as session:
        return session.scalars(select(OutboxRow).where(OutboxRow.dedupe_key == key)).one()


def assert_waits_unsent(db: Any, fake: FakeProviders, now: datetime) -> OutboxRow:
    """Due again on the same channel with a retry time, nothing at the provider, no staff case."""
    row = the_row(db)
    assert (row.status, row.status_reason, row.unknown_since) == ("due", None, None), row.last_error
    assert row.next_attempt_at is not None and row.next_attempt_at > now
    assert row.failed_channels in (None, [])  # not counted against WeChat: no fallback to SMS
    assert row.last_error and "nothing sent" in row.last_error
    assert fake.delivered() == []
    return row


def outage_then_recovery(
    db: Any, cipher: Any, fake: FakeProviders, setup: HospitalDelivery, restore: Callable[[], None]
) -> None:
    """A due WeChat row meets the outage, waits, and is sent once when ``restore`` ends it."""
    _, pregnancy = add_pregnancy(db, cipher, 1, openid="o-1")
    add_outbox(db, pregnancy, "k-1", channels=["wechat", "sms"])
    report = dispatch_once(db, NOW, lambda h: setup, cipher=cipher, settings=SETTINGS)
    assert (report.retrying, report.failed) == (1, 0)
    row = assert_waits_unsent(db, fake, NOW)
    assert fake.requests == []  # not even the token endpoint: the store failed first
    assert dispatch_once(db, NOW, lambda h: setup, cipher=cipher).claimed == 0  # it waits its turn
    restore()
    later = row.next_attempt_at
    assert later is not None
    assert dispatch_once(db, later, lambda h: setup, cipher=cipher, settings=SETTINGS).sent == 1
    row = the_row(db)
    assert (row.status, row.channel) == ("sent", "wechat_template")
    assert [r.payload["touser"] for r in fake.delivered()] == ["o-1"]  # once, through WeChat


def test_a_lost_redis_token_store_sends_nothing_and_the_row_waits_for_it(
    db: Any, cipher: Any, fake: FakeProviders, client: httpx.Client, redis_gate: Gate
) -> None:
    from carepath.channels.redis_tokens import RedisTokenStore, redis_client

    redis = redis_client(f"redis://127.0.0.1:{redis_gate.port}/0")
    prefix = f"carepath-test-{uuid.uuid4().hex}:"
    setup = delivery(fake, client, RedisTokenStore(redis, prefix=prefix))
    redis_gate.shut()
    try:
        outage_then_recovery(db, cipher, fake, setup, restore=redis_gate.open)
    finally:
        for key in redis.scan_iter(f"{prefix}*"):
            redis.delete(key)
        redis.close()


@pytest.fixture
def lost_token_database(database_url: str, tmp_path: Path) -> Iterator[tuple[str, Callable[[], None]]]:
    """A URL for a token store's database that cannot be connected to, and what brings it back:
    PostgreSQL behind a shut gate (opened), a SQLite file in a folder not there yet (created)."""
    from carepath.store.db import upgrade

    if database_url.startswith("sqlite"):
        url = f"sqlite:///{tmp_path / 'not-yet' / 'tokens.db'}"

        def restore() -> None:
            (tmp_path / "not-yet").mkdir()
            upgrade(url)

        yield url, restore
        return
    gate = Gate("127.0.0.1", make_url(database_url).port or 5432)
    yield make_url(database_url).set(port=gate.port).render_as_string(hide_password=False), gate.open
    gate.shut()


def test_a_lost_database_token_store_sends_nothing_and_the_row_waits_for_it(
    db: Any,
    cipher: Any,
    fake: FakeProviders,
    client: httpx.Client,
    lost_token_database: tuple[str, Callable[[], None]],
) -> None:
    from carepath.delivery.token_store import DatabaseTokenStore
    from carepath.store.db import Database

    url, restore = lost_token_database
    tokens = Database(url)
    try:
        setup = delivery(fake, client, DatabaseTokenStore(tokens))
        outage_then_recovery(db, cipher, fake, setup, restore)
    finally:
        tokens.dispose()


def test_a_provider_refusing_the_connection_sent_nothing_so_the_row_waits(
    db: Any, cipher: Any, fake: FakeProviders, client: httpx.Client
) -> None:
    from carepath.channels.base import InMemoryTokenStore

    setup = delivery(fake, client, InMemoryTokenStore())
    fake.close()  # its port now refuses connections
    outage_then_recovery(db, cipher, fake, setup, restore=fake.start)


def test_a_read_timeout_after_the_request_went_out_stays_an_unknown_outcome(
    db: Any, cipher: Any, fake: FakeProviders, client: httpx.Client
) -> None:
    """The boundary: the provider took the message and the reply was lost. SMS (no dedupe) is
    left for staff; WeChat is repeated only with the same client_msg_id, inside the window."""
    from carepath.channels.base import InMemoryTokenStore

    _, by_sms = add_pregnancy(db, cipher, 1)
    _, by_wechat = add_pregnancy(db, cipher, 2, openid="o-2")
    add_outbox(db, by_sms, "k-sms", channels=["sms"])
    add_outbox(db, by_wechat, "k-wx", channels=["wechat", "sms"])
    fake.inject("tencent.sms", hang(0.6, delivered=True))
    fake.inject("wechat.template", hang(0.6, delivered=True))
    setup = delivery(fake, client, InMemoryTokenStore())
    dispatch_once(db, NOW, lambda h: setup, cipher=cipher, settings=SETTINGS, concurrency=1)
    sms, wechat = the_row(db, "k-sms"), the_row(db, "k-wx")
    assert (sms.status, sms.status_reason) == ("failed", "outcome-unknown")
    assert (wechat.status, wechat.unknown_since) == ("due", NOW)  # a deduped repeat, nothing else
    assert wechat.next_attempt_at is not None
    dispatch_once(db, wechat.next_attempt_at, lambda h: setup, cipher=cipher, settings=SETTINGS)
    assert the_row(db, "k-wx").status == "sent"
    assert fake.count("tencent.sms") == 1  # never repeated, never a fallback
    assert len(fake.delivered("wechat.template")) == 1  # WeChat dropped the repeat


def test_the_record_waits_out_a_lost_database_connection(
    database_url: str, db: Any, cipher: Any, fake: FakeProviders, client: httpx.Client
) -> None:
    """The dispatcher's own database goes away while a call is on the wire (a restart, a
    failover): the outcome is known only in this process, so it is recorded once the database
    answers again — sent, not left in flight to be recovered as possibly sent."""
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite is a file: there is no connection to lose")
    from carepath.channels.base import InMemoryTokenStore
    from carepath.store.db import Database

    _, pregnancy = add_pregnancy(db, cipher, 1, openid="o-1")
    add_outbox(db, pregnancy, "k-1", channels=["wechat"])
    setup = delivery(fake, client, InMemoryTokenStore())
    gate = Gate("127.0.0.1", make_url(database_url).port or 5432).open()
    reopen = threading.Timer(1.0, gate.open)

    class CutOffAfterTheCall:
        """The real adapter; the database is cut off once its call has been answered."""

        def __init__(self, inner: Channel) -> None:
            self.inner, self.name, self.external = inner, inner.name, inner.external

        def send(self, message: Message) -> Receipt:
            receipt = self.inner.send(message)
            gate.shut()
            reopen.start()
            return receipt

    cut = HospitalDelivery(
        channels={"wechat_template": CutOffAfterTheCall(setup.channels["wechat_template"])},
        accounts=setup.accounts,
    )
    through_gate = Database(make_url(database_url).set(port=gate.port).render_as_string(hide_password=False))
    try:
        # The round's next claim may meet the outage too and end the round with the error (the
        # loop of `delivery run` backs off and tries again): the outcome is recorded first.
        with contextlib.suppress(OperationalError):
            dispatch_once(through_gate, NOW, lambda h: cut, cipher=cipher, settings=SETTINGS)
    finally:
        reopen.join(timeout=30)
        through_gate.dispose()
        gate.shut()
    row = the_row(db)
    assert (row.status, row.provider_message_id) == ("sent", str(fake.delivered()[0].reply["msgid"]))
