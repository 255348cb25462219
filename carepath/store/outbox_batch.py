"""Outbox rows as the dispatcher reads and writes them a batch at a time, without the ORM.

Loading a hundred ``OutboxRow`` objects, tracking each attribute set and flushing them through
the unit of work cost most of the dispatcher's CPU (issue 22 item 2). A ``BatchRow`` is a
plain object with the columns the dispatcher uses, read by one Core statement; it remembers
which columns were set, and ``write`` sends the batch's changes as one statement per set of
columns changed (usually one per batch): ``UPDATE … FROM unnest(arrays)`` on PostgreSQL, an
executemany UPDATE on SQLite. On PostgreSQL a list of values is
bound as one array (``= ANY(:ids)``): psycopg caches the parsing of a statement only when it
has at most 50 parameters, and an expanded ``IN`` of a hundred ids was re-parsed every time.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, ColumnElement, Connection, Result, Table, any_, bindparam, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from carepath.store.models import OutboxRow

TABLE: Table = OutboxRow.__table__  # type: ignore[assignment]
#: The columns a batch reads: what the claim, the policy, the inbox copies and the record use.
NAMES = (
    "id", "hospital_id", "pregnancy_id", "dedupe_key", "pathway_id", "kind", "params", "due_at",
    "channels", "status", "status_reason", "attempts", "last_error", "updated_at", "channel",
    "in_flight_at", "provider_message_id", "sent_at", "next_attempt_at", "first_attempt_at",
    "unknown_since", "failed_channels", "inbox_item_id", "dead_reason", "content_version",
)  # fmt: skip
COLUMNS = tuple(TABLE.c[name] for name in NAMES)
#: The columns the record of a batch's outcomes reads (no JSON to decode but the failed channels).
RECORDED = tuple(
    TABLE.c[name]
    for name in ("id", "dedupe_key", "status", "attempts", "channel", "in_flight_at", "first_attempt_at",
                 "unknown_since", "failed_channels")
)  # fmt: skip


class BatchRow:
    """One outbox row of a batch; setting an attribute marks its column for ``write``."""

    id: int
    hospital_id: str
    pregnancy_id: str
    dedupe_key: str
    pathway_id: str
    kind: str
    params: dict[str, Any]
    due_at: datetime
    channels: list[Any]
    status: str
    status_reason: str | None
    attempts: int
    last_error: str | None
    updated_at: datetime
    channel: str | None
    in_flight_at: datetime | None
    claimed_by: str | None  # written by the claim, never read back
    provider_message_id: str | None
    sent_at: datetime | None
    next_attempt_at: datetime | None
    first_attempt_at: datetime | None
    unknown_since: datetime | None
    failed_channels: list[Any] | None
    inbox_item_id: int | None
    dead_reason: str | None
    content_version: str | None

    def __init__(self, values: Mapping[Any, Any]) -> None:
        self.__dict__.update(values)
        self.__dict__["changed"] = set()

    def __setattr__(self, name: str, value: Any) -> None:
        self.__dict__[name] = value
        self.__dict__["changed"].add(name)

    @property
    def changes(self) -> set[str]:
        return self.__dict__["changed"]  # type: ignore[no-any-return]


#: What the dispatcher's helpers accept: an ORM row (the staff's and her pages' paths) or a batch's.
OutboxLike = OutboxRow | BatchRow


def rows_of(result: Result[Any]) -> list[BatchRow]:
    """Batch rows from a result (a SELECT or an UPDATE's RETURNING) of ``COLUMNS`` or fewer."""
    return [BatchRow(values) for values in result.mappings().all()]


def is_postgresql(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def among(session: Session, column: Any, values: Sequence[Any]) -> ColumnElement[bool]:
    """``column IN values``: one array parameter on PostgreSQL (a statement psycopg parses once),
    the usual expanded list on SQLite."""
    if is_postgresql(session):
        return column == any_(bindparam(None, list(values), type_=ARRAY(column.type)))  # type: ignore[no-any-return]
    return column.in_(list(values))  # type: ignore[no-any-return]


def write(session: Session, rows: Iterable[BatchRow]) -> int:
    """Write every changed column of ``rows``, one statement per set of columns changed, in id
    order (the rows are locked by this transaction already): ``UPDATE … FROM unnest(arrays)``
    on PostgreSQL, an executemany UPDATE on SQLite. Returns how many rows changed."""
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
    for row in sorted(rows, key=lambda r: r.id):
        names = tuple(sorted(row.changes - {"id"}))
        if names:
            values = row.__dict__
            groups[names].append({"_id": row.id, **{name: values[name] for name in names}})
            row.changes.clear()
    connection = session.connection()
    for names, params in groups.items():
        if connection.dialect.name == "postgresql":
            _update_from_arrays(connection, names, params)
        else:
            connection.execute(update(TABLE).where(TABLE.c.id == bindparam("_id")), params)
    return sum(len(params) for params in groups.values())


def _update_from_arrays(connection: Connection, names: tuple[str, ...], params: list[dict[str, Any]]) -> None:
    """One UPDATE for a group: a value every row shares is one parameter, the others one array
    each, joined by id (``unnest``); a few parameters whatever the batch's size, so psycopg
    parses the statement once, and one round trip instead of one per row."""
    assignments: list[str] = []
    columns, arrays = ["_id"], ["%(_id)s::bigint[]"]
    values: dict[str, Any] = {"_id": [p["_id"] for p in params]}
    for name in names:
        column = TABLE.c[name]
        json_column = isinstance(column.type, JSON)
        found = [_bound(p[name], json_column) for p in params]
        cast = "::json" if json_column else ""
        if all(value == found[0] for value in found):
            assignments.append(f"{name} = %({name})s{cast}")
            values[name] = found[0]
            continue
        element = "text" if json_column else column.type.compile(dialect=connection.dialect)
        assignments.append(f"{name} = v.{name}{cast}")
        columns.append(name)
        arrays.append(f"%({name})s::{element}[]")
        values[name] = found
    connection.exec_driver_sql(
        f"UPDATE {TABLE.name} SET {', '.join(assignments)} "  # names: our columns'
        f"FROM unnest({', '.join(arrays)}) AS v({', '.join(columns)}) WHERE {TABLE.name}.id = v._id",
        values,
    )


def _bound(value: Any, json_column: bool) -> Any:
    """A value as psycopg binds it: JSON as its text (SQL NULL stays NULL), datetimes in UTC."""
    if json_column:
        return None if value is None else json.dumps(value)
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; give a timezone")
        return value.astimezone(UTC)
    return value
