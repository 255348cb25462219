"""Running a batch action (``cohort_batches.py``): in pages, each page's work, counters and
cursor in one transaction, by the runner that holds the batch's claim. docs/batch-actions.md.

A runner claims the batch for ``CLAIM`` and renews the claim with every page; only the
holder may run a page (checked under the row's lock), so two runners never work one batch. A
crashed runner's claim expires; ``stalled`` finds its batch and the next runner goes on from
the cursor (the last pregnancy id done, in the cohort's order). A page run again changes
nothing: events answer as replays, pushes meet their unique dedupe keys.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import String, insert, literal, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from carepath.store import events, record_actions
from carepath.store.cohort_batches import cohort_of, query_of, received_rows
from carepath.store.crypto import FieldCipher
from carepath.store.db import Database
from carepath.store.her_record import find_pregnancy
from carepath.store.models import AuditEntry, EnrolmentRecord, OutboxRow, Pregnancy
from carepath.store.models_batches import CohortBatch
from carepath.store.record_actions import RecordActionError
from carepath.store.scope import Actor

#: Women per transaction: an event is one evaluation each; a push page is set statements.
EVENT_PAGE = 200
PUSH_PAGE = 2000
CLAIM = timedelta(seconds=60)


def claim(db: Database, batch_id: int, worker: str, now: datetime) -> bool:
    """Take the batch for ``worker`` when it runs and nobody's claim holds (or it is ours)."""
    with db.transaction() as session:
        result = session.execute(
            update(CohortBatch)
            .where(
                CohortBatch.id == batch_id,
                CohortBatch.state == "running",
                or_(
                    CohortBatch.claimed_by.is_(None),
                    CohortBatch.claimed_by == worker,
                    CohortBatch.claimed_until < now,
                ),
            )
            .values(claimed_by=worker, claimed_until=now + CLAIM)
            .execution_options(synchronize_session=False)
        )
        return bool(getattr(result, "rowcount", 0))


def _actor(batch: CohortBatch) -> Actor:
    return Actor(batch.hospital_id, "staff", str(batch.staff_id), batch.remote_addr)


def run_page(db: Database, cipher: FieldCipher, batch_id: int, worker: str, now: datetime) -> bool:
    """One page of the batch, if ``worker`` still holds it; True while more remain."""

    def work(session: Session) -> bool:
        batch = session.get(CohortBatch, batch_id, with_for_update=True)
        if batch is None or batch.state != "running" or batch.claimed_by != worker:
            return False
        actor = _actor(batch)
        statement = cohort_of(session, cipher, actor, query_of(batch.cohort_filter), now)
        if batch.cursor is not None:
            statement = statement.where(Pregnancy.id > batch.cursor)
        page = PUSH_PAGE if batch.action == "push" else EVENT_PAGE
        ids = list(session.scalars(statement.limit(page)))
        if not ids:
            batch.state, batch.finished_at, batch.claimed_by, batch.claimed_until = "done", now, None, None
            batch.updated_at = now
            return False
        if batch.action == "push":
            done, skipped, failed = _push(session, batch, actor, ids, now), 0, 0
            skipped = len(ids) - done
        else:
            done, skipped, failed = _events(session, cipher, batch, actor, ids, now=now)
        batch = session.get(CohortBatch, batch_id)  # a rolled-back savepoint expired it
        assert batch is not None
        batch.done, batch.skipped, batch.failed = (
            batch.done + done,
            batch.skipped + skipped,
            batch.failed + failed,
        )
        batch.cursor, batch.updated_at, batch.claimed_until = ids[-1], now, now + CLAIM
        return True

    return events.retrying(db, work)


def batch_key(batch: CohortBatch) -> str:
    """The dedupe key after the pregnancy id (``<pregnancy>`` + this)."""
    return f"/manual@1/batch-{batch.id}/{batch.target}@{batch.content_version}/0"


def _plain(value: Any) -> bool:
    return isinstance(value, (str, int, dict, list, datetime))


def _push(session: Session, batch: CohortBatch, actor: Actor, ids: list[str], now: datetime) -> int:
    """The page's pushes in one statement, skipping who has the item version; their audit
    lines in a second. Returns how many were enqueued."""
    table = OutboxRow.__table__.c
    values = record_actions.manual_push(
        Pregnancy.hospital_id,
        Pregnancy.id,
        dedupe_key=Pregnancy.id + literal(batch_key(batch), String),
        content=batch.target,
        why=f"batch {batch.id} by {actor.label}: {batch.reason}",
        now=now,
    )
    # plain values become typed literals of the page's SELECT; the rest are its columns
    selected = [literal(v, table[k].type) if _plain(v) else v for k, v in values.items()]
    upsert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    # who has the item already, read through her outbox rows' index (a correlated NOT EXISTS
    # let PostgreSQL scan the whole outbox for every page: 139 s instead of seconds for 20k)
    have = set(
        session.scalars(
            select(OutboxRow.pregnancy_id)
            .where(OutboxRow.pregnancy_id.in_(ids), *received_rows(batch.target, batch.content_version or ""))
            .distinct()
        )
    )
    source = select(*selected).where(Pregnancy.id.in_([i for i in ids if i not in have]))
    sent = list(
        session.scalars(
            upsert(OutboxRow)
            .from_select(list(values), source)
            .on_conflict_do_nothing()
            .returning(OutboxRow.pregnancy_id)
        )
    )
    if sent:
        detail = f"batch {batch.id}: sent {batch.target} now: {batch.reason}"[:2000]
        session.execute(
            insert(AuditEntry).from_select(
                [
                    "hospital_id",
                    "actor",
                    "action",
                    "patient_id",
                    "pregnancy_id",
                    "detail",
                    "remote_addr",
                    "at",
                    "count",
                ],
                select(
                    literal(actor.hospital_id),
                    literal(actor.label),
                    literal("change"),
                    Pregnancy.patient_id,
                    Pregnancy.id,
                    literal(detail),
                    literal(actor.remote_addr, String),
                    literal(now, AuditEntry.__table__.c.at.type),
                    literal(1),
                ).where(Pregnancy.id.in_(sent)),
            )
        )
    return len(sent)


def _events(
    session: Session, cipher: FieldCipher, batch: CohortBatch, actor: Actor, ids: list[str], *, now: datetime
) -> tuple[int, int, int]:
    """Each woman's event, as her record records it; one woman's refusal (her state refused the
    change) is counted, and the page goes on."""
    if batch.action == "tag":
        change = record_actions.tag_change(actor, batch.target, add=True, reason=batch.reason)
    else:
        change = record_actions.plan_change(actor, batch.target, enrol=True, reason=batch.reason)
    enrolled = (
        set(
            session.scalars(
                select(EnrolmentRecord.pregnancy_id).where(
                    EnrolmentRecord.pregnancy_id.in_(ids),
                    EnrolmentRecord.pathway_id == batch.target,
                    EnrolmentRecord.ended_at.is_(None),
                )
            )
        )
        if batch.action == "enrol"
        else set()
    )
    batch_id, target, action = batch.id, batch.target, batch.action
    done = skipped = failed = 0
    for pregnancy_id in ids:
        pregnancy, patient = find_pregnancy(session, actor, pregnancy_id, now)
        has = target in pregnancy.state.get("facts", {}).get("tags", []) if action == "tag" else False
        if has or pregnancy_id in enrolled:
            skipped += 1
            continue
        try:
            with session.begin_nested():
                replay = record_actions.record_event(
                    session,
                    cipher,
                    actor,
                    pregnancy,
                    patient,
                    event_id=f"batch-{batch_id}-{pregnancy_id}",
                    kind=change.kind,
                    data=change.data,
                    now=now,
                    detail=f"batch {batch_id}: {change.detail}",
                    after=change.after,
                )
        except RecordActionError:
            failed += 1
            continue
        skipped, done = (skipped + 1, done) if replay else (skipped, done + 1)
    return done, skipped, failed


def run(db: Database, cipher: FieldCipher, batch_id: int, worker: str, clock: Callable[[], datetime]) -> str:
    """Claim the batch and run it page by page to its end; its state when this runner stops
    (``running``: another runner holds it, or this one lost its claim)."""
    if claim(db, batch_id, worker, clock()):
        while run_page(db, cipher, batch_id, worker, clock()):
            pass
    with db.reading() as session:
        return str(session.scalar(select(CohortBatch.state).where(CohortBatch.id == batch_id)))


def release(db: Database, batch_id: int, worker: str, error: str, now: datetime) -> None:
    """A runner that failed lets go at once (the next look at the batch resumes it)."""
    with db.transaction() as session:
        session.execute(
            update(CohortBatch)
            .where(CohortBatch.id == batch_id, CohortBatch.claimed_by == worker)
            .values(claimed_by=None, claimed_until=None, last_error=error[:2000], updated_at=now)
        )


def stalled(db: Database, hospital_id: str, now: datetime) -> list[int]:
    """The hospital's running batches nobody's claim holds: crashed runners' (resume them)."""
    with db.reading() as session:
        return list(
            session.scalars(
                select(CohortBatch.id).where(
                    CohortBatch.hospital_id == hospital_id,
                    CohortBatch.state == "running",
                    or_(CohortBatch.claimed_until.is_(None), CohortBatch.claimed_until < now),
                )
            )
        )
