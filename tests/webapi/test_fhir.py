"""FHIR R4 intake at /fhir/r4/: Bundles mapped onto HIS events, idempotent, nothing dropped."""

from __future__ import annotations

import copy
import json
import threading
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.webapi import fhir_bundles as fb
from tests.webapi.conftest import Api, counts

BASE = "/fhir/r4/"
FHIR = {"Content-Type": "application/fhir+json"}


def _post(api: Api, payload: Any = None, **kwargs: Any) -> Any:
    return api.post(BASE, payload, **{**FHIR, **kwargs})


def _ok(response: Any) -> dict[str, Any]:
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "application/fhir+json"
    return response.get_json()


def _answers(entry: dict[str, Any]) -> list[dict[str, Any]]:
    return [json.loads(e["valueString"]) for e in entry["response"].get("extension", [])]


def _actions(bundle: dict[str, Any]) -> set[tuple[str, str, str]]:
    return {
        (a["pathway"], a["rule"], a["action"])
        for entry in bundle["entry"]
        for answer in _answers(entry)
        for a in answer["actions"]
    }


def test_registration_gdm_and_hb_posted_twice_give_one_set_of_actions(api: Api, app: Any) -> None:
    first = _ok(_post(api, fb.registration_bundle()))
    assert first["resourceType"] == "Bundle" and first["type"] == "transaction-response"
    assert [e["response"]["status"] for e in first["entry"]] == [
        "201 Created",
        "200 OK",
        "201 Created",
        "201 Created",
    ]
    assert first["entry"][2]["response"]["location"] == "Condition/dx-gdm-001/_history/1"
    assert ("gdm-example", "welcome", "push") in _actions(first)
    lmp_note = first["entry"][1]["response"]["outcome"]["issue"][0]["diagnostics"]
    assert lmp_note.startswith("carried by the registration event fhir:Patient:pat-001:1:")
    registration = _answers(first["entry"][0])[0]
    assert registration["patient"] == "p-001"
    before = counts(app)
    assert before["patients"] == 1 and before["pregnancies"] == 1 and before["events"] == 3

    again = _ok(_post(api, fb.registration_bundle()))
    assert [e["response"]["status"] for e in again["entry"]] == ["200 OK"] * 4
    assert [_answers(e) for e in again["entry"]] == [_answers(e) for e in first["entry"]]
    assert counts(app) == before


def test_concurrent_twins_of_a_transaction_are_recorded_once(api: Api, app: Any) -> None:
    statuses: list[int] = []

    def post() -> None:
        twin = Api(app.test_client(), api.key, api.clock)
        statuses.append(_post(twin, fb.registration_bundle()).status_code)

    threads = [threading.Thread(target=post) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [200] * 6
    recorded = counts(app)
    assert (recorded["events"], recorded["patients"], recorded["pregnancies"]) == (3, 1, 1)


def test_her_dating_comes_from_the_lmp_observation(api: Api, app: Any) -> None:
    from sqlalchemy import select

    from carepath.store.models import DatingRecord

    _ok(_post(api, fb.registration_bundle()))
    with app.extensions["carepath.db"].reading() as session:
        datings = [(r.method, r.data) for r in session.scalars(select(DatingRecord))]
    assert datings == [("lmp", {"lmp": "2026-01-05"})]


def test_a_new_version_is_a_new_event(api: Api, app: Any) -> None:
    _ok(_post(api, fb.registration_bundle()))
    resolved = _ok(_post(api, fb.bundle(fb.gdm(version="2", clinical="resolved"))))
    (entry,) = resolved["entry"]
    assert entry["response"]["status"] == "201 Created"
    assert _answers(entry)[0]["event"] == "fhir:Condition:dx-gdm-001:2"
    assert counts(app)["events"] == 4


def test_the_same_version_with_another_body_is_a_conflict_and_the_transaction_is_not_applied(
    api: Api, app: Any
) -> None:
    _ok(_post(api, fb.registration_bundle()))
    before = counts(app)
    changed = fb.hb(value=101)
    response = _post(api, fb.bundle(fb.blood_pressure(), changed))
    assert response.status_code == 409
    outcome = response.get_json()
    assert outcome["resourceType"] == "OperationOutcome"
    (issue,) = outcome["issue"]
    assert issue["code"] == "conflict" and issue["expression"] == ["Bundle.entry[1]"]
    assert counts(app) == before  # the blood pressure before it was rolled back too


def test_blood_pressure_and_encounter(api: Api, app: Any) -> None:
    _ok(_post(api, fb.registration_bundle()))
    answer = _ok(_post(api, fb.bundle(fb.blood_pressure(), fb.encounter())))
    bp, visit = answer["entry"]
    assert [a["event"] for a in _answers(bp)] == [
        "fhir:Observation:bp-001:1:bp_systolic",
        "fhir:Observation:bp-001:1:bp_diastolic",
    ]
    assert _answers(visit)[0]["event"] == "fhir:Encounter:enc-001:1"
    assert counts(app)["events"] == 6


def test_unmappable_entries_refuse_a_transaction_with_every_reason(api: Api, app: Any) -> None:
    bad_unit = fb.hb(value=9.8, unit="g/dL")
    unknown = {"resourceType": "MedicationRequest", "id": "m1"}
    response = _post(api, fb.bundle(fb.patient(), bad_unit, unknown))
    assert response.status_code == 422
    assert response.mimetype == "application/fhir+json"
    issues = response.get_json()["issue"]
    assert [(i["code"], i["expression"][0]) for i in issues] == [
        ("value", "Bundle.entry[1].resource.valueQuantity.code"),
        ("not-supported", "Bundle.entry[2].resource.resourceType"),
    ]
    assert "hb is recorded in g/L" in issues[0]["diagnostics"]
    assert counts(app)["events"] == 0


def test_a_collection_is_answered_entry_by_entry(api: Api, app: Any) -> None:
    bad_unit = fb.hb(value=9.8, unit="g/dL")
    bad_unit["id"] = "lab-hb-002"
    planned = fb.encounter(status="planned")
    payload = fb.bundle(fb.patient(), fb.lmp(), fb.gdm(), fb.hb(), bad_unit, planned, kind="collection")
    answer = _ok(_post(api, payload))
    assert answer["type"] == "batch-response"
    statuses = [e["response"]["status"] for e in answer["entry"]]
    assert statuses == [
        "201 Created",
        "200 OK",
        "201 Created",
        "201 Created",
        "422 Unprocessable Entity",
        "200 OK",
    ]
    refused = answer["entry"][4]["response"]["outcome"]["issue"][0]
    assert refused["severity"] == "error" and refused["code"] == "value"
    warned = answer["entry"][5]["response"]["outcome"]["issue"][0]
    assert warned["severity"] == "warning" and "planned" in warned["diagnostics"]
    assert counts(app)["events"] == 3


def test_events_the_store_refuses_are_reported_per_entry_in_a_collection(api: Api, app: Any) -> None:
    payload = fb.bundle(fb.hb(), kind="collection")  # she is not registered
    (entry,) = _ok(_post(api, payload))["entry"]
    assert entry["response"]["status"] == "422 Unprocessable Entity"
    issue = entry["response"]["outcome"]["issue"][0]
    assert issue["details"]["coding"][0]["code"] == "unknown-patient"
    assert counts(app)["events"] == 0


def test_facts_carried_by_a_refused_registration_are_refused_with_it(api: Api, app: Any) -> None:
    her = fb.patient()
    her["identifier"][1]["value"] = "12"  # not an ID number
    answer = _ok(_post(api, fb.bundle(her, fb.lmp(), kind="collection")))
    registration, lmp = answer["entry"]
    assert registration["response"]["status"] == lmp["response"]["status"] == "422 Unprocessable Entity"
    assert "id_number" in registration["response"]["outcome"]["issue"][0]["diagnostics"]
    assert "which was refused" in lmp["response"]["outcome"]["issue"][0]["diagnostics"]
    assert counts(app)["events"] == 0


def test_an_entry_is_recorded_whole_or_not_at_all(api: Api, app: Any) -> None:
    _ok(_post(api, fb.registration_bundle()))
    before = counts(app)
    pressure = fb.blood_pressure()
    pressure["component"][1]["valueQuantity"]["value"] = 910  # diastolic: implausible
    (entry,) = _ok(_post(api, fb.bundle(pressure, kind="collection")))["entry"]
    assert entry["response"]["status"] == "422 Unprocessable Entity"
    (issue,) = entry["response"]["outcome"]["issue"]
    assert "bp_diastolic" in issue["diagnostics"] and "plausible" in issue["diagnostics"]
    assert counts(app) == before  # nor the systolic


def test_implausible_value_is_an_issue_of_its_entry(api: Api, app: Any) -> None:
    response = _post(api, fb.bundle(fb.patient(), fb.hb(value=980)))
    assert response.status_code == 422
    (issue,) = response.get_json()["issue"]
    assert issue["expression"] == ["Bundle.entry[1].resource"]
    assert "plausible" in issue["diagnostics"]
    assert counts(app)["events"] == 0


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (b"{not json", 400),
        (b'{"resourceType": "Bundle", "resourceType": "Bundle"}', 400),
        (b"[]", 400),
        (b'{"resourceType": "Patient", "id": "x"}', 422),
        (b'{"resourceType": "Bundle", "type": "batch", "entry": [{}]}', 422),
        (b'{"resourceType": "Bundle", "type": "transaction"}', 422),
    ],
)
def test_bad_requests_are_operation_outcomes(api: Api, app: Any, raw: bytes, status: int) -> None:
    response = _post(api, raw=raw)
    assert response.status_code == status
    assert response.get_json()["resourceType"] == "OperationOutcome"
    assert counts(app)["events"] == 0


def test_wrong_content_type_and_unsigned_requests(api: Api, app: Any) -> None:
    response = api.post(BASE, fb.registration_bundle(), **{"Content-Type": "text/plain"})
    assert response.status_code == 415
    assert response.get_json()["issue"][0]["details"]["text"] == "unsupported-media-type"
    unsigned = api.client.post(BASE, data=b"{}", headers=FHIR)
    assert unsigned.status_code == 401
    issue = unsigned.get_json()["issue"][0]
    assert issue["code"] == "login" and "X-Carepath-Signature" in issue["diagnostics"]
    forged = _post(api, fb.registration_bundle(), **{"X-Carepath-Signature": "0" * 64})
    assert forged.status_code == 401
    assert counts(app)["events"] == 0


def test_plain_json_is_taken_too(api: Api) -> None:
    response = api.post(BASE, fb.registration_bundle())
    assert response.status_code == 200


def test_capability_statement(api: Api) -> None:
    response = api.client.get("/fhir/r4/metadata")
    assert response.status_code == 200
    statement = response.get_json()
    assert statement["resourceType"] == "CapabilityStatement"
    assert statement["fhirVersion"] == "4.0.1"
    documented = {r["type"] for r in statement["rest"][0]["resource"]}
    assert documented == {"Patient", "Condition", "Observation", "Encounter"}


_RESOURCES = (fb.patient(), fb.lmp(), fb.gdm(), fb.hb(), fb.blood_pressure(), fb.encounter())
_VALUES = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.text(max_size=12)
    | st.lists(st.text(max_size=3), max_size=2)
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    which=st.integers(0, len(_RESOURCES) - 1),
    key=st.sampled_from(
        [
            "id",
            "meta",
            "identifier",
            "birthDate",
            "code",
            "subject",
            "valueQuantity",
            "valueDateTime",
            "period",
            "effectiveDateTime",
        ]
    ),
    value=_VALUES,
    kind=st.sampled_from(["transaction", "collection"]),
)
def test_a_mangled_bundle_is_never_a_server_error(
    api: Api, which: int, key: str, value: Any, kind: str
) -> None:
    resources = [copy.deepcopy(r) for r in _RESOURCES]
    resources[which][key] = value
    response = _post(api, fb.bundle(*resources, kind=kind))
    assert response.status_code < 500, response.get_data(as_text=True)
    assert response.get_json()["resourceType"] in ("Bundle", "OperationOutcome")
