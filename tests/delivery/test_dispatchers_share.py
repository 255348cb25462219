"""Several dispatcher processes on one machine share one outbox (issue 22 item 2): each claims
its batches with ``UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED) RETURNING`` on
PostgreSQL (``BEGIN IMMEDIATE`` on SQLite), so every row is sent by exactly one of them.

Counted at the fake WeChat server, which here drops no repeat (no ``client_msg_id`` window):
a row claimed twice would reach her twice."""

from __future__ import annotations

import multiprocessing
from collections import Counter
from typing import Any

from sqlalchemy import select

from carepath.store.models import InboxItem, OutboxRow
from tests.conftest import NOW
from tests.delivery.seeding import add_many
from tests.fakes.providers import FakeProviders

COUNT = 300
WORKERS = 2


def _dispatcher(url: str, base: str, ready: Any, go: Any, results: Any) -> None:
    """One dispatcher process: its own connections and HTTP client, tokens shared through the
    database token store; dispatches until nothing is due, then reports what it sent."""
    from carepath.channels.base import make_http_client
    from carepath.channels.inbox import MemoryInbox
    from carepath.channels.registry import ChannelDeps, build_channels
    from carepath.delivery.dispatch_settings import HospitalDelivery
    from carepath.delivery.dispatcher import dispatch_once
    from carepath.delivery.token_store import DatabaseTokenStore
    from carepath.store.crypto import FieldCipher
    from carepath.store.db import Database
    from tests.conftest import FIELD_KEYS, LOOKUP_KEY

    config = {
        "wechat_template": {
            "appid": "wx-hospital",
            "secret": "wx-secret",
            "templates": {"checkup-reminder": "TPL-checkup"},
            "base_url": base,
        }
    }
    with make_http_client() as client:
        database = Database(url)
        deps = ChannelDeps(client=client, token_store=DatabaseTokenStore(database), inbox=MemoryInbox())
        setup = HospitalDelivery(
            channels=build_channels(config, deps, {}), accounts={"wechat_template": "wx-hospital"}
        )
        cipher = FieldCipher.from_config(FIELD_KEYS, LOOKUP_KEY)
        ready.set()
        go.wait(60)
        report = dispatch_once(database, NOW, lambda h: setup, 10, cipher=cipher, concurrency=4)
        database.dispose()
    results.put((report.claimed, report.sent))


def test_two_dispatcher_processes_send_every_row_once(db: Any, cipher: Any, database_url: str) -> None:
    add_many(db, cipher, COUNT, now=NOW, channels=("wechat",))
    fork = multiprocessing.get_context("fork")
    go, results = fork.Event(), fork.Queue()
    with FakeProviders() as fake:
        readies, workers = [], []
        for _ in range(WORKERS):
            ready = fork.Event()
            worker = fork.Process(target=_dispatcher, args=(database_url, fake.base_url, ready, go, results))
            worker.start()
            readies.append(ready)
            workers.append(worker)
        assert all(ready.wait(timeout=60) for ready in readies)
        go.set()  # both start together, so that they contend for the same rows
        reports = [results.get(timeout=300) for _ in workers]
        for worker in workers:
            worker.join(timeout=60)
        assert [worker.exitcode for worker in workers] == [0] * WORKERS
        delivered = Counter(received.payload["touser"] for received in fake.delivered("wechat.template"))
        requests = fake.count("wechat.template")
        errors = list(fake.errors)
    with db.reading() as session:
        statuses = Counter(session.scalars(select(OutboxRow.status)))
        copies = Counter(session.scalars(select(InboxItem.dedupe_key)))
    assert statuses == {"sent": COUNT}  # 0 lost
    assert requests == COUNT and set(delivered.values()) == {1}  # 0 duplicated
    assert set(delivered) == {f"o-{n}" for n in range(COUNT)}
    assert len(copies) == COUNT and set(copies.values()) == {1}  # one inbox copy each
    assert sum(sent for _, sent in reports) == COUNT
    if not database_url.startswith("sqlite"):
        # the work was shared: SKIP LOCKED lets both claim at once. SQLite serialises the claims
        # (BEGIN IMMEDIATE), so on a busy machine one process may drain all 300 before the other's
        # first claim (seen once in CI): there only the counts above are the guarantee
        assert all(claimed > 0 for claimed, _ in reports), reports
    assert not errors
