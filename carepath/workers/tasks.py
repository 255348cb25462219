"""The work of one task: a page of the sweep, a batch of the dispatcher.

``Work`` holds what a worker process runs with (its database, clock, channels, cipher) and
calls the same services as the embedded scheduler's jobs; ``register`` binds its two methods
to a Celery app as the tasks ``queue.py`` names. Each finished page leaves a heartbeat in the
database (``store.heartbeats``), so ``/healthz/pipeline`` in any process sees that the workers
are working, and by which process.

A dispatch batch first recovers the rows a dead worker left in flight: its own, when it is the
task of a worker that died and the broker delivered it again (the rows carry the task id that
put them in flight: recovered at once), and any row in flight longer than ``stale_after`` (longer
than any provider call can take: it has lost its worker). A WeChat template
row among them is sent again with the same ``client_msg_id``, which WeChat drops if the first
call arrived; any other becomes ``failed``/``outcome-unknown`` for staff (docs/delivery.md,
"Delivery guarantee"): a killed worker never makes her receive a message twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from carepath.delivery.dispatch_settings import ChannelsForHospital, DispatchSettings
from carepath.delivery.dispatcher import dispatch_once, recover_in_flight
from carepath.delivery.outcomes import DispatchReport
from carepath.store import heartbeats
from carepath.store.crypto import FieldCipher
from carepath.store.db import Database
from carepath.store.wakeups import wake_due
from carepath.workers.queue import DISPATCH_TASK, SWEEP_TASK

log = logging.getLogger(__name__)


@dataclass
class Work:
    db: Database
    clock: Callable[[], datetime]
    channels_for_hospital: ChannelsForHospital
    cipher: FieldCipher
    holder: str  # host:pid, in the heartbeats
    settings: DispatchSettings = field(default_factory=DispatchSettings)
    stale_after: timedelta | None = None  # default: settings.stale_after
    concurrency: int = 8  # provider calls at a time within one batch

    def now(self) -> datetime:
        now = self.clock()
        if now.tzinfo is None:
            raise ValueError("the clock must give timezone-aware datetimes")
        return now

    def sweep_page(self, size: int) -> list[str]:
        """Wake up to ``size`` due pregnancies in one transaction (``wake_due``'s page)."""
        now = self.now()
        woken = wake_due(self.db, now, batch=size, limit=size)
        heartbeats.beat(self.db, "sweep", self.now(), len(woken), self.holder)
        return woken

    def dispatch_batch(self, size: int, claimant: str | None = None) -> DispatchReport:
        """Recover what a dead worker left in flight, then claim, send and record up to ``size``
        due messages (one round of ``dispatch_once``). ``claimant``: the task's id (see the module)."""
        now = self.now()
        recovered = recover_in_flight(
            self.db, now, settings=self.settings, stale_after=self.stale_after, claimant=claimant
        )
        report = dispatch_once(
            self.db,
            now,
            self.channels_for_hospital,
            size,
            cipher=self.cipher,
            settings=self.settings,
            max_rounds=1,
            concurrency=self.concurrency,
            claimant=claimant,
        )
        report.add(recovered)
        heartbeats.beat(self.db, "dispatch", self.now(), report.sent, self.holder)
        return report


def register(celery: Any, work: Work) -> None:
    """Bind ``work`` to the two task names on ``celery`` (a worker process's app)."""

    @celery.task(name=SWEEP_TASK, ignore_result=True)  # type: ignore[untyped-decorator]
    def sweep_page(size: int = 200, enqueued_at: str | None = None) -> int:
        woken = work.sweep_page(size)
        log.info("sweep page: %d woken (enqueued at %s)", len(woken), enqueued_at)
        return len(woken)

    @celery.task(name=DISPATCH_TASK, ignore_result=True, bind=True)  # type: ignore[untyped-decorator]
    def dispatch_batch(task: Any, size: int = 100, enqueued_at: str | None = None) -> int:
        report = work.dispatch_batch(size, claimant=task.request.id)
        log.info(
            "dispatch batch: claimed %d sent %d recovered %d (enqueued at %s)",
            report.claimed,
            report.sent,
            report.recovered,
            enqueued_at,
        )
        return report.sent


def run_worker(celery: Any, *, queues: list[str], name: str, loglevel: str = "INFO") -> None:
    """Run a Celery worker in this process until it is stopped (SIGTERM: a warm shutdown, the
    running page finishes; SIGKILL: its task goes back to the queue). The solo pool: one page
    at a time in this process; run more processes for more."""
    worker = celery.Worker(
        hostname=name,
        queues=queues,
        pool="solo",
        concurrency=1,
        loglevel=loglevel,
        without_gossip=True,
        without_mingle=True,
        without_heartbeat=True,
    )
    worker.start()
    code = getattr(worker, "exitcode", 0) or 0
    if code:
        raise SystemExit(code)
