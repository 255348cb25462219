"""The scheduler: APScheduler 3 wiring for the wake-up sweep and the outbox dispatcher.

``cli`` builds the Flask app and hands it here (like Flask's Celery example); every job runs
inside ``app.app_context()`` and only calls services: ``store.wakeups.wake_due`` and
``delivery.dispatcher.recover_in_flight`` / ``dispatch_once``. Times come from the app's
``CLOCK`` (timezone-aware UTC); the APScheduler timezone is the hospital's (Asia/Shanghai).

Only one scheduler may run against a database. It holds a lock for its whole life:

- PostgreSQL: ``pg_try_advisory_lock`` on a dedicated connection (the lock dies with the
  connection, so a crashed scheduler never blocks the next), keyed by the schema so that
  schemas sharing one database (the test suite's) each have their own; the connection's
  ``application_name`` names the holder, and ``pg_stat_activity`` says since when.
- SQLite: the ``scheduler_leases`` row, taken if absent or expired, renewed every third of
  its lease, deleted on shutdown; a crashed holder's row expires after ``lease_seconds``.

A second scheduler raises ``SchedulerLockedError`` naming the holder (host:pid) and since when.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import Connection, delete, text, update

from carepath.delivery.dispatcher import DispatchReport, dispatch_once, recover_in_flight
from carepath.errors import CarepathError
from carepath.store.db import Database
from carepath.store.models import SchedulerLease
from carepath.store.tasks import Escalation, escalate_overdue
from carepath.store.wakeups import wake_due

log = logging.getLogger(__name__)

LOCK_NAME = "scheduler"
ADVISORY_CLASS = 0x63617265  # "care"; the low 32 bits are the schema's CRC-32 (one lock per schema)
APP_NAME_PREFIX = "carepath-scheduler "


class SchedulerLockedError(CarepathError):
    """Another scheduler holds this database's lock."""

    code = "scheduler-locked"

    def __init__(self, holder: str, since: datetime | None) -> None:
        self.holder, self.since = holder, since
        when = f" since {since.isoformat()}" if since else ""
        super().__init__(f"another scheduler holds the lock on this database: {holder}{when}")


def default_holder() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class SchedulerLock(Protocol):
    holder: str

    def acquire(self) -> None: ...
    def renew(self) -> bool: ...
    def release(self) -> None: ...


class LeaseLock:
    """SQLite (and any database): the ``scheduler_leases`` row."""

    def __init__(
        self,
        db: Database,
        clock: Callable[[], datetime],
        *,
        holder: str | None = None,
        lease_seconds: float = 60.0,
        name: str = LOCK_NAME,
    ) -> None:
        self.db, self.clock, self.name = db, clock, name
        self.holder = holder or default_holder()
        self.lease = timedelta(seconds=lease_seconds)

    def acquire(self) -> None:
        now = self.clock()
        with self.db.transaction() as session:  # BEGIN IMMEDIATE on SQLite: one at a time
            row = session.get(SchedulerLease, self.name, with_for_update=True)
            if row is None:
                session.add(
                    SchedulerLease(
                        name=self.name, holder=self.holder, acquired_at=now, expires_at=now + self.lease
                    )
                )
                return
            if row.holder != self.holder and row.expires_at > now:
                raise SchedulerLockedError(row.holder, row.acquired_at)
            if row.holder != self.holder:
                log.warning("taking over the scheduler lease of %s (expired %s)", row.holder, row.expires_at)
                row.acquired_at = now
            row.holder, row.expires_at = self.holder, now + self.lease

    def renew(self) -> bool:
        """Extend the lease; False if it was lost (expired and taken by another)."""
        now = self.clock()
        with self.db.transaction() as session:
            result = session.execute(
                update(SchedulerLease)
                .where(SchedulerLease.name == self.name, SchedulerLease.holder == self.holder)
                .values(expires_at=now + self.lease)
            )
            return bool(getattr(result, "rowcount", 0))

    def release(self) -> None:
        with self.db.transaction() as session:
            session.execute(
                delete(SchedulerLease).where(
                    SchedulerLease.name == self.name, SchedulerLease.holder == self.holder
                )
            )


class AdvisoryLock:
    """PostgreSQL: a session advisory lock held on a dedicated connection."""

    def __init__(self, db: Database, *, holder: str | None = None, key: int | None = None) -> None:
        self.db, self.key = db, key if key is not None else self._schema_key(db)
        self.holder = holder or default_holder()
        self.connection: Connection | None = None

    @staticmethod
    def _schema_key(db: Database) -> int:
        with db.engine.connect() as conn:
            schema = str(conn.execute(text("SELECT current_schema()")).scalar() or "public")
        return (ADVISORY_CLASS << 32) | zlib.crc32(schema.encode())

    def acquire(self) -> None:
        conn = self.db.engine.connect()
        try:
            conn.execute(
                text("SELECT set_config('application_name', :name, false)"),
                {"name": APP_NAME_PREFIX + self.holder},
            )
            got = conn.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": self.key}).scalar()
            conn.commit()
        except Exception:
            conn.close()
            raise
        if got:
            self.connection = conn
            return
        conn.close()
        holder, since = self._holder()
        raise SchedulerLockedError(holder, since)

    def _holder(self) -> tuple[str, datetime | None]:
        with self.db.engine.connect() as conn:
            row = conn.execute(
                text(
                    "SELECT a.application_name, a.backend_start FROM pg_locks l "
                    "JOIN pg_stat_activity a ON a.pid = l.pid "
                    "WHERE l.locktype = 'advisory' AND l.granted AND l.objid = :low "
                    "AND l.classid = :high AND l.objsubid = 1"
                ),
                {"low": self.key & 0xFFFFFFFF, "high": self.key >> 32},
            ).first()
        if row is None:
            return "an unknown process (it may just have exited)", None
        name = str(row[0] or "")
        return (name.removeprefix(APP_NAME_PREFIX) or "an unnamed connection"), row[1]

    def renew(self) -> bool:
        """The lock lives as long as the connection: check that it is still alive."""
        if self.connection is None:
            return False
        try:
            self.connection.execute(text("SELECT 1"))
            self.connection.commit()
        except Exception:
            log.exception("the scheduler lock's connection was lost")
            return False
        return True

    def release(self) -> None:
        if self.connection is None:
            return
        try:
            self.connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": self.key})
            self.connection.commit()
        finally:
            self.connection.invalidate()  # never back to the pool with the lock still held
            self.connection.close()
            self.connection = None


def lock_for(
    db: Database, clock: Callable[[], datetime], *, holder: str | None = None, lease_seconds: float = 60.0
) -> SchedulerLock:
    if db.engine.dialect.name == "postgresql":
        return AdvisoryLock(db, holder=holder)
    return LeaseLock(db, clock, holder=holder, lease_seconds=lease_seconds)


@dataclass
class Settings:
    sweep_seconds: float = 60.0
    dispatch_seconds: float = 10.0
    escalate_seconds: float = 300.0
    lease_seconds: float = 60.0
    sweep_batch: int = 200
    dispatch_batch: int = 100
    timezone: str = "Asia/Shanghai"


@dataclass
class Jobs:
    """The jobs themselves, callable directly (tests drive them with a virtual clock)."""

    app: Any  # the Flask app, handed over by cli
    channels_for_hospital: Callable[[str], Any]
    settings: Settings = field(default_factory=Settings)
    clock: Callable[[], datetime] | None = None
    on_report: Callable[[str, Any], None] | None = None

    def now(self) -> datetime:
        now = (self.clock or self.app.config["CLOCK"])()
        if now.tzinfo is None:
            raise ValueError("the clock must give timezone-aware datetimes")
        return now

    @property
    def db(self) -> Database:
        db: Database = self.app.extensions["carepath.db"]
        return db

    def sweep(self) -> list[str]:
        with self.app.app_context():
            now = self.now()
            woken = wake_due(self.db, now, batch=self.settings.sweep_batch)
        self._report("sweep", woken)
        return woken

    def escalate(self) -> list[Escalation]:
        """Overdue open staff tasks go to the hospital's team lead, once each."""
        with self.app.app_context():
            escalated = escalate_overdue(self.db, self.now())
        self._report("escalate", escalated)
        return escalated

    def recover(self) -> DispatchReport:
        with self.app.app_context():
            report = recover_in_flight(self.db, self.now())
        self._report("recover", report)
        return report

    def dispatch(self) -> DispatchReport:
        with self.app.app_context():
            report = dispatch_once(
                self.db,
                self.now(),
                self.channels_for_hospital,
                self.settings.dispatch_batch,
                cipher=self.app.extensions["carepath.cipher"],
            )
        self._report("dispatch", report)
        return report

    def _report(self, job: str, result: Any) -> None:
        if self.on_report is not None:
            self.on_report(job, result)


class Scheduler:
    """The lock, then APScheduler running the sweep, the dispatcher and the lock's renewal."""

    def __init__(self, jobs: Jobs, *, holder: str | None = None) -> None:
        self.jobs = jobs
        self.lock = lock_for(jobs.db, jobs.now, holder=holder, lease_seconds=jobs.settings.lease_seconds)
        self.apscheduler = BackgroundScheduler(timezone=ZoneInfo(jobs.settings.timezone))
        self.lost = threading.Event()

    def start(self) -> None:
        """Take the lock (``SchedulerLockedError`` if another holds it), recover, schedule the jobs."""
        self.lock.acquire()
        try:
            self.jobs.recover()
        except Exception:
            self.lock.release()
            raise
        s = self.jobs.settings
        common: dict[str, Any] = {"max_instances": 1, "coalesce": True, "misfire_grace_time": None}
        first = datetime.now(ZoneInfo(s.timezone))
        self.apscheduler.add_job(
            self.jobs.sweep, "interval", seconds=s.sweep_seconds, id="sweep", next_run_time=first, **common
        )
        self.apscheduler.add_job(
            self.jobs.dispatch,
            "interval",
            seconds=s.dispatch_seconds,
            id="dispatch",
            next_run_time=first,
            **common,
        )
        self.apscheduler.add_job(
            self.jobs.escalate, "interval", seconds=s.escalate_seconds, id="escalate", **common
        )
        self.apscheduler.add_job(
            self._renew, "interval", seconds=max(s.lease_seconds / 3, 1.0), id="lease", **common
        )
        self.apscheduler.start()

    def _renew(self) -> None:
        if not self.lock.renew():
            log.error("the scheduler lost its lock; stopping its jobs")
            self.lost.set()
            self.apscheduler.remove_all_jobs()

    def shutdown(self) -> None:
        if self.apscheduler.running:
            self.apscheduler.shutdown(wait=True)
        self.lock.release()
