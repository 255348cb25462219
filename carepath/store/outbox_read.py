"""The outbox as staff read it: filtered lists, and export rows in bounded batches.

Only the actor's own hospital's actions are listed (``owned``): an action is the sending
hospital's record. Pages and exports go in id order (keyset: ``after`` is the last id seen),
so a page never repeats or skips a row while new actions arrive. Each listed pregnancy is
audited; an export is audited once, naming its filter and the number of rows it carried.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from carepath.store.crypto import FieldCipher
from carepath.store.db import Database
from carepath.store.models import InboxItem, OutboxRow, Patient, Pregnancy
from carepath.store.patients import masked_patient
from carepath.store.scope import Actor, audit, owned
from carepath.store.timeline import action_entry, withdrawn_copies

STATUSES = (
    "due", "held", "in_flight", "sent", "skipped", "failed", "dead", "cancelled", "replaced", "applied"
)  # fmt: skip
#: Rows read per statement while exporting: memory stays bounded whatever the export's size.
EXPORT_BATCH = 1000


@dataclass(frozen=True)
class OutboxQuery:
    status: str | None = None
    channel: str | None = None  # the channel of the last attempt
    pathway: str | None = None
    pregnancy: str | None = None
    due_from: datetime | None = None  # inclusive
    due_to: datetime | None = None  # exclusive
    limit: int = 100
    after: int | None = None

    def describe(self) -> str:
        """The filter as one line for the audit log (only the filters given)."""
        given = {
            k: (v.isoformat() if isinstance(v, datetime) else v)
            for k, v in asdict(self).items()
            if v is not None and k not in ("limit", "after")
        }
        return ", ".join(f"{k}={v}" for k, v in given.items()) or "no filter"


def _statement(actor: Actor, query: OutboxQuery) -> Any:
    statement: Any = (
        select(OutboxRow, Patient)
        .join(Pregnancy, Pregnancy.id == OutboxRow.pregnancy_id)
        .join(Patient, Patient.id == Pregnancy.patient_id)
    )
    statement = owned(statement, OutboxRow, actor)
    if query.status is not None:
        statement = statement.where(OutboxRow.status == query.status)
    if query.channel is not None:
        statement = statement.where(OutboxRow.channel == query.channel)
    if query.pathway is not None:
        statement = statement.where(OutboxRow.pathway_id == query.pathway)
    if query.pregnancy is not None:
        statement = statement.where(OutboxRow.pregnancy_id == query.pregnancy)
    if query.due_from is not None:
        statement = statement.where(OutboxRow.due_at >= query.due_from)
    if query.due_to is not None:
        statement = statement.where(OutboxRow.due_at < query.due_to)
    return statement


def _item(
    row: OutboxRow, patient: Patient, cipher: FieldCipher, withdrawn: InboxItem | None = None
) -> dict[str, Any]:
    entry = action_entry(row, withdrawn)
    return {**entry, "pregnancy": row.pregnancy_id, "patient": masked_patient(cipher, patient)}


def list_outbox(
    db: Database, cipher: FieldCipher, actor: Actor, query: OutboxQuery, now: datetime
) -> tuple[list[dict[str, Any]], int | None]:
    """One page of the hospital's actions (patients masked) and the next cursor (or None)."""
    with db.transaction() as session:
        statement = _statement(actor, query)
        if query.after is not None:
            statement = statement.where(OutboxRow.id > query.after)
        rows = session.execute(statement.order_by(OutboxRow.id).limit(query.limit + 1)).all()
        more = len(rows) > query.limit
        rows = rows[: query.limit]
        seen: set[str] = set()
        for row, patient in rows:
            if row.pregnancy_id not in seen:
                seen.add(row.pregnancy_id)
                audit(
                    session,
                    actor,
                    "list",
                    now,
                    "outbox listed",
                    patient_id=patient.id,
                    pregnancy_id=row.pregnancy_id,
                )
        withdrawn = withdrawn_copies(session, InboxItem.dedupe_key.in_([row.dedupe_key for row, _ in rows]))
        items = [_item(row, patient, cipher, withdrawn.get(row.dedupe_key)) for row, patient in rows]
        return items, (rows[-1][0].id if more and rows else None)


def count_outbox(db: Database, actor: Actor, query: OutboxQuery) -> int:
    """How many actions an export of ``query`` would carry."""
    with db.reading() as session:
        return session.scalar(select(func.count()).select_from(_statement(actor, query).subquery())) or 0


#: The export's columns, in order: (header, key of the row dict).
EXPORT_COLUMNS: tuple[tuple[str, str], ...] = (
    ("action id", "id"),
    ("due at", "at"),
    ("pathway", "pathway"),
    ("version", "version"),
    ("rule", "rule"),
    ("action", "action"),
    ("status", "status"),
    ("status reason", "status_reason"),
    ("channel", "channel"),
    ("attempts", "attempts"),
    ("sent at", "sent_at"),
    ("provider message id", "provider_message_id"),
    ("delivery", "delivery_status"),
    ("delivered at", "delivered_at"),
    ("read at", "read_at"),
    ("failed at", "failed_at"),
    ("delivery reason", "delivery_reason"),
    ("dead reason", "dead_reason"),
    ("pregnancy", "pregnancy"),
    ("HIS patient id", "his_id"),
    ("name (masked)", "name"),
    ("phone (masked)", "phone"),
)


def export_rows(db: Database, cipher: FieldCipher, actor: Actor, query: OutboxQuery) -> Iterator[list[Any]]:
    """The export's rows (patients masked), read ``EXPORT_BATCH`` at a time in id order."""
    after = query.after
    while True:
        with db.reading() as session:
            batch = _batch(session, cipher, actor, query, after)
        if not batch:
            return
        for row in batch:
            yield [row[key] for _, key in EXPORT_COLUMNS]
        after = batch[-1]["id"]


def _batch(
    session: Session, cipher: FieldCipher, actor: Actor, query: OutboxQuery, after: int | None
) -> list[dict[str, Any]]:
    statement = _statement(actor, query)
    if after is not None:
        statement = statement.where(OutboxRow.id > after)
    out = []
    masked: dict[int, dict[str, Any]] = {}  # a woman has many actions: open her fields once
    for row, patient in session.execute(statement.order_by(OutboxRow.id).limit(EXPORT_BATCH)).all():
        shown = masked.get(patient.id) or masked.setdefault(patient.id, masked_patient(cipher, patient))
        item = action_entry(row)
        delivery = item["delivery"]  # the receipts' view: delivered / read / failed, and when
        receipts = {
            "delivery_status": delivery["status"],
            "delivered_at": delivery["delivered_at"],
            "read_at": delivery["read_at"],
            "failed_at": delivery["failed_at"],
            "delivery_reason": delivery["reason"],
        }
        out.append(
            {
                **item,
                **receipts,
                "pregnancy": row.pregnancy_id,
                **{k: shown[k] for k in ("his_id", "name", "phone")},
            }
        )
    return out


def audit_export(
    db: Database,
    actor: Actor,
    query: OutboxQuery,
    now: datetime,
    *,
    file_format: str,
    rows: int,
    complete: bool,
) -> None:
    """One audit entry for an export: its format, filter and the rows it carried."""
    with db.transaction() as session:
        state = "" if complete else " (interrupted)"
        audit(
            session,
            actor,
            "export",
            now,
            f"outbox export {file_format}{state}: {rows} rows; {query.describe()}",
            pregnancy_id=query.pregnancy,
        )
