"""Issue 22 item 1: a batch's statements do not grow with its events.

A chunk of ongoing care events is decided event by event, then written together: states,
enrolments, outbox rows, tasks and tag log by ``evaluation.persist_many``, the events' own
records (diagnoses, responses, datings) one statement per table, answers and audit rows one
each. So 8 women's lab, visit, diagnosis and form send the statements 2 women's do.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event as sa_event

from tests.conftest import resident_id
from tests.store.test_batch import _care_events
from tests.webapi.conftest import Api, diagnosis, registration


def _statements(api: Api, app: Any, women: list[str]) -> tuple[int, list[dict[str, Any]]]:
    items = [event for his_id in women for event in _care_events(his_id)]
    seen: list[str] = []

    def listener(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    engine = app.extensions["carepath.db"].engine
    sa_event.listen(engine, "before_cursor_execute", listener)
    try:
        response = api.post("/api/v1/events:batch", {"events": items})
    finally:
        sa_event.remove(engine, "before_cursor_execute", listener)
    return len(seen), response.get_json()["results"]


def test_a_batch_of_8_women_sends_the_statements_of_2(api: Api, app: Any) -> None:
    names = [f"w{n}" for n in range(10)]
    for number, his_id in enumerate(names):
        event = registration(his_id, f"reg-{his_id}", id_number=resident_id(number))
        assert api.post("/api/v1/events", event).status_code == 201
    few, answered = _statements(api, app, names[:2])
    many, answered_many = _statements(api, app, names[2:])
    assert [r["status"] for r in answered + answered_many] == [201] * 40
    assert many == few, (few, many)


def test_a_diagnosis_added_and_removed_in_one_batch_ends_removed(api: Api, app: Any) -> None:
    from sqlalchemy import select

    from carepath.store.models import Diagnosis

    assert api.post("/api/v1/events", registration()).status_code == 201
    added = {**diagnosis(), "occurred_at": "2026-07-10T14:30:00+08:00"}
    removed = {
        **added,
        "id": "dx-gone",
        "type": "diagnosis.removed",
        "occurred_at": "2026-07-10T14:35:00+08:00",
    }
    removed["data"] = {"code": "O24.401"}
    results = api.post("/api/v1/events:batch", {"events": [added, removed]}).get_json()["results"]
    assert [r["status"] for r in results] == [201, 201]
    with app.extensions["carepath.db"].reading() as session:
        rows = session.execute(select(Diagnosis.code, Diagnosis.removed_at)).all()
    assert [(code, removed_at is not None) for code, removed_at in rows] == [("O24.401", True)]
