"""Clock ticks: evaluate the pregnancies whose ``next_wakeup`` has come.

The scheduler's sweep calls ``wake_due`` inside the app context. It walks the due pregnancies
through the ``next_wakeup`` index in batches, keyset-paged on ``(next_wakeup, id)`` so a sweep
never rereads what it has passed; each batch is one transaction with its rows locked
(``FOR NO KEY UPDATE SKIP LOCKED`` on PostgreSQL, so a second sweep skips them; SQLite
serialises writers with ``BEGIN IMMEDIATE``). *No key*: the sweep never changes a pregnancy's
id, and a plain ``FOR UPDATE`` also conflicts with the ``KEY SHARE`` lock that every foreign-key
check on a row naming her takes — a dispatcher filing her inbox copy waited for the sweep's
whole page (docs/scale.md, the dispatcher's second pass), and a sweep skipped her while a
dispatcher's claim held that lock. A batch is decided first, each pregnancy on its own (the
engine is pure; a pregnancy whose decision fails is logged, keeps its wake-up and is retried at
the next sweep), then written together by ``evaluation.persist_many`` in one savepoint: states,
stored colour and EDD, enrolments, outbox rows, tasks in a few statements instead of a savepoint
and a flush per woman (issue 22 item 1). If that write fails as a whole, the batch is written
again one savepoint per pregnancy, so only the one that cannot be written keeps its wake-up.
The dedupe keys make a repeated tick harmless. A sweep costs what is due, not what is enrolled:
pregnancies not yet due are never read.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from carepath.store import evaluation
from carepath.store.db import Database
from carepath.store.models import Pregnancy
from carepath.store.pathways import covering, library_for

log = logging.getLogger(__name__)


def wake_due(db: Database, now: datetime, batch: int = 200, limit: int | None = None) -> list[str]:
    """Evaluate the pregnancies due at ``now`` (at most ``limit``, default all), ``batch`` per
    transaction; returns the ids evaluated."""
    if now.tzinfo is None:
        raise ValueError("wake_due needs a timezone-aware now")
    woken: list[str] = []
    cursor: tuple[datetime, str] | None = None
    while limit is None or len(woken) < limit:
        size = batch if limit is None else min(batch, limit - len(woken))
        with db.transaction() as session:
            query = select(Pregnancy).where(Pregnancy.next_wakeup <= now)
            if cursor is not None:
                at, last_id = cursor
                query = query.where(
                    or_(Pregnancy.next_wakeup > at, and_(Pregnancy.next_wakeup == at, Pregnancy.id > last_id))
                )
            rows = list(
                session.scalars(
                    query.order_by(Pregnancy.next_wakeup, Pregnancy.id)
                    .limit(size)
                    .with_for_update(skip_locked=True, key_share=True)  # FOR NO KEY UPDATE
                )
            )
            if not rows:
                break
            last = rows[-1]
            assert last.next_wakeup is not None
            cursor = (last.next_wakeup, last.id)
            woken += _write(session, _decide(session, rows, now), now)
        if len(rows) < size:
            break
    return woken


def _decide(session: Session, rows: list[Pregnancy], now: datetime) -> list[evaluation.Decision]:
    """Each pregnancy's clock tick decided, nothing written; a failure is hers alone."""
    decisions = []
    for pregnancy in rows:
        try:
            state = evaluation.load(pregnancy)
            library = covering(
                session, pregnancy.hospital_id, library_for(session, pregnancy.hospital_id), state
            )
            decided = evaluation.decide_for(session, pregnancy.hospital_id, library, state, None, now=now)
        except Exception:
            log.exception("wake-up of pregnancy %s failed; retried at the next sweep", pregnancy.id)
            continue
        decisions.append(evaluation.Decision(pregnancy, state, decided))
    return decisions


def _write(session: Session, decisions: list[evaluation.Decision], now: datetime) -> list[str]:
    """The batch's decisions in one savepoint; if that fails, each in its own."""
    try:
        with session.begin_nested():
            evaluation.persist_many(session, decisions, now)
        return [decision.pregnancy.id for decision in decisions]
    except Exception:
        log.warning("a sweep batch of %d could not be written together; writing each alone", len(decisions))
    written = []
    for decision in decisions:
        try:
            with session.begin_nested():
                evaluation.persist_many(session, [decision], now)
        except Exception:
            log.exception("wake-up of pregnancy %s failed; retried at the next sweep", decision.pregnancy.id)
            continue
        written.append(decision.pregnancy.id)
    return written
