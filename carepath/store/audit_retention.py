"""How long the audit log is kept (issue 21 item 6; Cybersecurity Law art. 21: network logs at
least six months). Nothing in carepath deletes audit rows except ``purge``, run by hand or by
the hospital's own schedule (``carepath audit purge --older-than DAYS``), and it refuses any
age under ``MIN_DAYS``: 183 days is six months of the longest kind (31+31+30+31+30+30), so a
row younger than six months by any calendar is never purged.

Rows go in batches of ``BATCH`` by id, each batch its own short transaction, so a purge of
millions of rows never holds one long lock on a log the pages are writing to. Each hospital's
purge is itself audited (``purge``, how many rows and the cut-off), after it ran.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, func, select

from carepath.errors import CarepathError
from carepath.store.db import Database
from carepath.store.models import AuditEntry
from carepath.store.scope import Actor, audit

MIN_DAYS = 183
BATCH = 5000


class RetentionFloorError(CarepathError):
    """A purge that would delete rows younger than the legal floor."""

    code = "retention-floor"


def cutoff(older_than_days: int, now: datetime) -> datetime:
    """The moment before which rows may go; refuses fewer than ``MIN_DAYS`` days."""
    if older_than_days < MIN_DAYS:
        raise RetentionFloorError(
            f"the audit log is kept at least {MIN_DAYS} days (six months); "
            f"--older-than {older_than_days} would delete younger rows"
        )
    return now - timedelta(days=older_than_days)


def purge(db: Database, older_than_days: int, now: datetime, *, by: str) -> dict[str, int]:
    """Delete audit rows older than ``older_than_days`` days; the count per hospital. ``by``:
    who ran it (the audit row's actor id, e.g. the terminal's user)."""
    before = cutoff(older_than_days, now)
    with db.reading() as session:
        hospitals = list(
            session.scalars(select(AuditEntry.hospital_id).where(AuditEntry.at < before).distinct())
        )
    purged: dict[str, int] = {}
    for hospital_id in sorted(hospitals):
        total = 0
        while True:
            with db.transaction() as session:
                ids = list(
                    session.scalars(
                        select(AuditEntry.id)
                        .where(AuditEntry.hospital_id == hospital_id, AuditEntry.at < before)
                        .order_by(AuditEntry.id)
                        .limit(BATCH)
                    )
                )
                if not ids:
                    break
                session.execute(delete(AuditEntry).where(AuditEntry.id.in_(ids)))
                total += len(ids)
        purged[hospital_id] = total
        with db.transaction() as session:
            audit(
                session, Actor(hospital_id, "cli", by), "purge", now,
                f"purged {total} audit row(s) older than {older_than_days} days (before {before:%Y-%m-%d})",
            )  # fmt: skip
    return purged


def oldest(db: Database) -> datetime | None:
    """The oldest row's time (what a purge would reach first)."""
    with db.reading() as session:
        return session.scalar(select(func.min(AuditEntry.at)))
