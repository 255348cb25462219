"""The one audit writer for what was refused: its own short transaction, never the caller's.

A refusal is usually found inside the transaction of the request it refuses, and that
transaction is then rolled back. Its audit row must outlive the rollback, and on SQLite it
cannot be written on a second connection while the first holds the write lock (the writer
would wait 30 s for a lock its own request holds). So every row written here goes in after
the calling thread's transactions of that database have ended (``Database.after_transaction``),
in a transaction of its own: at once when there is none.

Reads and changes of patient data are audited differently, by ``scope.audit`` inside the very
transaction that reads or changes: the row and what it records commit together or not at all.

Repeated refusals fold: ``record_repeated`` keeps one row per (action, actor, target kind,
minute) and counts the attempts in it (``audit_log.count``), with a unique ``fold_key`` and an
insert-or-increment, so concurrent attempts on either database add to one row. A failure to
write is logged, never raised: the refusal stands whether or not its row could be written.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError

from carepath.store.db import Database
from carepath.store.models import AuditEntry
from carepath.store.scope import Actor, audit_row

log = logging.getLogger(__name__)


def record(
    db: Database,
    actor: Actor,
    action: str,
    now: datetime,
    detail: str,
    *,
    patient_id: int | None = None,
    pregnancy_id: str | None = None,
) -> None:
    """One audit row, written after any transaction this thread holds on ``db``."""
    row = audit_row(actor, action, now, detail, patient_id=patient_id, pregnancy_id=pregnancy_id)
    db.after_transaction(lambda: _write(db, row, fold_key=None))


def record_repeated(
    db: Database, actor: Actor, action: str, now: datetime, detail: str, *, target_kind: str
) -> None:
    """Count one attempt in the row of (``action``, ``actor``, ``target_kind``, the minute of
    ``now``): the first attempt of the minute adds the row with its ``detail``, each later one
    adds 1 to its ``count``. Written like ``record``, after the caller's transaction."""
    row = audit_row(actor, action, now, detail)
    key = fold_key(actor, action, target_kind, now)
    db.after_transaction(lambda: _write(db, row, fold_key=key))


def fold_key(actor: Actor, action: str, target_kind: str, now: datetime) -> str:
    """The key of one (action, actor, target kind, minute) row, the minute in UTC."""
    minute = now.astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ")
    return f"{action}|{actor.hospital_id}|{actor.label}|{target_kind}|{minute}"[:200]


def _insert(db: Database) -> Any:
    """The dialect's INSERT, which knows ``ON CONFLICT`` (both databases have it)."""
    return postgresql.insert if db.engine.dialect.name == "postgresql" else sqlite.insert


def _write(db: Database, row: dict[str, Any], *, fold_key: str | None) -> None:
    try:
        with db.transaction() as session:
            if fold_key is None:
                session.execute(insert(AuditEntry).values(**row))
                return
            statement = _insert(db)(AuditEntry).values(**row, fold_key=fold_key)
            session.execute(
                statement.on_conflict_do_update(
                    index_elements=[AuditEntry.fold_key], set_={"count": AuditEntry.count + 1}
                )
            )
    except SQLAlchemyError:
        log.exception("could not write the audit row %s %s: %s", row["actor"], row["action"], row["detail"])
