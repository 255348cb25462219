"""ID numbers at the API's edges: events, batches, responses and FHIR refuse an invalid one
with ``id-number-invalid``, its reason and a Chinese message; a valid one gives her birth date."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from carepath.engine.identity import check_id_number
from carepath.store.demo import demo_id_number
from carepath.store.models import EventRecord
from tests.conftest import resident_id
from tests.engine.test_identity import INVALID_RESIDENT, _with_check
from tests.webapi import fhir_bundles as fb
from tests.webapi.conftest import Api, counts, diagnosis, registration
from tests.webapi.test_responses import epds


def _stored_data(app: Flask, event_id: str) -> dict[str, Any]:
    with app.extensions["carepath.db"].reading() as session:
        return session.scalar(select(EventRecord.data).where(EventRecord.event_id == event_id)) or {}


@pytest.mark.parametrize("case", sorted(INVALID_RESIDENT))
def test_an_invalid_resident_number_is_refused_and_nothing_is_written(
    api: Api, app: Flask, case: str
) -> None:
    number, reason = INVALID_RESIDENT[case]
    response = api.post("/api/v1/events", registration(id_number=number))
    assert response.status_code == 422, response.get_json()
    problem = response.get_json()
    assert problem["code"] == "invalid-event"
    first = problem["errors"][0]
    assert (first["path"], first["code"], first["reason"]) == (
        "patient.id_number",
        "id-number-invalid",
        reason,
    )
    assert first["message_zh"]
    assert counts(app)["patients"] == 0


def test_a_first_generation_number_is_asked_again_in_chinese(api: Api) -> None:
    response = api.post("/api/v1/events", registration(id_number="330102900412002"))
    first = response.get_json()["errors"][0]
    assert first["reason"] == "first-generation"
    assert first["message_zh"] == "这是15位的第一代身份证号码，请填写18位的第二代居民身份证号码"


def test_a_lookup_by_an_invalid_number_is_refused_too(api: Api) -> None:
    event = diagnosis()
    event["patient"] = {"id_number": INVALID_RESIDENT["bad check digit"][0]}
    first = api.post("/api/v1/events", event).get_json()["errors"][0]
    assert (first["code"], first["reason"]) == ("id-number-invalid", "check-digit")


def test_her_birth_date_comes_from_her_number_when_not_given(api: Api, app: Flask) -> None:
    event = registration(id_number=resident_id(3, born="19870925"))
    del event["data"]["birth_date"]
    answer = api.post("/api/v1/events", event).get_json()
    assert answer["warnings"] == []
    assert _stored_data(app, "reg-001")["birth_date"] == "1987-09-25"


def test_a_birth_date_the_number_contradicts_is_kept_with_a_warning(api: Api, app: Flask) -> None:
    event = registration(id_number=resident_id(3, born="19870925"))  # data says 1990-04-12
    answer = api.post("/api/v1/events", event).get_json()
    assert [w["code"] for w in answer["warnings"]] == ["id-number-birth-date-mismatch"]
    assert answer["warnings"][0]["message_zh"]
    assert _stored_data(app, "reg-001")["birth_date"] == "1990-04-12"


def test_a_mans_number_is_accepted_with_a_warning(api: Api) -> None:
    man = _with_check("33010219900412003")
    response = api.post("/api/v1/events", registration(id_number=man))
    assert response.status_code == 201
    assert [w["code"] for w in response.get_json()["warnings"]] == ["id-number-male"]


@pytest.mark.parametrize(
    ("id_type", "number"),
    [
        ("passport", "E12345678"),
        ("hk_macau_pass", "H12345678"),
        ("tw_pass", "12345678"),
        ("hk_macau_tw_residence", _with_check("81000019900412002")),
        ("foreign_permanent", _with_check("91184019900412002")),
    ],
)
def test_other_documents_register_and_find_her(api: Api, id_type: str, number: str) -> None:
    assert api.post("/api/v1/events", registration(id_number=number, id_type=id_type)).status_code == 201
    event = diagnosis()
    event["patient"] = {"id_number": number, "id_type": id_type}
    assert api.post("/api/v1/events", event).status_code == 201


def test_a_passport_number_is_not_a_resident_number(api: Api) -> None:
    first = api.post("/api/v1/events", registration(id_number="E12345678")).get_json()["errors"][0]
    assert (first["code"], first["reason"]) == ("id-number-invalid", "length")


def test_an_unknown_document_is_refused(api: Api) -> None:
    response = api.post("/api/v1/events", registration(id_type="driving_licence"))
    assert response.status_code == 422
    assert response.get_json()["errors"][0]["path"] == "patient.id_type"


def test_a_batch_refuses_the_invalid_number_only(api: Api, app: Flask) -> None:
    good = registration()
    bad = registration("p-002", "reg-002", id_number=INVALID_RESIDENT["30 February"][0])
    results = api.post("/api/v1/events:batch", {"events": [good, bad]}).get_json()["results"]
    assert [r["status"] for r in results] == [201, 422]
    assert results[1]["problem"]["errors"][0]["reason"] == "date"
    assert counts(app)["patients"] == 1


def test_a_response_naming_her_by_an_invalid_number_is_refused(api: Api, app: Flask) -> None:
    assert api.post("/api/v1/events", registration()).status_code == 201
    body = epds()
    body.pop("pregnancy", None)
    body["patient"] = {"id_number": INVALID_RESIDENT["month 13"][0]}
    response = api.post("/api/v1/responses", body)
    assert response.status_code == 422, response.get_json()
    first = response.get_json()["errors"][0]
    assert (first["path"], first["code"], first["reason"]) == (
        "patient.id_number",
        "id-number-invalid",
        "date",
    )


def test_fhir_identifier_systems_name_the_document(api: Api, app: Flask) -> None:
    her = fb.patient()
    her["identifier"][1] = {"system": "urn:carepath:id-number:passport", "value": "E12345678"}
    answer = api.post("/fhir/r4/", fb.bundle(her, kind="collection"))
    (entry,) = answer.get_json()["entry"]
    assert entry["response"]["status"] == "201 Created", entry
    with app.extensions["carepath.db"].reading() as session:
        assert session.scalar(select(EventRecord.type)) == "patient.registered"


def test_fhir_refuses_an_invalid_resident_number_with_its_reason(api: Api, app: Flask) -> None:
    her = fb.patient()
    her["identifier"][1]["value"] = INVALID_RESIDENT["region 000000"][0]
    (entry,) = api.post("/fhir/r4/", fb.bundle(her, kind="collection")).get_json()["entry"]
    assert entry["response"]["status"] == "422 Unprocessable Entity"
    assert "province" in entry["response"]["outcome"]["issue"][0]["diagnostics"]
    assert counts(app)["events"] == 0


@pytest.mark.parametrize("number", range(1, 10))
def test_demo_numbers_pass_every_check_and_are_womens(number: int) -> None:
    document = check_id_number(demo_id_number(number, "1998-06-30"), None, date(2026, 7, 10))
    assert (document.birth_date, document.sex) == (date(1998, 6, 30), "female")
