"""The scheduler: APScheduler 3 wiring for the wake-up sweep and the outbox dispatcher.

``cli`` builds the Flask app and hands it here (like Flask's Celery example); every job runs
inside ``app.app_context()`` and only calls services: ``store.wakeups.wake_due`` and
``delivery.dispatcher.recover_in_flight`` / ``dispatch_once``. Times come from the app's
``CLOCK`` (timezone-aware UTC); the APScheduler timezone is the hospital's (Asia/Shanghai).

In cluster mode (``carepath scheduler --enqueue``, issue 22 item 5) the sweep and the
dispatcher do not run here: each tick counts what is due in the database and puts that many
page tasks on the broker's queues (``Jobs.enqueue``; less what already waits there), and
``carepath worker`` processes run them. The escalation, the on-call routing and the recovery
at start still run here: one small query each. ``carepath serve`` and a plain ``carepath
scheduler`` stay embedded, as before.

Only one scheduler may run against a database. It holds a lock for its whole life:

- PostgreSQL: ``pg_try_advisory_lock`` on a dedicated connection (the lock dies with the
  connection, so a crashed scheduler never blocks the next), keyed by the schema so that
  schemas sharing one database (the test suite's) each have their own; the connection's
  ``application_name`` names the holder, and ``pg_stat_activity`` says since when.
- SQLite: the ``scheduler_leases`` row, taken if absent or expired, renewed every third of
  its lease, deleted on shutdown; a crashed holder's row expires after ``lease_seconds``, or is
  taken over at once when the holder is a process of this host that no longer exists.

A second scheduler raises ``SchedulerLockedError`` naming the holder (host:pid) and since when,
unless it was started as a standby (``start(standby=True)``, ``carepath scheduler --standby``):
then it waits with its jobs paused and tries the lock every ``standby_seconds`` (10), so it
takes over within that long of the active one's death (its advisory lock dies with its
connection; the kernel closes the socket of a killed process at once) and never runs beside it.

A running scheduler that loses its lock (its PostgreSQL connection was terminated, the server
restarted or failed over; its lease was taken over after a pause) pauses its jobs and tries to
take the lock back, with a backoff from ``retry_min_seconds`` doubling to ``retry_max_seconds``.
While another scheduler holds it, this one stays on standby and keeps trying, so two never run
at once; once it has the lock again it recovers in-flight rows and resumes. Every job run is
checked against the lock first, and leaves a heartbeat in the database (``store.heartbeats``)
that ``/healthz/pipeline`` reads in any process.
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
from sqlalchemy.orm import Session

from carepath.delivery.dispatcher import dispatch_once, recover_in_flight
from carepath.delivery.on_call import OnCallReport, route_once
from carepath.delivery.outcomes import DispatchReport
from carepath.errors import CarepathError
from carepath.store import backlog, heartbeats
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


def holder_is_gone(holder: str) -> bool:
    """True when ``holder`` (host:pid) names a process of this host that no longer exists.

    Only this host's processes can be checked; a process of another host, a pid that is
    alive (even if it was reused by another program) or one we may not signal is presumed
    alive, so its lease is waited out instead."""
    host, _, pid_text = holder.rpartition(":")
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid <= 0 or pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)  # signal 0: the existence check, nothing is delivered
    except ProcessLookupError:
        return True
    except OSError:  # PermissionError: alive, another user's
        return False
    return False


class SchedulerLock(Protocol):
    holder: str

    def acquire(self) -> None: ...
    def held(self) -> bool: ...
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
            if row.holder != self.holder:
                if row.expires_at > now and not holder_is_gone(row.holder):
                    raise SchedulerLockedError(row.holder, row.acquired_at)
                why = f"expired {row.expires_at}" if row.expires_at <= now else "its process is gone"
                log.warning("taking over the scheduler lease of %s (%s)", row.holder, why)
                row.acquired_at = now
            row.holder, row.expires_at = self.holder, now + self.lease

    def held(self) -> bool:
        """Still ours (a read, before every job run). A lease past its expiry but not taken over
        is still ours: whoever takes it over rewrites the holder first."""
        with self.db.reading() as session:
            row = session.get(SchedulerLease, self.name)
            return row is not None and row.holder == self.holder

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
        self._mutex = threading.Lock()  # the jobs check it from several threads; a Connection is not shared

    @staticmethod
    def _schema_key(db: Database) -> int:
        with db.engine.connect() as conn:
            schema = str(conn.execute(text("SELECT current_schema()")).scalar() or "public")
        return (ADVISORY_CLASS << 32) | zlib.crc32(schema.encode())

    def acquire(self) -> None:
        with self._mutex:
            self._acquire()

    def _acquire(self) -> None:
        self._drop()  # a connection left from before a loss holds nothing any more
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

    def held(self) -> bool:
        """The lock lives as long as its connection: one round trip on it says it is alive.
        A dead connection is dropped (the server released the lock with it)."""
        with self._mutex:
            if self.connection is None:
                return False
            try:
                self.connection.execute(text("SELECT 1"))
                self.connection.commit()
            except Exception as error:
                log.warning("the scheduler lock's connection was lost: %s", _first_line(error))
                self._drop()
                return False
            return True

    def renew(self) -> bool:
        return self.held()

    def release(self) -> None:
        with self._mutex:
            if self.connection is None:
                return
            try:
                self.connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": self.key})
                self.connection.commit()
            except Exception as error:  # the connection is gone, and the lock with it
                log.warning("could not unlock the scheduler lock (%s); closing it", _first_line(error))
            finally:
                self._drop()

    def _drop(self) -> None:
        if self.connection is None:
            return
        try:
            self.connection.invalidate()  # never back to the pool with the lock still held
            self.connection.close()
        finally:
            self.connection = None


def _first_line(error: BaseException) -> str:
    """A driver error's first line (psycopg's carry the SQL and a link after it)."""
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0] if lines else ''}"


def lock_for(
    db: Database, clock: Callable[[], datetime], *, holder: str | None = None, lease_seconds: float = 60.0
) -> SchedulerLock:
    if db.engine.dialect.name == "postgresql":
        return AdvisoryLock(db, holder=holder)
    return LeaseLock(db, clock, holder=holder, lease_seconds=lease_seconds)


@dataclass
class Settings:
    """Job intervals and batches; the lock's lease and how often it is checked (default a third
    of the lease, at least a second); the backoff of taking a lost lock back (doubling from
    ``retry_min_seconds`` up to ``retry_max_seconds``)."""

    sweep_seconds: float = 60.0
    dispatch_seconds: float = 10.0
    escalate_seconds: float = 300.0
    on_call_seconds: float = 60.0
    lease_seconds: float = 60.0
    sweep_batch: int = 200
    dispatch_batch: int = 100
    timezone: str = "Asia/Shanghai"
    renew_seconds: float | None = None
    retry_min_seconds: float = 1.0
    retry_max_seconds: float = 60.0
    # while another scheduler holds the lock, how often to try it: a standby takes over within
    # this long of the active one's death (the issue 22 target is 30 s)
    standby_seconds: float = 10.0


class Enqueue(Protocol):
    """The broker side the scheduler enqueues with in cluster mode (``workers.queue.Enqueuer``,
    handed over by ``cli``: the scheduler does not import the workers)."""

    max_pages: int

    def pages(self, stage: str, due: int, size: int, now: datetime) -> int: ...


@dataclass
class Jobs:
    """The jobs themselves, callable directly (tests drive them with a virtual clock)."""

    app: Any  # the Flask app, handed over by cli
    channels_for_hospital: Callable[[str], Any]
    settings: Settings = field(default_factory=Settings)
    clock: Callable[[], datetime] | None = None
    on_report: Callable[[str, Any], None] | None = None
    #: who ran a job, in its heartbeat: this process
    holder: str = field(default_factory=default_holder)
    #: cluster mode: the sweep and the dispatcher only enqueue pages for the workers
    #: (``carepath scheduler --enqueue``); None, the default, runs them here (embedded)
    enqueue: Enqueue | None = None

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
        if self.enqueue is not None:
            self._enqueue("sweep", backlog.due_pregnancies, self.settings.sweep_batch)
            return []
        with self.app.app_context():
            now = self.now()
            woken = wake_due(self.db, now, batch=self.settings.sweep_batch)
            self._beat("sweep", len(woken))
        self._report("sweep", woken)
        return woken

    def _enqueue(self, stage: str, count: Callable[[Session, datetime, int], int], size: int) -> int:
        """Cluster mode: put the pages ``stage`` needs on its queue (the workers run them) and
        beat ``enqueue`` (the workers beat the stage itself when a page is done)."""
        assert self.enqueue is not None
        with self.app.app_context():
            now = self.now()
            with self.db.reading() as session:
                due = count(session, now, self.enqueue.max_pages * size)
            sent = self.enqueue.pages(stage, due, size, now)
            self._beat("enqueue", sent)
        if sent:
            log.info("%s: %d due, %d page(s) of %d enqueued", stage, due, sent, size)
        return sent

    def escalate(self) -> list[Escalation]:
        """Overdue open staff tasks go to the hospital's team lead, once each."""
        with self.app.app_context():
            escalated = escalate_overdue(self.db, self.now())
            self._beat("escalate", len(escalated))
        self._report("escalate", escalated)
        return escalated

    def on_call(self) -> OnCallReport:
        """Urgent tasks created outside working hours go to the on-call roster, and on down it
        while nobody acknowledges them (issue 17 item 1; ``delivery/on_call.py``)."""
        with self.app.app_context():
            report = route_once(self.db, self.now(), self.channels_for_hospital)
        self._report("on_call", report)
        return report

    def recover(self) -> DispatchReport:
        with self.app.app_context():
            report = recover_in_flight(self.db, self.now())
        self._report("recover", report)
        return report

    def dispatch(self) -> DispatchReport:
        if self.enqueue is not None:
            self._enqueue("dispatch", backlog.sendable_messages, self.settings.dispatch_batch)
            return DispatchReport()
        with self.app.app_context():
            report = dispatch_once(
                self.db,
                self.now(),
                self.channels_for_hospital,
                self.settings.dispatch_batch,
                cipher=self.app.extensions["carepath.cipher"],
            )
            self._beat("dispatch", report.sent)
        self._report("dispatch", report)
        return report

    def _beat(self, job: str, count: int) -> None:
        heartbeats.beat(self.db, job, self.now(), count, self.holder)

    def _report(self, job: str, result: Any) -> None:
        if self.on_report is not None:
            self.on_report(job, result)


#: The work the lock guards: paused while the lock is lost, resumed when it is taken back.
GUARDED_JOBS = ("sweep", "dispatch", "escalate", "on_call")
RENEW_JOB, TAKE_BACK_JOB = "lease", "take-back"


class Scheduler:
    """The lock, then APScheduler running the sweep, the dispatcher, the escalation and the
    lock's renewal. A lost lock pauses the jobs until ``_take_back`` has it again."""

    def __init__(self, jobs: Jobs, *, holder: str | None = None) -> None:
        self.jobs = jobs
        self.lock = lock_for(jobs.db, jobs.now, holder=holder, lease_seconds=jobs.settings.lease_seconds)
        self.apscheduler = BackgroundScheduler(timezone=ZoneInfo(jobs.settings.timezone))
        self.holding = threading.Event()  # set while the lock is ours and the jobs may run
        self._retry = jobs.settings.retry_min_seconds
        self._turn = threading.Lock()  # losing and taking back, one at a time

    def start(self, *, standby: bool = False) -> None:
        """Take the lock (``SchedulerLockedError`` if another holds it), recover, schedule the jobs.

        ``standby``: if another holds the lock, schedule the jobs paused and try the lock every
        ``standby_seconds`` instead of raising; ``_take_back`` recovers and resumes them."""
        try:
            self.lock.acquire()
        except SchedulerLockedError as error:
            if not standby:
                raise
            self._schedule(paused=True)
            self.apscheduler.start()
            self.jobs.app.extensions["carepath.scheduler"] = self
            log.warning("scheduler on standby: %s; next try in %gs", error, self._try_again(standing_by=True))
            return
        try:
            self.jobs.recover()
        except BaseException:  # an interrupt too: never leave the lock behind
            self.lock.release()
            raise
        self.holding.set()
        self._schedule(paused=False)
        self.apscheduler.start()
        self.jobs.app.extensions["carepath.scheduler"] = self

    def _schedule(self, *, paused: bool) -> None:
        """The jobs and the lock's renewal; ``paused`` ones wait for ``_take_back`` to resume them."""
        s = self.jobs.settings
        common: dict[str, Any] = {"max_instances": 1, "coalesce": True, "misfire_grace_time": None}
        first = self._local_now()
        for job_id, job, seconds, at in (
            ("sweep", self.jobs.sweep, s.sweep_seconds, first),
            ("dispatch", self.jobs.dispatch, s.dispatch_seconds, first),
            ("escalate", self.jobs.escalate, s.escalate_seconds, None),
            ("on_call", self.jobs.on_call, s.on_call_seconds, None),
        ):
            kwargs = {"next_run_time": None if paused else at} if paused or at is not None else {}
            self.apscheduler.add_job(
                self._guarded(job), "interval", seconds=seconds, id=job_id, name=job_id, **kwargs, **common
            )
        renewal = {"next_run_time": None} if paused else {}
        self.apscheduler.add_job(
            self._renew, "interval", seconds=self._renew_seconds(), id=RENEW_JOB, **renewal, **common
        )

    def status(self) -> dict[str, Any]:
        """For ``/healthz/pipeline``: who this scheduler is and whether it holds its lock."""
        holding = self.holding.is_set()
        return {
            "holder": self.lock.holder,
            "holds_lock": holding,
            "state": "running" if holding else "standby",
        }

    def _local_now(self) -> datetime:
        return datetime.now(ZoneInfo(self.jobs.settings.timezone))

    def _renew_seconds(self) -> float:
        s = self.jobs.settings
        return s.renew_seconds if s.renew_seconds is not None else max(s.lease_seconds / 3, 1.0)

    def _guarded(self, job: Callable[[], Any]) -> Callable[[], None]:
        """``job``, run only while the lock is still ours (checked first: one cheap query), so
        that a scheduler whose connection died never starts work another may be doing."""

        def run() -> None:
            if not self.holding.is_set():
                return
            try:
                held = self.lock.held()
            except Exception as error:
                log.warning("could not check the scheduler lock: %s", _first_line(error))
                held = False
            if not held:
                self._lose()
                return
            job()

        return run

    def _renew(self) -> None:
        try:
            renewed = self.lock.renew()
        except Exception as error:  # the database is away: the lock may be gone with it
            log.warning("could not renew the scheduler lock: %s", _first_line(error))
            renewed = False
        if not renewed:
            self._lose()

    def _lose(self) -> None:
        """Pause the jobs and start trying to take the lock back."""
        with self._turn:
            if not self.holding.is_set() or not self.apscheduler.running:  # lost already, or stopping
                return
            self.holding.clear()
            self._each_job(self.apscheduler.pause_job)
            self._retry = self.jobs.settings.retry_min_seconds
            delay = self._try_again()
            log.error(
                "the scheduler lost its lock; its jobs pause until it has the lock again (next try in %gs)",
                delay,
            )

    def _try_again(self, *, standing_by: bool = False) -> float:
        """Schedule the next ``_take_back``: after ``standby_seconds`` while another scheduler
        holds the lock (it is alive; the database is fine), else after the doubling backoff."""
        delay = min(self._retry, self.jobs.settings.standby_seconds) if standing_by else self._retry
        self.apscheduler.add_job(
            self._take_back,
            "date",
            run_date=self._local_now() + timedelta(seconds=delay),
            id=TAKE_BACK_JOB,
            replace_existing=True,
            misfire_grace_time=None,
        )
        self._retry = min(self._retry * 2, self.jobs.settings.retry_max_seconds)
        return delay

    def _take_back(self) -> None:
        """One try: on success recover in-flight rows and resume; on refusal (another scheduler
        took the lock: standby) or a database still away, try again after a longer wait."""
        with self._turn:
            if self.holding.is_set() or not self.apscheduler.running:
                return
            try:
                self.lock.acquire()
            except SchedulerLockedError as error:
                log.warning(
                    "scheduler on standby: %s; next try in %gs", error, self._try_again(standing_by=True)
                )
                return
            except Exception as error:
                log.warning(
                    "could not take the scheduler lock back (%s); next try in %gs",
                    _first_line(error),
                    self._try_again(),
                )
                return
            try:
                self.jobs.recover()
            except Exception as error:
                self._release_quietly()
                log.warning(
                    "recovery failed after taking the lock back (%s); next try in %gs",
                    _first_line(error),
                    self._try_again(),
                )
                return
            self.holding.set()
            self._each_job(self.apscheduler.resume_job)
            now = self._local_now()
            for job_id in ("sweep", "dispatch"):  # what waited should not wait another interval
                self.apscheduler.modify_job(job_id, next_run_time=now)
            log.warning("the scheduler has its lock again as %s; its jobs resume", self.lock.holder)

    def _each_job(self, action: Callable[[str], Any]) -> None:
        for job_id in (*GUARDED_JOBS, RENEW_JOB):
            action(job_id)

    def _release_quietly(self) -> None:
        try:
            self.lock.release()
        except Exception as error:
            log.warning("could not release the scheduler lock: %s", _first_line(error))

    def shutdown(self) -> None:
        """Stop the jobs (waiting for those running) and release the lock."""
        if self.apscheduler.running:
            try:
                self.apscheduler.shutdown(wait=True)
            except RuntimeError:  # SIGTERM while its thread was starting: no job ever ran
                log.info("the scheduler was stopped while it was starting")
        if self.jobs.app.extensions.get("carepath.scheduler") is self:
            del self.jobs.app.extensions["carepath.scheduler"]
        self.holding.clear()
        self.lock.release()
