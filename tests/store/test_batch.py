"""Batches: the grouped path answers exactly as single events would, item by item."""

from __future__ import annotations

import copy
from typing import Any

from sqlalchemy import select

from carepath.store.models import OutboxRow, Pregnancy
from tests.conftest import resident_id
from tests.webapi.conftest import Api, counts, diagnosis, registration


def _care_events(his_id: str) -> list[dict[str, Any]]:
    base = {"patient": {"his_id": his_id}, "occurred_at": "2026-07-10T14:40:00+08:00"}
    return [
        {**base, "id": f"{his_id}-lab", "type": "lab.result", "data": {"code": "hb", "value": 98}},
        {**base, "id": f"{his_id}-visit", "type": "encounter.completed", "data": {"kind": "anc-contact"}},
        {**diagnosis(his_id, f"{his_id}-dx"), "occurred_at": "2026-07-10T14:45:00+08:00"},
        {
            **base,
            "id": f"{his_id}-form",
            "type": "questionnaire.submitted",
            "occurred_at": "2026-07-10T14:50:00+08:00",
            "data": {"form": "gdm-glucose-log", "answers": {"fasting_glucose": 5.6, "postprandial_2h": 6.5}},
        },
    ]


def _keys(answer: dict[str, Any]) -> list[str]:
    pregnancy = answer["pregnancy"]
    his_id = answer["patient"]
    return [a["dedupe_key"].replace(pregnancy, "P").replace(f"/{his_id}-", "/X-") for a in answer["actions"]]


def test_grouped_batch_decides_what_single_events_decide(api: Api, app: Any) -> None:
    for number, his_id in enumerate(("one", "two")):
        event = registration(his_id, f"reg-{his_id}", id_number=resident_id(number))
        assert api.post("/api/v1/events", event).status_code == 201
    singles = [api.post("/api/v1/events", e).get_json() for e in _care_events("one")]
    response = api.post("/api/v1/events:batch", {"events": _care_events("two")})
    results = response.get_json()["results"]
    assert [r["status"] for r in results] == [201] * 4
    assert [_keys(r["result"]) for r in results] == [_keys(s) for s in singles]
    with app.extensions["carepath.db"].reading() as session:
        states = {p.id: p.state["facts"] for p in session.scalars(select(Pregnancy))}
    one, two = (results[0]["result"]["pregnancy"], singles[0]["pregnancy"])
    assert {k: v for k, v in states[one].items() if k != "pregnancy_id"} == {
        k: v for k, v in states[two].items() if k != "pregnancy_id"
    }


def test_batch_replayed_answers_200_and_changes_nothing(api: Api, app: Any) -> None:
    assert api.post("/api/v1/events", registration()).status_code == 201
    batch = {"events": _care_events("p-001")}
    first = api.post("/api/v1/events:batch", batch).get_json()["results"]
    before = counts(app)
    again = api.post("/api/v1/events:batch", batch).get_json()["results"]
    assert [r["status"] for r in again] == [200] * 4
    assert [r["result"] for r in again] == [r["result"] for r in first]
    assert counts(app) == before


def test_duplicates_inside_one_batch(api: Api, app: Any) -> None:
    assert api.post("/api/v1/events", registration()).status_code == 201
    events = _care_events("p-001")[:1]
    changed = copy.deepcopy(events[0])
    changed["data"]["value"] = 99
    results = api.post("/api/v1/events:batch", {"events": [events[0], events[0], changed]}).get_json()[
        "results"
    ]
    assert [r["status"] for r in results] == [201, 200, 409]
    assert results[1]["result"] == results[0]["result"]
    assert counts(app)["events"] == 2


def test_unknown_patient_and_bad_item_do_not_stop_the_others(api: Api, app: Any) -> None:
    assert api.post("/api/v1/events", registration()).status_code == 201
    events = _care_events("p-001")
    stranger = _care_events("stranger")[0]
    broken = {**events[1], "id": "broken", "occurred_at": "soon"}
    results = api.post(
        "/api/v1/events:batch", {"events": [events[0], stranger, broken, events[2]]}
    ).get_json()["results"]
    assert [r["status"] for r in results] == [201, 422, 422, 201]
    assert results[1]["problem"]["code"] == "unknown-patient"
    assert [r["index"] for r in results] == [0, 1, 2, 3]


def test_backdated_event_in_a_batch_keeps_the_newer_lab(api: Api, app: Any) -> None:
    assert api.post("/api/v1/events", registration()).status_code == 201
    newer, older = _care_events("p-001")[0], _care_events("p-001")[0]
    newer["data"] = {"code": "hb", "value": 121}
    older.update(id="older-lab", occurred_at="2026-07-09T09:00:00+08:00")
    results = api.post("/api/v1/events:batch", {"events": [newer, older]}).get_json()["results"]
    assert [r["status"] for r in results] == [201, 201]
    with app.extensions["carepath.db"].reading() as session:
        facts = session.scalar(select(Pregnancy.state))["facts"]
        assert facts["labs"]["hb"] == 121.0
        assert session.scalar(select(OutboxRow.id).limit(1)) is not None
