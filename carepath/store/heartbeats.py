"""Pipeline heartbeats: when the scheduler's jobs last ran, and how long the oldest message waits.

The scheduler records one heartbeat per job run (``beat``: one UPDATE, an INSERT the first
time), never one per row, so the write costs the same for an idle tick and for a page of 500.
``/healthz/pipeline`` reads them (``pipeline``) in whichever process answers: in the scale-out
mode the scheduler runs beside another process's API, so the database is the only place both see.

The oldest waiting message is the oldest ``due`` outbox row the dispatcher could send now (due,
and not held until later by a backoff, the send window, the daily cap or a kill switch): a
message held for the morning is not late, one that could have gone an hour ago is.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from carepath.store.db import Database
from carepath.store.models import UTC, OutboxRow, PipelineHeartbeat

#: The jobs that beat, in the order ``/healthz/pipeline`` shows them. In cluster mode the
#: workers beat ``sweep`` and ``dispatch`` after each page, and the scheduler ``enqueue``.
JOBS = ("sweep", "dispatch", "escalate", "enqueue")


@dataclass(frozen=True)
class Heartbeat:
    """One job's last run: when it finished, what it did (a count) and which process ran it."""

    job: str
    ran_at: datetime
    count: int
    holder: str


@dataclass(frozen=True)
class PipelineState:
    """The heartbeats by job (a job that never ran is absent) and the oldest waiting message."""

    heartbeats: dict[str, Heartbeat]
    oldest_waiting_since: datetime | None  # when it could first have gone; None if none waits


def beat(db: Database, job: str, at: datetime, count: int, holder: str) -> None:
    """Record a finished run of ``job`` at ``at`` (``count``: pregnancies woken, messages sent,
    tasks escalated) by ``holder`` (host:pid).

    One upsert: two first beats of a job at once — the scheduler's sweep and dispatch ticks both
    beating ``enqueue`` at its start, two workers' first pages — must not collide (an UPDATE,
    then an INSERT when it found no row, made the second one fail on the key)."""
    dialect = db.engine.dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    values = {"ran_at": at, "count": count, "holder": holder}
    with db.transaction() as session:
        session.execute(
            insert(PipelineHeartbeat)
            .values(job=job, **values)
            .on_conflict_do_update(index_elements=[PipelineHeartbeat.job], set_=values)
        )


def pipeline(db: Database, now: datetime) -> PipelineState:
    """The heartbeats and the oldest message the dispatcher could have sent by ``now``."""
    with db.reading() as session:
        rows = session.scalars(select(PipelineHeartbeat)).all()
        oldest = oldest_sendable(session, now)
    beats = {row.job: Heartbeat(row.job, row.ran_at, row.count, row.holder) for row in rows}
    return PipelineState(beats, oldest)


def heartbeat_rows(session: Session) -> list[PipelineHeartbeat]:
    return list(session.scalars(select(PipelineHeartbeat)))


def oldest_sendable(session: Session, now: datetime) -> datetime | None:
    """Since when the oldest message the dispatcher could have sent by ``now`` has waited: a
    row held for the send window, the cap or a backoff counts from when it may go, not from
    when it fired (her inbox copy is filed at firing; only the notice waits, issue 16 item 11)."""
    # typed, so that SQLite's naive text comes back as an aware UTC datetime
    since = func.min(func.coalesce(OutboxRow.next_attempt_at, OutboxRow.due_at), type_=UTC)
    return session.scalar(
        select(since).where(
            OutboxRow.status == "due",
            OutboxRow.due_at <= now,
            (OutboxRow.next_attempt_at.is_(None)) | (OutboxRow.next_attempt_at <= now),
        )
    )
