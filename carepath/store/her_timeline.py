"""The newest entries of her timeline, for her record's page (``her_record.py``).

The API's timeline (``timeline.py``) answers every entry of her pregnancy, which an integrator
exporting it wants; a page a nurse opens many times a day needs the newest ones, fast, however
long her history. So each kind is read newest first with a ``LIMIT`` (one query a kind, never
one per entry), only the columns shown, and the kinds merged: the newest ``limit`` entries of
all kinds are among the newest ``limit`` of each. The entries have the timeline's shape
(``timeline.action_entry`` for actions), so the page reads either.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from carepath.engine.form_scoring import score
from carepath.store.form_answers import forms
from carepath.store.models import (
    EnrolmentRecord,
    EventRecord,
    InboxItem,
    OutboxRow,
    QuestionnaireResponse,
    StaffTask,
    TagLog,
)
from carepath.store.timeline import IDENTITY_KEYS, KINDS, action_entry, withdrawn_copies

#: Timeline entries the record shows (the newest); the API's timeline has them all.
SHOWN = 200


@dataclass(frozen=True)
class Newest:
    """Her newest entries, oldest first, and the outbox rows behind the action entries."""

    entries: list[dict[str, Any]]
    rows: dict[int, OutboxRow]
    more: bool  # some older entries are not shown


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def event_entry(row: Any) -> dict[str, Any]:
    return {
        "at": row.occurred_at.isoformat(),
        "kind": "event",
        "id": row.event_id,
        "type": row.type,
        "received_at": row.received_at.isoformat(),
        "data": {k: v for k, v in (row.data or {}).items() if k not in IDENTITY_KEYS},
    }


def events_of(
    session: Session, pregnancy_id: str, types: tuple[str, ...], limit: int
) -> list[dict[str, Any]]:
    """Her newest events of ``types`` as timeline entries, oldest first."""
    found = session.execute(
        select(
            EventRecord.event_id,
            EventRecord.type,
            EventRecord.occurred_at,
            EventRecord.received_at,
            EventRecord.data,
        )
        .where(EventRecord.pregnancy_id == pregnancy_id, EventRecord.type.in_(types))
        .order_by(EventRecord.occurred_at.desc(), EventRecord.id.desc())
        .limit(limit)
    ).all()
    return [event_entry(row) for row in reversed(found)]


def newest(session: Session, pregnancy_id: str, limit: int = SHOWN) -> Newest:
    """Her newest ``limit`` entries of every kind (see the module)."""
    entries: list[tuple[datetime, int, int, dict[str, Any]]] = []

    def add(at: datetime, kind: str, key: int, entry: dict[str, Any]) -> None:
        entries.append((at, KINDS.index(kind), key, entry))

    for row in session.execute(
        select(
            EventRecord.id,
            EventRecord.event_id,
            EventRecord.type,
            EventRecord.occurred_at,
            EventRecord.received_at,
            EventRecord.data,
        )
        .where(EventRecord.pregnancy_id == pregnancy_id)
        .order_by(EventRecord.occurred_at.desc(), EventRecord.id.desc())
        .limit(limit)
    ):
        add(row.occurred_at, "event", row.id, event_entry(row))
    for enrolment in session.scalars(
        select(EnrolmentRecord).where(EnrolmentRecord.pregnancy_id == pregnancy_id)
    ):
        add(
            enrolment.started_at,
            "enrolment",
            0,
            {
                "at": enrolment.started_at.isoformat(),
                "kind": "enrolment",
                "pathway": enrolment.pathway_id,
                "version": enrolment.version,
                "ended_at": _iso(enrolment.ended_at),
                "reason": enrolment.reason,
            },
        )
    for tag in session.scalars(
        select(TagLog)
        .where(TagLog.pregnancy_id == pregnancy_id)
        .order_by(TagLog.at.desc(), TagLog.id.desc())
        .limit(limit)
    ):
        add(
            tag.at,
            "tag",
            tag.id,
            {
                "at": tag.at.isoformat(),
                "kind": "tag",
                "tag": tag.tag,
                "operation": tag.operation,
                "by": tag.by,
                "why": tag.why,
            },
        )
    rows: dict[int, OutboxRow] = {
        outbox.id: outbox
        for outbox in session.scalars(
            select(OutboxRow)
            .where(OutboxRow.pregnancy_id == pregnancy_id)
            .order_by(OutboxRow.due_at.desc(), OutboxRow.id.desc())
            .limit(limit)
        )
    }
    keys = [action.dedupe_key for action in rows.values()]
    withdrawn = withdrawn_copies(session, InboxItem.dedupe_key.in_(keys)) if keys else {}
    for action in rows.values():
        add(action.due_at, "action", action.id, action_entry(action, withdrawn.get(action.dedupe_key)))
    known = forms()
    for response in session.scalars(
        select(QuestionnaireResponse)
        .where(QuestionnaireResponse.pregnancy_id == pregnancy_id)
        .order_by(QuestionnaireResponse.submitted_at.desc(), QuestionnaireResponse.id.desc())
        .limit(limit)
    ):
        add(
            response.submitted_at,
            "response",
            response.id,
            {
                "at": response.submitted_at.isoformat(),
                "kind": "response",
                "id": response.id,
                "form": response.form,
                "score": response.score or _scored(known, response),
            },
        )
    for task in session.scalars(
        select(StaffTask)
        .where(StaffTask.pregnancy_id == pregnancy_id)
        .order_by(StaffTask.created_at.desc(), StaffTask.id.desc())
        .limit(limit)
    ):
        add(
            task.created_at,
            "task",
            task.id,
            {
                "at": task.created_at.isoformat(),
                "kind": "task",
                "id": task.id,
                "title": task.title,
                "assign": task.assign,
                "priority": task.priority,
                "status": task.status,
                "due_at": _iso(task.due_at),
                "claimed_by": task.claimed_by,
                "outcome": task.outcome,
                "done_at": _iso(task.done_at),
            },
        )
    entries.sort(key=lambda e: (e[0], e[1], e[2]))
    kept = entries[-limit:]
    return Newest([entry for *_, entry in kept], rows, more=len(entries) > limit)


def _scored(known: dict[str, Any], response: QuestionnaireResponse) -> dict[str, Any] | None:
    """A response posted as an event has no stored score: scored by its form here."""
    form = known.get(response.form)
    if form is None:
        return None
    result = score(form, response.answers)
    return {
        "total": result.total,
        "max_total": result.max_total,
        "band": result.band,
        "band_label": result.band_label,
        "complete": result.complete,
        "flags": list(result.flags),
    }
