"""What waits at each stage of the pipeline, read from the database so that every process (the
scheduler that enqueues, any API process answering ``/healthz/pipeline`` or ``/metrics``) sees
the same figures however many workers share the work (issue 22 items 5 and 6).

- **sweep**: pregnancies whose ``next_wakeup`` has come (the ``next_wakeup`` index);
- **dispatch**: messages the dispatcher could send now (``heartbeats.oldest_sendable``'s rule,
  which this module uses: due, and not held until later by a backoff, the send window, the cap
  or a kill switch).

Counts stop at ``cap`` (a ``LIMIT`` inside, so a backlog of a million costs what ``cap`` rows
cost): the scheduler needs "enough for N pages", not the exact figure.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from carepath.store.heartbeats import oldest_sendable
from carepath.store.models import UTC, OutboxRow, Pregnancy

STAGES = ("sweep", "dispatch")
#: What ``stages`` counts up to: past it, the figure says "at least this many".
COUNT_CAP = 10_000


@dataclass(frozen=True)
class Stage:
    """One stage's backlog at ``now``: how many items wait (at most the cap) and since when the
    oldest has (None: nothing waits)."""

    name: str
    waiting: int
    oldest_since: datetime | None

    def lag_seconds(self, now: datetime) -> float:
        return max((now - self.oldest_since).total_seconds(), 0.0) if self.oldest_since else 0.0


def _sendable(now: datetime) -> list[ColumnElement[bool]]:
    return [
        OutboxRow.status == "due",
        OutboxRow.due_at <= now,
        (OutboxRow.next_attempt_at.is_(None)) | (OutboxRow.next_attempt_at <= now),
    ]


def due_pregnancies(session: Session, now: datetime, cap: int) -> int:
    inner = select(Pregnancy.id).where(Pregnancy.next_wakeup <= now).limit(cap).subquery()
    return int(session.scalar(select(func.count()).select_from(inner)) or 0)


def sendable_messages(session: Session, now: datetime, cap: int) -> int:
    inner = select(OutboxRow.id).where(*_sendable(now)).limit(cap).subquery()
    return int(session.scalar(select(func.count()).select_from(inner)) or 0)


def oldest_wakeup(session: Session, now: datetime) -> datetime | None:
    """The earliest ``next_wakeup`` that has come: the sweep is this far behind."""
    earliest = func.min(Pregnancy.next_wakeup, type_=UTC)
    return session.scalar(select(earliest).where(Pregnancy.next_wakeup <= now))


def stages(session: Session, now: datetime, cap: int = COUNT_CAP) -> dict[str, Stage]:
    """Each stage's backlog (counted up to ``cap``) and its oldest item."""
    return {
        "sweep": Stage("sweep", due_pregnancies(session, now, cap), oldest_wakeup(session, now)),
        "dispatch": Stage("dispatch", sendable_messages(session, now, cap), oldest_sendable(session, now)),
    }
