"""Issue 22: an HIS event locks her pregnancy ``FOR NO KEY UPDATE``, which does not conflict
with the ``KEY SHARE`` lock that a dispatcher's claim holds on it while filing her inbox copy
(the foreign-key check of the new row). A plain ``FOR UPDATE`` made each wait for the other.
The sweep's side is in ``test_wakeups.py``."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from sqlalchemy import select

from carepath.store.models import Pregnancy
from tests.store.test_wakeups import file_her_copy
from tests.webapi.conftest import Api, diagnosis, registration

#: How long the event may take before it counts as waiting for the claim: a guard against a
#: hang, not a figure (the event takes milliseconds when nothing blocks it).
PATIENCE_SECONDS = 30


def test_an_event_for_her_does_not_wait_for_a_claim_filing_her_inbox_copy(api: Api, app: Any) -> None:
    assert api.post("/api/v1/events", registration()).status_code == 201
    db = app.extensions["carepath.db"]
    if db.engine.dialect.name != "postgresql":
        pytest.skip("row locks are PostgreSQL's; SQLite serialises writers")
    with db.reading() as session:
        pregnancy_id, hospital_id = session.execute(select(Pregnancy.id, Pregnancy.hospital_id)).one()
    statuses: list[int] = []
    with db.engine.connect() as dispatcher:  # a claim in progress: her copy filed, not committed
        file_her_copy(dispatcher, hospital_id, pregnancy_id)
        event = threading.Thread(
            target=lambda: statuses.append(api.post("/api/v1/events", diagnosis()).status_code)
        )
        event.start()
        event.join(PATIENCE_SECONDS)
        waited = event.is_alive()
        dispatcher.rollback()  # the claim ends either way, so a waiting event finishes
        event.join()
    assert not waited
    assert statuses == [201]
