"""``carepath worker`` (issue 22 item 5): real Celery worker processes take sweep pages and
dispatch batches from the machine's RabbitMQ (queues of the test's own) and work on the test's
database, both backends. A worker SIGKILLed mid-page has its task redelivered to the next
worker, which recovers the page's rows at once (they carry the task's id; its ``stale_after`` is
an hour) and finishes it: counted at the fake WeChat, 0 lost and 0 duplicated.
Times appear only as timeouts."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select, update

from carepath.store.models import InboxItem, OutboxRow, PipelineHeartbeat, Pregnancy
from carepath.workers.queue import Enqueuer, make_celery
from tests.conftest import NOW
from tests.delivery.seeding import add_many
from tests.fakes.providers import FakeProviders, hang
from tests.scheduler.test_scheduler import _registration

COUNT = 40


def _until(done: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll ``done``; ``timeout`` only bounds the wait (a figure nobody asserts)."""
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(0.05)


def _enqueue(broker: tuple[str, str], stage: str, due: int, size: int) -> int:
    url, prefix = broker
    enqueuer = Enqueuer(make_celery(url, prefix=prefix), prefix=prefix)
    try:
        return enqueuer.pages(stage, due, size, NOW)
    finally:
        enqueuer.close()


def test_a_worker_process_runs_a_sweep_page(api: Any, app: Any, broker: Any, workers: Any) -> None:
    db = app.extensions["carepath.db"]
    response = api.post("/api/v1/events:batch", {"events": [_registration(n) for n in range(6)]})
    assert response.status_code in (200, 201, 207), response.get_json()
    later = NOW + timedelta(days=1)
    with db.transaction() as session:
        ids = sorted(session.scalars(select(Pregnancy.id)))
        session.execute(update(Pregnancy).values(next_wakeup=later + timedelta(days=30)))
        due = ids[:4]
        session.execute(update(Pregnancy).where(Pregnancy.id.in_(due)).values(next_wakeup=later))
        before = {p.id: p.updated_at for p in session.scalars(select(Pregnancy))}
    # one page for four due pregnancies; a second call sees it waiting and adds none
    assert _enqueue(broker, "sweep", 4, 200) == 1
    assert _enqueue(broker, "sweep", 4, 200) == 0
    worker = workers(app.config["DATABASE_URL"], "http://127.0.0.1:9", *broker, later.isoformat())
    worker.ready()

    def swept() -> bool:
        with db.reading() as session:
            return session.get(PipelineHeartbeat, "sweep") is not None

    _until(swept, 60, "the sweep page's heartbeat")
    with db.reading() as session:
        beat = session.get(PipelineHeartbeat, "sweep")
        after = {p.id: (p.updated_at, p.next_wakeup) for p in session.scalars(select(Pregnancy))}
    assert beat is not None and beat.count == 4 and beat.holder.startswith("test-worker:")
    assert beat.ran_at == later  # the worker's clock
    assert [i for i in ids if after[i][0] != before[i]] == due  # the due ones, nobody else
    assert all(after[i][1] is None or after[i][1] > later for i in due)


def test_a_worker_killed_mid_page_loses_and_duplicates_nothing(
    db: Any, cipher: Any, broker: Any, workers: Any, database_url: str
) -> None:
    add_many(db, cipher, COUNT, now=NOW, channels=("wechat",))
    with FakeProviders(client_msg_id_window=600.0) as fake:
        # each call is accepted, then answered slowly: the page is on the wire long enough
        fake.inject("wechat.template", *[hang(0.15, delivered=True)] * (COUNT * 2))
        args = (database_url, fake.base_url, *broker, NOW.isoformat())
        first = workers(*args)
        first.ready()
        assert _enqueue(broker, "dispatch", COUNT, COUNT) == 1  # the whole outbox is one page
        _until(lambda: fake.count("wechat.template") >= 8, 60, "the first calls of the page")
        first.kill()  # SIGKILL: no warm shutdown, the task is unacknowledged
        reached_before = fake.count("wechat.template")
        with db.reading() as session:
            statuses = Counter(session.scalars(select(OutboxRow.status)))
        assert 0 < reached_before < COUNT and statuses == {"in_flight": COUNT}  # killed mid-page

        # RabbitMQ gives it the killed worker's task again; with stale_after an hour, only the
        # task's own rows (their claimed_by) let it recover them: at once
        second = workers(*args, "3600")
        second.ready()

        def all_recorded() -> bool:
            with db.reading() as session:
                return session.scalar(select(func.count()).where(OutboxRow.status != "sent")) == 0

        _until(all_recorded, 120, "the redelivered page to finish")
        delivered = Counter(r.payload["touser"] for r in fake.delivered("wechat.template"))
        requests = fake.count("wechat.template")
        errors = list(fake.errors)
    with db.reading() as session:
        copies = Counter(session.scalars(select(InboxItem.dedupe_key)))
        beat = session.get(PipelineHeartbeat, "dispatch")
    assert set(delivered) == {f"o-{n}" for n in range(COUNT)}  # 0 lost
    assert set(delivered.values()) == {1}  # 0 duplicated: the repeats carried their client_msg_id
    assert requests > COUNT  # the calls the killed worker made were repeated, and dropped
    assert len(copies) == COUNT and set(copies.values()) == {1}  # one inbox copy each
    assert beat is not None and beat.count == COUNT and not errors
