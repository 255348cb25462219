"""The scheduler survives losing its lock: it pauses, stands by while another holds the lock, takes
it back with a backoff and resumes; a PostgreSQL connection loss leaves messages flowing again
and ``/healthz/pipeline`` red meanwhile. Every wait is a timeout, never an assertion of speed."""

from __future__ import annotations

import logging
import os
import re
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import create_engine, delete, select, text

from carepath.scheduler import APP_NAME_PREFIX, Jobs, Scheduler, Settings
from carepath.store.models import OutboxRow, Patient, PipelineHeartbeat, Pregnancy, SchedulerLease
from tests.conftest import FIELD_KEYS, LOOKUP_KEY, set_hospital_settings
from tests.scheduler.test_scheduler import hospital_delivery_stub, id_number
from tests.webapi.conftest import registration

#: Fast ticks, a lease that never expires on its own in the virtual clock's jumps, a short backoff.
FAST = Settings(
    sweep_seconds=0.1,
    dispatch_seconds=0.1,
    lease_seconds=3600,
    renew_seconds=0.1,
    retry_min_seconds=0.05,
    retry_max_seconds=0.2,
)
TIMEOUT = 60.0  # a bound on waiting, not a figure under test


def eventually(condition: Callable[[], Any], what: str, timeout: float = TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(0.05)


def _register(api: Any, his_id: str) -> None:
    """Registration evaluates her at once: a checkup reminder due now (console and inbox)."""
    n = int(his_id.removeprefix("p-"))
    event = registration(his_id, f"reg-{his_id}", id_number=id_number(n), phone=f"138{n:08d}")
    answer = api.post("/api/v1/events", event)
    assert answer.status_code == 201, answer.get_json()


def _reminder(db: Any, his_id: str) -> str:
    with db.reading() as session:
        status = session.scalar(
            select(OutboxRow.status)
            .join(Pregnancy, Pregnancy.id == OutboxRow.pregnancy_id)
            .join(Patient, Patient.id == Pregnancy.patient_id)
            .where(Patient.his_patient_id == his_id, OutboxRow.kind == "remind")
        )
    assert status is not None
    return status


def _last_sweep(db: Any, job: str = "sweep") -> Any:
    with db.reading() as session:
        beat = session.get(PipelineHeartbeat, job)
        return beat.ran_at if beat else None


def _standby_tries(caplog: pytest.LogCaptureFixture) -> int:
    return sum("standby" in r.getMessage() for r in caplog.records if r.name == "carepath.scheduler")


def test_the_scheduler_stands_by_while_another_holds_its_lease_then_resumes(
    api: Any, app: Any, clock: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """As after a pause longer than the lease: another scheduler took the lease over. This one
    stops running jobs, keeps asking (standby, never a second scheduler) and resumes once the
    lease is free."""
    db = app.extensions["carepath.db"]
    if db.engine.dialect.name != "sqlite":
        pytest.skip("the lease is SQLite's lock (PostgreSQL: the pg_terminate_backend test below)")
    caplog.set_level(logging.INFO, logger="carepath.scheduler")
    set_hospital_settings(db, "a", drafts_allowed=True)  # the lock is tested, not the review
    _register(api, "p-1")
    running = Scheduler(Jobs(app, lambda hospital: hospital_delivery_stub(), FAST), holder="ward-a:101")
    running.start()
    try:
        eventually(lambda: _reminder(db, "p-1") == "sent", "the first reminder to go out")
        with db.transaction() as session:  # another scheduler takes the lease over
            lease = session.get(SchedulerLease, "scheduler")
            assert lease is not None
            lease.holder, lease.expires_at = "ward-b:202", clock.now + timedelta(hours=1)
        eventually(lambda: _standby_tries(caplog) >= 1, "the scheduler to stand by")
        clock.now += timedelta(minutes=5)
        _register(api, "p-2")
        tries = _standby_tries(caplog)
        eventually(lambda: _standby_tries(caplog) >= tries + 2, "two more tries while on standby")
        assert _reminder(db, "p-2") == "due"  # the standby scheduler sent nothing
        with db.transaction() as session:  # the other scheduler stops and releases the lease
            session.execute(delete(SchedulerLease))
        eventually(lambda: _reminder(db, "p-2") == "sent", "the reminder after the lease came back")
        eventually(lambda: _last_sweep(db) == clock.now, "a sweep after the lease came back")
        with db.reading() as session:
            lease = session.get(SchedulerLease, "scheduler")
            assert lease is not None and lease.holder == "ward-a:101"
    finally:
        running.shutdown()


# --- PostgreSQL: the connections die ------------------------------------------------------------


class Rival:
    """Another process waiting on the scheduler's advisory lock (a blocking ``pg_advisory_lock``
    in a thread): when the scheduler's backend dies the server hands the lock straight to it,
    so the scheduler, trying to take it back, finds it held (standby) until ``release``."""

    def __init__(self, url: str, key: int) -> None:
        self.engine = create_engine(url)
        self.key = key
        self.has_lock, self.done = threading.Event(), threading.Event()
        self.failure: BaseException | None = None
        self.thread = threading.Thread(target=self._hold, daemon=True)

    def _hold(self) -> None:
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SET lock_timeout = '60s'"))
                conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": self.key})
                self.has_lock.set()
                self.done.wait(TIMEOUT)
                conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": self.key})
                conn.commit()
        except BaseException as error:  # reported by the test thread
            self.failure = error

    def waiting(self) -> bool:
        with self.engine.connect() as conn:
            count = conn.execute(
                text(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
                    "AND classid = :high AND objid = :low AND objsubid = 1"
                ),
                {"high": self.key >> 32, "low": self.key & 0xFFFFFFFF},
            ).scalar()
        return bool(count)

    @contextmanager
    def waiting_on_the_lock(self) -> Iterator[Rival]:
        self.thread.start()
        try:
            eventually(lambda: self.waiting() or self.failure is not None, "the rival to queue on the lock")
            assert self.failure is None, self.failure
            yield self
        finally:
            self.done.set()
            self.thread.join(TIMEOUT)
            self.engine.dispose()
        assert self.failure is None, self.failure


def _terminate(url: str, application_names: list[str]) -> int:
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            killed = conn.execute(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE application_name = ANY(:names) AND pid <> pg_backend_pid()"
                ),
                {"names": application_names},
            ).scalar()
    finally:
        engine.dispose()
    return int(killed or 0)


@pytest.fixture
def serve_app(app: Any, clock: Any, database_url: str) -> Iterator[Any]:
    """The app as `carepath serve` runs it, on connections named for this test alone (so that
    terminating them touches no other session sharing the server)."""
    from carepath.webapi import create_app

    if app.extensions["carepath.db"].engine.dialect.name != "postgresql":
        pytest.skip("pg_terminate_backend is PostgreSQL's")
    name = f"carepath-serve-{uuid.uuid4().hex[:10]}"
    served = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": f"{database_url}&application_name={name}",
            "FIELD_KEYS": FIELD_KEYS,
            "LOOKUP_KEY": LOOKUP_KEY,
            "CLOCK": clock,
            "PIPELINE_MAX_LAG_SECONDS": 60,
        }
    )
    served.config["TEST_APPLICATION_NAME"] = name
    yield served
    served.extensions["carepath.db"].dispose()


def test_pg_terminate_backend_leaves_messages_flowing_and_the_pipeline_red_meanwhile(
    api: Any, serve_app: Any, clock: Any, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="carepath.scheduler")
    db = serve_app.extensions["carepath.db"]
    health = serve_app.test_client()
    holder = f"{serve_app.config['TEST_APPLICATION_NAME']}:1"
    set_hospital_settings(db, "a", drafts_allowed=True)  # the lock is tested, not the review
    _register(api, "p-1")
    running = Scheduler(Jobs(serve_app, lambda hospital: hospital_delivery_stub(), FAST), holder=holder)
    running.start()
    try:
        eventually(lambda: _reminder(db, "p-1") == "sent", "the first reminder to go out")
        eventually(lambda: health.get("/healthz/pipeline").status_code == 200, "a green pipeline")
        assert health.get("/healthz/pipeline").get_json()["scheduler"]["holds_lock"] is True

        rival = Rival(database_url, running.lock.key)
        with rival.waiting_on_the_lock():
            names = [serve_app.config["TEST_APPLICATION_NAME"], APP_NAME_PREFIX + holder]
            assert _terminate(database_url, names) >= 1  # at least the lock's own connection
            eventually(rival.has_lock.is_set, "the lock to pass to the rival")
            clock.now += timedelta(minutes=5)
            _register(api, "p-2")  # a reminder due now, which nobody may send while the rival holds
            clock.now += timedelta(minutes=2)
            eventually(lambda: _standby_tries(caplog) >= 1, "the scheduler to stand by")
            red = health.get("/healthz/pipeline")
            assert red.status_code == 503, red.get_json()
            body = red.get_json()
            assert body["status"] == "lagging" and body["scheduler"]["holds_lock"] is False
            assert body["oldest_due"]["lag_seconds"] > body["max_lag_seconds"]
            assert any("oldest due message" in problem for problem in body["problems"])
            assert _reminder(db, "p-2") == "due"
        eventually(lambda: _reminder(db, "p-2") == "sent", "the reminder after the connection loss")
        eventually(lambda: _last_sweep(db) == clock.now, "a sweep after the connection loss")
        # the dispatch round beats after it commits what it sent: wait for the beat, not the row
        eventually(lambda: _last_sweep(db, "dispatch") == clock.now, "a dispatch after the connection loss")
        green = health.get("/healthz/pipeline")
        assert green.status_code == 200, green.get_json()
        assert green.get_json()["scheduler"]["holds_lock"] is True
    finally:
        running.shutdown()


# --- a lease whose holder is dead -------------------------------------------------------------


def _dead_pid() -> int:
    """The pid of a process of this host that has exited (and been reaped)."""
    import subprocess
    import sys

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_lease_held_by_a_dead_process_of_this_host_is_taken_over_at_once(app: Any, clock: Any) -> None:
    from carepath.scheduler import LeaseLock

    db = app.extensions["carepath.db"]
    dead = f"{socket.gethostname()}:{_dead_pid()}"
    LeaseLock(db, clock, holder=dead, lease_seconds=60).acquire()  # ... and then it was killed
    successor = LeaseLock(db, clock, holder=f"{socket.gethostname()}:{os.getpid()}", lease_seconds=60)
    successor.acquire()  # at once, not 60 s later
    with db.reading() as session:
        lease = session.get(SchedulerLease, "scheduler")
        assert lease is not None and lease.holder == successor.holder and lease.acquired_at == clock.now
    successor.release()


@pytest.mark.parametrize(
    "holder",
    [
        pytest.param(lambda: f"{socket.gethostname()}:{os.getppid()}", id="alive-on-this-host"),
        pytest.param(lambda: f"elsewhere-{socket.gethostname()}:{_dead_pid()}", id="another-host"),
        pytest.param(lambda: f"{socket.gethostname()}:not-a-pid", id="unreadable"),
    ],
)
def test_a_lease_whose_holder_may_be_alive_is_waited_out(app: Any, clock: Any, holder: Any) -> None:
    from carepath.scheduler import LeaseLock, SchedulerLockedError

    db = app.extensions["carepath.db"]
    first = LeaseLock(db, clock, holder=holder(), lease_seconds=60)
    first.acquire()
    try:
        with pytest.raises(SchedulerLockedError, match=re.escape(first.holder)):
            LeaseLock(db, clock, holder="ward-b:202", lease_seconds=60).acquire()
    finally:
        first.release()
