"""Every free-text field has a length limit with a stable code (issue 14, item 7): a 3 MB
diagnosis name was stored. A diagnosis name holds 200 characters, her name 40, free text
2,000; over that is a 422 ``too-long`` naming the field, and nothing is written."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from tests.webapi.conftest import Api, counts, diagnosis, registration

THREE_MB = "糖" * (1024 * 1024)  # 3 MB of UTF-8


def _encounter(extra: dict[str, Any]) -> dict[str, Any]:
    return {
        **diagnosis(),
        "id": "enc-001",
        "type": "encounter.completed",
        "data": {"kind": "anc-contact", **extra},
    }


def _registration_with(**data: Any) -> dict[str, Any]:
    event = registration()
    event["data"].update(data)
    return event


#: (the event, the path of the field, its limit)
TOO_LONG = {
    "a 3 MB diagnosis name": (
        lambda: {**diagnosis(), "data": {"code": "O24.401", "name": THREE_MB}},
        "data.name",
    ),
    "a diagnosis name of 201": (
        lambda: {**diagnosis(), "data": {"code": "O24.401", "name": "糖" * 201}},
        "data.name",
    ),
    "a diagnosis at registration": (
        lambda: _registration_with(diagnoses=[{"code": "O24.401", "name": "糖" * 201}]),
        "data.diagnoses.0.name",
    ),
    "her name of 41": (lambda: registration(name="王" * 41), "patient.name"),
    "an encounter's note of 2,001": (lambda: _encounter({"note": "x" * 2001}), "data.note"),
    "a lab unit of 21": (
        lambda: {**diagnosis(), "type": "lab.result", "data": {"code": "hb", "value": 110, "unit": "g" * 21}},
        "data.unit",
    ),
    "an appointment's service of 101": (
        lambda: {
            **diagnosis(),
            "type": "appointment.booked",
            "data": {"service": "s" * 101, "at": "2026-07-20T09:00:00+08:00"},
        },
        "data.service",
    ),
    "the reason a pregnancy ended, of 201": (
        lambda: {**diagnosis(), "type": "pregnancy.ended", "data": {"reason": "r" * 201}},
        "data.reason",
    ),
}


@pytest.mark.parametrize("case", sorted(TOO_LONG))
def test_text_over_its_limit_is_too_long(api: Api, app: Flask, case: str) -> None:
    if not case.startswith("her name"):
        assert api.post("/api/v1/events", registration("p-001", "reg-first")).status_code == 201
    before = counts(app)
    make, path = TOO_LONG[case]
    response = api.post("/api/v1/events", make())
    assert response.status_code == 422, response.get_data(as_text=True)[:300]
    problems = [(e["path"], e["code"]) for e in response.get_json()["errors"]]
    assert (path, "too-long") in problems
    assert counts(app) == before


def test_text_at_its_limit_is_accepted(api: Api) -> None:
    assert api.post("/api/v1/events", registration()).status_code == 201
    assert (
        api.post(
            "/api/v1/events", {**diagnosis(), "data": {"code": "O24.401", "name": "糖" * 200}}
        ).status_code
        == 201
    )
    assert api.post("/api/v1/events", _encounter({"note": "x" * 2000})).status_code == 201


def test_a_wrong_type_is_still_a_type_mismatch(api: Api) -> None:
    assert api.post("/api/v1/events", registration()).status_code == 201
    response = api.post("/api/v1/events", {**diagnosis(), "data": {"code": "O24.401", "name": 42}})
    assert response.get_json()["errors"][0]["code"] == "type-mismatch"


def test_an_encounter_detail_is_a_value_not_a_document(api: Api) -> None:
    assert api.post("/api/v1/events", registration()).status_code == 201
    response = api.post("/api/v1/events", _encounter({"nested": {"deep": THREE_MB}}))
    assert response.status_code == 422


def test_a_text_answer_of_a_response_holds_2000_characters(api: Api, app: Flask) -> None:
    assert api.post("/api/v1/events", registration()).status_code == 201
    body = {
        "id": "bp-001",
        "form": "bp-log",
        "submitted_at": "2026-07-10T14:50:00+08:00",
        "patient": {"his_id": "p-001"},
        "answers": {
            "measured_on": "2026-07-10",
            "time_of_day": "morning",
            "systolic": 120,
            "diastolic": 80,
            "symptoms": ["none"],
            "notes": "x" * 2001,
        },
    }
    response = api.post("/api/v1/responses", body)
    assert response.status_code == 422
    assert ("answers.notes", "too-long") in [(e["path"], e["code"]) for e in response.get_json()["errors"]]
    body["answers"]["notes"] = "x" * 2000
    assert api.post("/api/v1/responses", body).status_code == 201
