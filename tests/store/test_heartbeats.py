"""Pipeline heartbeats (store/heartbeats.py): one row per job, the last beat's. Two first beats
of a job at once — the scheduler's sweep and dispatch ticks both beating ``enqueue`` as it
starts, two workers' first pages — both succeed (seen in a fresh cluster: the second failed on
the key and its tick was lost)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select

from carepath.store import heartbeats
from carepath.store.db import Database
from carepath.store.models import PipelineHeartbeat
from tests.conftest import NOW, empty_tables

THREADS = 8


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    db = Database(database_url, pool_size=THREADS)
    empty_tables(db)
    yield db
    db.dispose()


def test_a_beat_keeps_the_last_run(database: Database) -> None:
    heartbeats.beat(database, "sweep", NOW, 200, "host:1")
    heartbeats.beat(database, "sweep", NOW + timedelta(seconds=60), 7, "host:2")
    state = heartbeats.pipeline(database, NOW + timedelta(seconds=61))
    assert state.heartbeats["sweep"] == heartbeats.Heartbeat(
        "sweep", NOW + timedelta(seconds=60), 7, "host:2"
    )


def test_first_beats_of_one_job_at_once_all_succeed(database: Database) -> None:
    for job in ("enqueue", "dispatch", "sweep"):  # three first beats of THREADS processes each
        start = threading.Barrier(THREADS)
        errors: list[BaseException] = []

        def beat(
            n: int, job: str = job, start: threading.Barrier = start, errors: list[BaseException] = errors
        ) -> None:
            start.wait()
            try:
                heartbeats.beat(database, job, NOW + timedelta(seconds=n), n, f"host:{n}")
            except BaseException as error:  # reported below, with the others
                errors.append(error)

        threads = [threading.Thread(target=beat, args=(n,)) for n in range(THREADS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
    with database.reading() as session:
        rows = session.scalars(select(PipelineHeartbeat).order_by(PipelineHeartbeat.job)).all()
    assert [r.job for r in rows] == ["dispatch", "enqueue", "sweep"]
    assert all(r.holder == f"host:{r.count}" for r in rows)  # each row one beat's, never a mix
