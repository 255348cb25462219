"""Extended and unknown ICD-10 codes in events: mapped to their WHO code, kept, reported."""

from __future__ import annotations

import copy
import json

from flask import Flask
from sqlalchemy import select

from carepath.store import icd10
from carepath.store.models import Diagnosis, Pregnancy
from tests.conftest import NOW
from tests.webapi import fhir_bundles as fb
from tests.webapi.conftest import Api, diagnosis, registration


def _diagnoses(app: Flask) -> dict[str, tuple[str | None, str | None]]:
    with app.extensions["carepath.db"].reading() as session:
        return {d.code: (d.who_code, d.name) for d in session.scalars(select(Diagnosis))}


def _codes_in_facts(app: Flask) -> frozenset[str]:
    from carepath.store import evaluation

    with app.extensions["carepath.db"].reading() as session:
        return evaluation.load(session.scalars(select(Pregnancy)).one()).facts.icd10


def test_extended_code_is_matched_through_its_who_code(api: Api, app: Flask) -> None:
    assert api.post("/api/v1/events", registration()).status_code == 201
    answer = api.post("/api/v1/events", diagnosis(code="O24.401")).get_json()
    assert answer["warnings"] == []
    assert ("gdm-example", "welcome") in {(a["pathway"], a["rule"]) for a in answer["actions"]}
    assert _diagnoses(app)["O24.401"] == ("O24.4", "妊娠期糖尿病")


def test_unknown_code_is_kept_reported_and_replayed_the_same(api: Api, app: Flask) -> None:
    api.post("/api/v1/events", registration())
    event = diagnosis(code="X99.001")
    first = api.post("/api/v1/events", event)
    assert first.status_code == 201, first.get_json()
    warnings = first.get_json()["warnings"]
    assert [(w["code"], w["icd10"]) for w in warnings] == [("icd10-unknown", "X99.001")]
    assert "not in your hospital's catalogue" in warnings[0]["message"]
    assert first.get_json()["actions"] == []
    assert _diagnoses(app)["X99.001"] == (None, "妊娠期糖尿病")
    assert "X99.001" in _codes_in_facts(app)
    again = api.post("/api/v1/events", event)
    assert again.status_code == 200 and again.get_json() == first.get_json()


def test_a_registration_reports_each_unknown_diagnosis(api: Api, app: Flask) -> None:
    event = registration()
    event["data"]["diagnoses"] = [{"code": "O34.201"}, {"code": "X99.001"}, {"code": "Z99.9"}]
    answer = api.post("/api/v1/events", event).get_json()
    assert [w["icd10"] for w in answer["warnings"]] == ["X99.001", "Z99.9"]
    assert _diagnoses(app)["O34.201"][0] == "O34.2"


def test_the_hospital_catalogue_names_a_code_sent_without_a_name(api: Api, app: Flask) -> None:
    rows = [
        icd10.CatalogueRow(2, "O99.001", "妊娠合并贫血（本院）"),
        icd10.CatalogueRow(3, "X99.001", "本院编码"),
    ]
    icd10.import_catalogue(app.extensions["carepath.db"], "a", rows, NOW)
    api.post("/api/v1/events", registration())
    for n, code in enumerate(("O99.001", "X99.001")):
        event = diagnosis(code=code, event_id=f"dx-{n}")
        del event["data"]["name"]
        answer = api.post("/api/v1/events", event).get_json()
        assert [w["icd10"] for w in answer["warnings"]] == ([] if code == "O99.001" else ["X99.001"])
    assert _diagnoses(app) == {"O99.001": ("O99.0", "妊娠合并贫血（本院）"), "X99.001": (None, "本院编码")}


def test_a_batch_answers_warnings_per_item(api: Api) -> None:
    api.post("/api/v1/events", registration())
    items = [diagnosis(code="X99.001", event_id="dx-1"), diagnosis(code="O24.401", event_id="dx-2")]
    results = api.post("/api/v1/events:batch", {"events": items}).get_json()["results"]
    assert [[w["icd10"] for w in r["result"]["warnings"]] for r in results] == [["X99.001"], []]


def test_fhir_condition_with_an_unknown_national_code_is_recorded_with_a_warning(
    api: Api, app: Flask
) -> None:
    condition = copy.deepcopy(fb.gdm())
    condition["code"]["coding"] = [
        {"system": "urn:carepath:icd-10-cn", "code": "X99.001", "display": "本院编码"}
    ]
    assert api.post("/api/v1/events", registration()).status_code == 201
    response = api.post("/fhir/r4/", fb.bundle(condition), **{"Content-Type": "application/fhir+json"})
    assert response.status_code == 200, response.get_data(as_text=True)
    entry = response.get_json()["entry"][0]["response"]
    assert entry["status"] == "201 Created"
    warning = [i for i in entry["outcome"]["issue"] if i["severity"] == "warning"]
    assert len(warning) == 1 and warning[0]["diagnostics"].startswith("icd10-unknown: X99.001")
    answer = json.loads(entry["extension"][0]["valueString"])
    assert answer["warnings"][0]["icd10"] == "X99.001"
    assert _diagnoses(app)["X99.001"][0] is None
