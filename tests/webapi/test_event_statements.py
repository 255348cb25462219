"""Issue 22 item 3: the SQL statements one HIS event costs, counted per kind on both databases.

A SQLAlchemy ``before_cursor_execute`` listener sees every statement the request sends; the
nonce claim, the audit row and the transaction's own BEGIN/COMMIT/SAVEPOINT are counted apart
(they are the price of "Trust first", not of the event). A count is not a timing: it is exact
on both databases, so a change that adds a read to every event shows here.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import event as sa_event

from tests.webapi.conftest import Api, registration
from tests.webapi.test_openapi_document import SAMPLES

#: The kinds the HIS sends for a registered woman, in the order they are posted (each a minute
#: after the one before: none is backdated), and the statements each sends besides the nonce,
#: the audit row and BEGIN/COMMIT. The event row (insert, then its answer), her patient and
#: pregnancy (one read) and her new state are 4; each kind of row the evaluation or the event
#: writes (outbox, enrolments, tag log, tasks, diagnoses, datings, responses) adds one.
EXPECTED = {
    "lab.result": 4,  # nothing fired: the event row twice, her rows, her state
    "encounter.completed": 4,
    "appointment.booked": 4,
    "diagnosis.added": 9,  # + the hospital's ICD-10 catalogue, the diagnosis, and what the GDM pathway starts
    "tag.added": 5,  # + its tag-log line
    "questionnaire.submitted": 5,  # + the response
    "dating.ultrasound": 5,  # + the dating record
    "medication.prescribed": 4,
    "diagnosis.removed": 5,  # + the diagnosis it ends (one UPDATE, no read first)
    "tag.removed": 5,
    "patient.updated": 5,
}


@dataclass
class Counter:
    statements: list[str] = field(default_factory=list)

    def __call__(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        self.statements.append(" ".join(statement.split()))

    def others(self) -> list[str]:
        return [s for s in self.statements if not _apart(s)]


def _apart(statement: str) -> bool:
    first = statement.split(" ", 1)[0].upper()
    if first in ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE"):
        return True
    return "request_nonces" in statement or "audit_log" in statement


@pytest.fixture
def counter(app: Any) -> Iterator[Counter]:
    engine = app.extensions["carepath.db"].engine
    counting = Counter()
    sa_event.listen(engine, "before_cursor_execute", counting)
    yield counting
    sa_event.remove(engine, "before_cursor_execute", counting)


def _event(n: int, kind: str, his_id: str = "p-001") -> dict[str, Any]:
    return {
        "id": f"ev-{n}",
        "type": kind,
        "occurred_at": f"2026-07-10T14:{10 + n:02d}:00+08:00",
        "patient": {"his_id": his_id},
        "data": SAMPLES[kind][0],
    }


def test_each_kind_sends_its_few_statements(api: Api, counter: Counter) -> None:
    assert api.post("/api/v1/events", registration()).status_code == 201
    warm = _event(0, "lab.result")  # the first event of a process reads the key, library, settings
    assert api.post("/api/v1/events", warm).status_code == 201
    sent = {}
    for n, kind in enumerate(EXPECTED, start=1):
        counter.statements.clear()
        response = api.post("/api/v1/events", _event(n, kind))
        assert response.status_code == 201, (kind, response.get_json())
        sent[kind] = counter.others()
    assert {kind: len(s) for kind, s in sent.items()} == EXPECTED, sent
    # The item's bound: an event that fires nothing sends at most 5 besides the nonce and audit.
    assert all(len(sent[kind]) <= 5 for kind in ("lab.result", "encounter.completed", "appointment.booked"))


def test_a_replay_and_an_unknown_woman_cost_two(api: Api, counter: Counter) -> None:
    assert api.post("/api/v1/events", registration()).status_code == 201
    event = _event(1, "lab.result")
    assert api.post("/api/v1/events", event).status_code == 201
    counter.statements.clear()
    assert api.post("/api/v1/events", event).status_code == 200
    assert len(counter.others()) == 2, counter.others()  # the insert that finds it, the stored answer


def test_a_new_womans_registration(api: Api, counter: Counter) -> None:
    assert api.post("/api/v1/events", registration()).status_code == 201  # her hospital's first
    counter.statements.clear()
    second = registration("p-002", "reg-002", id_number="330102199004120049")
    response = api.post("/api/v1/events", second)
    assert response.status_code == 201, response.get_json()
    # The event row twice, her patient (one read by HIS id or ID number) and its insert, her
    # team, her pregnancy, her care row and its change log, enrolments, outbox rows, datings.
    assert len(counter.others()) == 11, counter.others()


def test_an_event_is_one_checkout_and_one_commit_its_nonce_included(api: Api, app: Any) -> None:
    """Issue 22: the nonce is claimed in the event's own transaction, not in one of its own
    (a second connection checkout, pre-ping and commit per event)."""
    assert api.post("/api/v1/events", registration()).status_code == 201
    assert api.post("/api/v1/events", _event(0, "lab.result")).status_code == 201  # warm
    engine = app.extensions["carepath.db"].engine
    seen: list[str] = []
    listeners = {name: (lambda *args, name=name: seen.append(name)) for name in ("checkout", "commit")}
    for name, listener in listeners.items():
        sa_event.listen(engine if name == "commit" else engine.pool, name, listener)
    try:
        response = api.post("/api/v1/events", _event(1, "lab.result"))
    finally:
        for name, listener in listeners.items():
            sa_event.remove(engine if name == "commit" else engine.pool, name, listener)
    assert response.status_code == 201, response.get_json()
    assert sorted(seen) == ["checkout", "commit"]
