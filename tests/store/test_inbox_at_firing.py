"""Issue 16 item 11 in the store: a message to her that fires outside the send window is due
(her inbox copy) when it fires; its external notice waits for the time the engine placed it at."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from carepath.store.models import OutboxRow
from tests.conftest import NOW
from tests.webapi.conftest import Api, registration

NIGHT = NOW.replace(hour=15, minute=10)  # 23:10 in Shanghai: outside 09:00-20:00
OPENING = NOW.replace(hour=1, minute=0) + timedelta(days=1)  # 09:00 the next day


def test_a_message_fired_at_night_is_due_then_and_its_notice_waits(api: Api, app: Any) -> None:
    api.clock.now = NIGHT
    assert api.post("/api/v1/events", registration()).status_code == 201
    with app.extensions["carepath.db"].reading() as session:
        found = session.execute(
            select(OutboxRow.kind, OutboxRow.due_at, OutboxRow.next_attempt_at, OutboxRow.status_reason)
        ).all()
    to_her = [row for row in found if row.kind in ("push", "remind", "questionnaire") and row.due_at <= NIGHT]
    assert to_her, "registration sends her something at once"
    assert {(r.due_at, r.next_attempt_at, r.status_reason) for r in to_her} == {
        (NIGHT, OPENING, "outside-window")
    }
