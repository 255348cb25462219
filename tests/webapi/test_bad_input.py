"""Every bad input of issue 7's list: a 4xx problem+json, never a 500, nothing written."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.webapi.conftest import Api, counts, diagnosis, registration

FRAGMENTS = ["'; DROP TABLE events; --", "<script>alert(1)</script>", '" OR 1=1 --', "{{7*7}}"]


def _with(event: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    event = json.loads(json.dumps(event))
    node = event
    *parents, last = path.split(".")
    for key in parents:
        node = node[key]
    if value is _DELETE:
        del node[last]
    else:
        node[last] = value
    return event


_DELETE = object()

BAD_EVENTS = {
    "id is a number": ("id", 42),
    "occurred_at is a number": ("occurred_at", 1783000000),
    "occurred_at without offset": ("occurred_at", "2026-07-10T14:30:00"),
    "occurred_at not a date": ("occurred_at", "yesterday"),
    "data is a list": ("data", ["O24.401"]),
    "data.code is a number": ("data.code", 24.4),
    "patient is a string": ("patient", "p-001"),
    "missing id": ("id", _DELETE),
    "missing type": ("type", _DELETE),
    "missing occurred_at": ("occurred_at", _DELETE),
    "missing patient": ("patient", _DELETE),
    "missing data.code": ("data.code", _DELETE),
    "patient without id": ("patient.his_id", _DELETE),
    "unknown event type": ("type", "diagnosis.invented"),
    "internal event type": ("type", "risk.changed"),
    "unknown top-level key": ("extra", 1),
    "occurred_at far in the future": ("occurred_at", "2031-01-01T00:00:00+08:00"),
    **{f"fragment in id {i}": ("id", f) for i, f in enumerate(FRAGMENTS)},
    **{f"fragment in type {i}": ("type", f) for i, f in enumerate(FRAGMENTS)},
    **{f"fragment in occurred_at {i}": ("occurred_at", f) for i, f in enumerate(FRAGMENTS)},
    **{f"fragment in his_id {i}": ("patient.his_id", f) for i, f in enumerate(FRAGMENTS)},
    **{f"fragment in pregnancy {i}": ("patient.pregnancy", f) for i, f in enumerate(FRAGMENTS)},
    **{f"fragment in id_number {i}": ("patient.id_number", f) for i, f in enumerate(FRAGMENTS)},
    **{f"fragment in phone {i}": ("patient.phone", f) for i, f in enumerate(FRAGMENTS)},
    **{f"fragment in data.code {i}": ("data.code", f) for i, f in enumerate(FRAGMENTS)},
}


@pytest.mark.parametrize("case", sorted(BAD_EVENTS))
def test_bad_event_is_a_problem_and_writes_nothing(api: Api, app: Any, case: str) -> None:
    assert api.post("/api/v1/events", registration()).status_code == 201
    before = counts(app)
    path, value = BAD_EVENTS[case]
    response = api.post("/api/v1/events", _with(diagnosis(), path, value))
    assert 400 <= response.status_code < 500, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    problem = response.get_json()
    assert problem["status"] == response.status_code and problem["code"]
    if response.status_code == 422 and problem["code"] == "invalid-event":
        assert problem["errors"][0]["path"]  # names the field
    assert counts(app) == before


RAW_BODIES = {
    "invalid utf-8": (b'{"id": "\xff\xfe"}', "not-utf8"),
    "duplicate keys": (b'{"id": "a", "id": "b"}', "duplicate-key"),
    "not json": (b"id=1&type=x", "bad-json"),
    "NaN": (b'{"id": NaN}', "bad-json"),
    "deeply nested": (b"[" * 100_000 + b"]" * 100_000, "bad-json"),
    "a list": (b"[]", "invalid-event"),
    "empty": (b"", "bad-json"),
}


@pytest.mark.parametrize("case", sorted(RAW_BODIES))
def test_malformed_body_is_a_problem(api: Api, app: Any, case: str) -> None:
    body, code = RAW_BODIES[case]
    response = api.post("/api/v1/events", raw=body)
    assert 400 <= response.status_code < 500
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["code"] == code
    assert counts(app)["events"] == 0


def test_ten_megabyte_body_is_refused(api: Api, app: Any) -> None:
    body = b'{"id": "' + b"x" * (10 * 1024 * 1024) + b'"}'
    response = api.post("/api/v1/events", raw=body)
    assert response.status_code == 413
    assert response.get_json()["code"] == "body-too-large"
    assert counts(app)["events"] == 0


def test_wrong_content_type_is_refused(api: Api) -> None:
    response = api.post("/api/v1/events", diagnosis(), **{"Content-Type": "text/plain"})
    assert response.status_code == 415
    assert response.mimetype == "application/problem+json"


def test_implausible_lab_is_refused(api: Api, app: Any) -> None:
    assert api.post("/api/v1/events", registration()).status_code == 201
    event = {**diagnosis(), "type": "lab.result", "data": {"code": "hb", "value": 1100, "unit": "g/L"}}
    response = api.post("/api/v1/events", event)
    assert response.status_code == 422
    assert response.get_json()["errors"][0]["code"] == "implausible-lab"


def test_impossible_dating_at_registration_is_refused(api: Api, app: Any) -> None:
    event = registration()
    event["data"]["lmp"] = "2026-02-30"
    response = api.post("/api/v1/events", event)
    assert response.status_code == 422
    assert counts(app)["patients"] == 0


def test_a_class_at_an_impossible_time_is_refused_and_a_real_one_taken(api: Api, app: Any) -> None:
    """Issue 16 item 4: a rule may schedule on a class's time, so the time must be a real one."""
    assert api.post("/api/v1/events", registration()).status_code == 201
    booked = {**diagnosis(), "id": "his-class-1", "type": "class.booked"}
    booked["data"] = {"class_id": "c-1", "starts_at": "2026-02-30T09:30:00+08:00"}
    response = api.post("/api/v1/events", booked)
    assert response.status_code == 422
    assert response.get_json()["errors"][0]["code"] == "bad-date"
    booked["data"] = {"class_id": "c-1", "title": "分娩准备课", "starts_at": "2026-07-21T09:30:00+08:00"}
    assert api.post("/api/v1/events", booked).status_code == 201


@pytest.mark.parametrize("fragment", FRAGMENTS)
def test_free_text_is_stored_as_text_never_interpreted(api: Api, app: Any, fragment: str) -> None:
    """Names and tags are free text: kept verbatim as data (bound parameters, JSON-escaped)."""
    assert api.post("/api/v1/events", registration()).status_code == 201
    event = diagnosis()
    event["data"]["name"] = fragment
    assert api.post("/api/v1/events", event).status_code == 201
    from sqlalchemy import select

    from carepath.store.models import Diagnosis

    with app.extensions["carepath.db"].reading() as session:
        assert session.scalar(select(Diagnosis.name)) == fragment


def test_unknown_path_and_method_are_problems(api: Api) -> None:
    assert api.client.get("/api/v1/nothing").mimetype == "application/problem+json"
    response = api.client.get("/api/v1/events")
    assert response.status_code == 405
    assert response.mimetype == "application/problem+json"


def _medication(event_id: str, kind: str, **data: str) -> dict[str, Any]:
    return {**diagnosis(event_id=event_id), "type": kind, "data": data}


def test_an_unknown_or_ill_formed_medication_is_refused_and_a_known_one_taken(api: Api, app: Any) -> None:
    """Issue 16 item 9: a medication event names a code of the vocabulary (engine/medications.py)."""
    assert api.post("/api/v1/events", registration()).status_code == 201
    before = counts(app)
    for data, path, code in [
        ({"code": "insuline"}, "data.code", "unknown-medication"),
        ({"code": "Insulin"}, "data.code", "bad-medication"),
        ({"code": "insulin", "started_on": "2026-02-30"}, "data", "bad-date"),
        ({"dose": "4U"}, "data", "missing-key"),
    ]:
        response = api.post("/api/v1/events", _medication("rx-1", "medication.prescribed", **data))
        assert response.status_code == 422, data
        assert response.mimetype == "application/problem+json"
        problem = response.get_json()
        assert problem["code"] == "invalid-event"
        assert [(e["path"], e["code"]) for e in problem["errors"]] == [(path, code)], problem
    assert (
        "did you mean 'insulin'"
        in api.post("/api/v1/events", _medication("rx-1", "medication.stopped", code="insuline")).get_json()[
            "errors"
        ][0]["message"]
    )
    assert counts(app) == before
    prescribed = _medication(
        "rx-1", "medication.prescribed", code="insulin", dose="4U", started_on="2026-07-10"
    )
    assert api.post("/api/v1/events", prescribed).status_code == 201
    again = api.post("/api/v1/events", _medication("rx-2", "medication.prescribed", code="insulin"))
    assert again.status_code == 201
    assert [(w["code"], w["medication"]) for w in again.get_json()["warnings"]] == [("repeat", "insulin")]
    stopped = _medication("rx-3", "medication.stopped", code="insulin", stopped_on="2026-07-20")
    assert api.post("/api/v1/events", stopped).status_code == 201


def _newborn(event_id: str, kind: str, **data: Any) -> dict[str, Any]:
    return {**diagnosis(event_id=event_id), "type": kind, "data": data}


def test_an_ill_formed_newborn_event_is_refused_and_a_well_formed_one_taken(api: Api, app: Any) -> None:
    """Issue 16 item 6: a baby's id and sex that do not fit are bad-newborn, a weight or place
    out of bounds out-of-range; its gestational age at birth and the day it died have their
    codes; the delivery's newborns are checked alike."""
    assert api.post("/api/v1/events", registration()).status_code == 201
    before = counts(app)
    for kind, data, path, code in [
        ("newborn.registered", {"baby_id": "NB 1"}, "data.baby_id", "bad-newborn"),
        ("newborn.registered", {"baby_id": "NB-1", "sex": "F"}, "data.sex", "bad-newborn"),
        ("newborn.registered", {"baby_id": "NB-1", "weight_g": 35000}, "data.weight_g", "out-of-range"),
        ("newborn.registered", {"baby_id": "NB-1", "index": 0}, "data.index", "out-of-range"),
        (
            "newborn.registered",
            {"baby_id": "NB-1", "gestational_age_at_birth": "38w"},
            "data.gestational_age_at_birth",
            "bad-gestational-age",
        ),
        ("newborn.died", {"baby_id": "NB-1"}, "data", "missing-key"),
        ("newborn.died", {"baby_id": "NB-1", "date": "2026-02-30"}, "data", "bad-date"),
        (
            "delivery",
            {"newborns": [{"outcome": "live", "sex": "M"}]},
            "data.newborns.0.sex",
            "bad-newborn",
        ),
    ]:
        response = api.post("/api/v1/events", _newborn("nb-1", kind, **data))
        assert response.status_code == 422, data
        assert response.mimetype == "application/problem+json"
        problem = response.get_json()
        assert problem["code"] == "invalid-event"
        assert [(e["path"], e["code"]) for e in problem["errors"]] == [(path, code)], problem
    assert counts(app) == before
    delivery = _newborn(
        "nb-1",
        "delivery",
        mode="vaginal",
        newborns=[{"outcome": "live", "baby_id": "NB-1", "sex": "female", "weight_g": 3150}],
    )
    assert api.post("/api/v1/events", delivery).status_code == 201
    registered = _newborn("nb-2", "newborn.registered", baby_id="NB-1", gestational_age_at_birth="38+4")
    assert api.post("/api/v1/events", registered).status_code == 201
    died = _newborn("nb-3", "newborn.died", baby_id="NB-1", date="2026-07-11")
    assert api.post("/api/v1/events", died).status_code == 201
