from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from carepath.store.models import OutboxRow, Pregnancy
from carepath.store.wakeups import wake_due
from tests.conftest import NOW
from tests.webapi.conftest import Api, diagnosis, registration


def test_tick_evaluates_due_pregnancies_once(api: Api, app: Any) -> None:
    assert api.post("/api/v1/events", registration()).status_code == 201
    assert api.post("/api/v1/events", diagnosis()).status_code == 201
    db = app.extensions["carepath.db"]
    with db.reading() as session:
        wakeup = session.scalar(select(Pregnancy.next_wakeup))
        before = session.scalar(select(func.count()).select_from(OutboxRow))
    assert wakeup is not None and wakeup > NOW
    assert wake_due(db, NOW) == []  # nothing due yet
    later = wakeup + timedelta(minutes=1)
    woken = wake_due(db, later)
    assert len(woken) == 1
    with db.reading() as session:
        after = session.scalar(select(func.count()).select_from(OutboxRow))
        moved = session.scalar(select(Pregnancy.next_wakeup))
    assert after >= before
    assert moved is None or moved > later
    assert wake_due(db, later) == []  # the same tick again finds nothing due
