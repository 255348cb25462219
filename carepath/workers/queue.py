"""The Celery app, its settings and the queues: the broker side of the scale-out mode.

One task is a page of work, never one row: ``carepath.sweep_page`` wakes up to ``size`` due
pregnancies, ``carepath.dispatch_batch`` claims and sends up to ``size`` due messages. A task
is acknowledged only after it returned (``task_acks_late``), and a worker that dies while
running one (SIGKILL, OOM, a lost connection) has its task put back on the queue
(``task_reject_on_worker_lost``; RabbitMQ requeues an unacknowledged message when its
consumer's connection closes), so another worker runs it again. Running a page twice is
harmless: the sweep's page is one transaction (a killed one rolls back; its pregnancies stay
due) whose rows are locked ``FOR UPDATE SKIP LOCKED``; the dispatcher's claim is the same
statement two dispatchers already share, and outbox rows carry their unique dedupe keys; what
a killed worker left in flight is recovered by the next batch (``tasks.dispatch_batch``).
Each worker takes one task at a time (``worker_prefetch_multiplier`` 1; the solo pool), so a
worker never sits on pages another could run.

RabbitMQ is the broker (``amqp://``); Redis (``redis://``) works too, with one difference:
an unacknowledged task comes back only after ``visibility_timeout`` (here 10 minutes), not at
once when its worker dies.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from celery import Celery
from kombu import entity

log = logging.getLogger(__name__)

SWEEP_TASK = "carepath.sweep_page"
DISPATCH_TASK = "carepath.dispatch_batch"
#: Stage -> task name; the stage is also the queue's suffix (``<prefix>.sweep``).
TASKS = {"sweep": SWEEP_TASK, "dispatch": DISPATCH_TASK}
DEFAULT_PREFIX = "carepath"
#: Redis redelivers an unacknowledged task after this long (RabbitMQ: when the consumer dies).
REDIS_VISIBILITY_SECONDS = 600


def queue_name(prefix: str, stage: str) -> str:
    return f"{prefix}.{stage}"


def _queue(name: str) -> Any:
    """A durable queue that outlives its consumers, declared alike by workers and scheduler."""
    return entity.Queue(name)  # type: ignore[no-untyped-call]


def make_celery(url: str, *, prefix: str = DEFAULT_PREFIX) -> Any:
    """A Celery app on the broker at ``url``, routing each task to its stage's queue."""
    app = Celery("carepath", broker=url, set_as_current=False)
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_ignore_result=True,  # the database is the result: no result backend
        task_serializer="json",
        accept_content=["json"],
        task_queues=[_queue(queue_name(prefix, stage)) for stage in TASKS],
        task_routes={task: {"queue": queue_name(prefix, stage)} for stage, task in TASKS.items()},
        task_default_queue=queue_name(prefix, "sweep"),
        broker_connection_retry_on_startup=True,
        # No AMQP heartbeats: with them a worker took 10 s to stop on SIGTERM (measured, Celery
        # 5.7, the solo pool); py-amqp's TCP keepalive still finds a dead peer, and RabbitMQ
        # learns of a killed worker at once (the kernel closes its socket) and requeues its task.
        broker_heartbeat=0,
        worker_hijack_root_logger=False,
        worker_redirect_stdouts=False,
        worker_send_task_events=False,
        broker_transport_options={"visibility_timeout": REDIS_VISIBILITY_SECONDS},
        enable_utc=True,
    )
    return app


@dataclass
class Enqueuer:
    """What the scheduler does in cluster mode instead of running the pages itself: put as many
    page tasks on a stage's queue as there is work, less what already waits there, and at least
    one when the queue is empty (so that the workers' heartbeats show they are alive even when
    nothing is due)."""

    celery: Celery
    prefix: str = DEFAULT_PREFIX
    max_pages: int = 1000  # per stage and tick: a backlog larger than this waits for the next tick

    def waiting(self, stage: str) -> int:
        """Tasks ready on the stage's queue (taken but unacknowledged ones are not counted)."""
        with self.celery.connection_for_write() as connection:
            # declared as the workers declare it (durable, kept), or the broker refuses the other
            ok = _queue(queue_name(self.prefix, stage)).bind(connection.default_channel).queue_declare()
            return int(ok.message_count)

    def pages(self, stage: str, due: int, size: int, now: datetime) -> int:
        """Enqueue the pages ``due`` items need (``size`` each); returns how many were sent."""
        wanted = max(min(-(-due // size), self.max_pages), 1)
        send = max(wanted - self.waiting(stage), 0)
        for _ in range(send):
            self.celery.send_task(
                TASKS[stage],
                kwargs={"size": size, "enqueued_at": now.isoformat()},
                queue=queue_name(self.prefix, stage),
            )
        return send

    def close(self) -> None:
        self.celery.close()
