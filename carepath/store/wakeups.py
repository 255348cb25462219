"""Clock ticks: evaluate the pregnancies whose ``next_wakeup`` has come.

The scheduler's sweep calls ``wake_due`` inside the app context; each pregnancy is its own
transaction with its row locked, so a sweep running twice (two processes) evaluates each
once at a time, and the dedupe keys make a repeated tick harmless.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from carepath.store import evaluation
from carepath.store.db import Database
from carepath.store.models import Pregnancy
from carepath.store.pathways import library_for


def wake_due(db: Database, now: datetime, limit: int = 500) -> list[str]:
    """Evaluate up to ``limit`` due pregnancies at ``now``; returns the ids evaluated."""
    with db.reading() as session:
        due = evaluation.due_for_wakeup(session, now, limit)
    woken = []
    for pregnancy_id in due:
        with db.transaction() as session:
            pregnancy = session.scalar(
                select(Pregnancy)
                .where(Pregnancy.id == pregnancy_id, Pregnancy.next_wakeup <= now)
                .with_for_update(skip_locked=True)
            )
            if pregnancy is None:
                continue  # another sweep took it, or an event moved its wake-up
            library = library_for(session, pregnancy.hospital_id)
            state = evaluation.load(pregnancy)
            evaluation.evaluate_pregnancy(session, library, pregnancy, state, None, now=now)
            woken.append(pregnancy_id)
    return woken
