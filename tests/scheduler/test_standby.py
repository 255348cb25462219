"""A standby scheduler (issue 22 item 6): started while another holds the lock, it waits with its
jobs paused, sends nothing beside the active one, and takes over when the active one dies —
its advisory lock gone with its connection (PostgreSQL), its lease expired (SQLite). Every wait
is a timeout, never an assertion of speed."""

from __future__ import annotations

import dataclasses
import logging
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from carepath.channels.base import Message, Receipt
from carepath.channels.console import ConsoleChannel
from carepath.scheduler import AdvisoryLock, Jobs, Scheduler
from carepath.store.models import OutboxRow, Patient, Pregnancy, SchedulerLease
from tests.conftest import set_hospital_settings
from tests.scheduler.test_recovery import FAST, _register, _reminder, eventually
from tests.scheduler.test_scheduler import hospital_delivery_stub

STANDBY = dataclasses.replace(FAST, standby_seconds=0.05)


class Counted(ConsoleChannel):
    """The console channel, counting what each scheduler handed it (the provider's view)."""

    def __init__(self, who: str, seen: list[tuple[str, str]]) -> None:
        super().__init__()
        self.who, self.seen = who, seen

    def send(self, message: Message) -> Receipt:
        self.seen.append((self.who, message.dedupe_key))
        return super().send(message)


def _delivery(who: str, seen: list[tuple[str, str]]) -> Any:
    delivery = hospital_delivery_stub()
    delivery.channels["console"] = Counted(who, seen)
    return delivery


def _die(active: Scheduler, db: Any, clock: Any) -> None:
    """The active scheduler's process dies: its jobs stop and its lock is not released."""
    active.apscheduler.shutdown(wait=True)
    if isinstance(active.lock, AdvisoryLock):
        active.lock._drop()  # the server drops a dead backend's session locks with it
    else:
        with db.transaction() as session:  # its lease runs out (a dead holder renews nothing)
            session.execute(update(SchedulerLease).values(expires_at=clock.now - timedelta(seconds=1)))


def test_a_standby_scheduler_waits_then_takes_over_when_the_active_one_dies(
    api: Any, app: Any, clock: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="carepath.scheduler")
    db = app.extensions["carepath.db"]
    set_hospital_settings(db, "a", drafts_allowed=True)  # the lock is tested, not the review
    seen: list[tuple[str, str]] = []
    active = Scheduler(Jobs(app, lambda hospital: _delivery("a", seen), STANDBY), holder="ward-a:101")
    standby = Scheduler(Jobs(app, lambda hospital: _delivery("b", seen), STANDBY), holder="ward-b:202")
    active.start()
    try:
        standby.start(standby=True)  # no SchedulerLockedError: it waits
        assert standby.status()["state"] == "standby" and active.status()["state"] == "running"
        _register(api, "p-1")
        eventually(lambda: _reminder(db, "p-1") == "sent", "the active scheduler to send")
        eventually(
            lambda: sum("standby" in r.getMessage() for r in caplog.records) >= 3,
            "the standby to try the lock a few times",
        )
        assert standby.status()["state"] == "standby"  # it never ran beside the active one
        _die(active, db, clock)
        _register(api, "p-2")
        eventually(lambda: standby.status()["state"] == "running", "the standby to take over")
        eventually(lambda: _reminder(db, "p-2") == "sent", "the standby to send what came after")
        with db.reading() as session:
            keys = dict(session.execute(select(OutboxRow.dedupe_key, OutboxRow.status)).all())
        assert len(seen) == len({key for _, key in seen})  # nothing handed over twice
        by = {key: who for who, key in seen}
        assert {by[key] for key in by if key.startswith(_pregnancy(db, "p-1"))} == {"a"}
        assert {by[key] for key in by if key.startswith(_pregnancy(db, "p-2"))} == {"b"}
        assert all(keys[key] == "sent" for key in by)
    finally:
        standby.shutdown()
        if active.apscheduler.running:
            active.shutdown()
        else:
            active.lock.release()


def _pregnancy(db: Any, his_id: str) -> str:
    with db.reading() as session:
        found = session.scalar(
            select(Pregnancy.id)
            .join(Patient, Patient.id == Pregnancy.patient_id)
            .where(Patient.his_patient_id == his_id)
        )
    assert found is not None
    return found
