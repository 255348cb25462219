"""Fault runs in small (issue 22, "Fault runs"): the worker's PostgreSQL connections terminated
mid-page, by the worker's own ``application_name`` in the test's own schema (the server is
shared: nobody else's connection is touched). The worker survives, the pool reconnects (its
``pool_pre_ping``), the page and the ones after finish: counted at the fake WeChat, 0 lost and
0 duplicated, one inbox copy each. PostgreSQL only (SQLite has no connections to terminate).

The other faults: a worker SIGKILLed mid-page is ``test_worker.py``; the standby scheduler taking
over is ``tests/scheduler/test_standby.py``; stopping and restarting a RabbitMQ node is left to
``bench/faults.py`` on the cluster's own node (a node of a test's own would take ~10 s to boot
on this machine, and the tests share the machine's node, which must never be stopped).
Times appear only as timeouts."""

from __future__ import annotations

import uuid
from collections import Counter
from typing import Any

import pytest
from sqlalchemy import create_engine, func, select, text

from carepath.store.models import InboxItem, OutboxRow
from tests.conftest import NOW
from tests.delivery.seeding import add_many
from tests.fakes.providers import FakeProviders, hang
from tests.workers.test_worker import _enqueue, _until

COUNT = 40
PAGE = 20


def _terminate(url: str, application_name: str) -> int:
    """Terminate the connections named ``application_name`` (this test's worker's, no one else's)."""
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            return len(
                conn.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE application_name = :name AND pid <> pg_backend_pid()"
                    ),
                    {"name": application_name},
                ).all()
            )
    finally:
        engine.dispose()


def test_the_workers_database_connections_terminated_mid_page_lose_and_duplicate_nothing(
    db: Any, cipher: Any, broker: Any, workers: Any, database_url: str
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite has no server connections to terminate")
    name = f"carepath-test-{uuid.uuid4().hex[:10]}"
    worker_url = f"{database_url}{'&' if '?' in database_url else '?'}application_name={name}"
    add_many(db, cipher, COUNT, now=NOW, channels=("wechat",))
    with FakeProviders(client_msg_id_window=600.0) as fake:
        # each call is answered slowly: the page is on the wire when its connections go
        fake.inject("wechat.template", *[hang(0.1, delivered=True)] * (COUNT * 3))
        worker = workers(worker_url, fake.base_url, *broker, NOW.isoformat())
        worker.ready()
        assert _enqueue(broker, "dispatch", PAGE, PAGE) == 1  # a page of the first half
        _until(lambda: fake.count("wechat.template") >= 8, 60, "the first calls of the page")
        assert _terminate(database_url, name) >= 1  # the worker's pooled connection, open since its claim
        assert fake.count("wechat.template") < PAGE  # mid-page

        def sent(at_least: int) -> bool:
            with db.reading() as session:
                if (session.scalar(select(func.count()).where(OutboxRow.status == "sent")) or 0) >= at_least:
                    return True
            _enqueue(broker, "dispatch", PAGE, PAGE)  # a page when none waits, as the scheduler does
            return False

        _until(lambda: sent(PAGE), 120, "the first page recorded after its connections came back")
        assert _terminate(database_url, name) >= 1  # again between pages: the next pages still run
        _until(lambda: sent(COUNT), 120, "every message recorded sent")
        assert worker.process.poll() is None  # the worker lived through it
        delivered = Counter(r.payload["touser"] for r in fake.delivered("wechat.template"))
        errors = list(fake.errors)
    with db.reading() as session:
        copies = Counter(session.scalars(select(InboxItem.dedupe_key)))
        rows = session.scalar(select(func.count()).select_from(OutboxRow))
        statuses = Counter(session.scalars(select(OutboxRow.status)))
    assert rows == COUNT and statuses == {"sent": COUNT}
    assert set(delivered) == {f"o-{n}" for n in range(COUNT)}  # 0 lost
    assert set(delivered.values()) == {1}  # 0 duplicated
    assert len(copies) == COUNT and set(copies.values()) == {1}  # one inbox copy each
    assert not errors
