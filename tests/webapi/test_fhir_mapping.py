"""The pure FHIR → HIS event mapping (no app, no database)."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from carepath.webapi.fhir import mapping as fm
from tests.webapi import fhir_bundles as fb

LABS = {"hb": "g/L", "bp_systolic": "mmHg", "bp_diastolic": "mmHg", "weight_kg": "kg", "ferritin": "µg/L"}
SETTINGS = fm.Settings(labs=LABS)


def _events(bundle: dict[str, Any]) -> list[dict[str, Any]]:
    return [event for _, event in fm.map_bundle(bundle, SETTINGS).events()]


def test_registration_gdm_and_hb_become_three_events_with_lmp_folded_in() -> None:
    mapped = fm.map_bundle(fb.registration_bundle(), SETTINGS)
    assert not any(e.issues for e in mapped.entries)
    registration, diagnosis, lab = (event for _, event in mapped.events())
    assert registration["type"] == "patient.registered"
    assert registration["patient"] == {
        "his_id": "p-001",
        "id_number": "33010219900412180X",
        "phone": "13812345678",
        "name": "王芳",
    }
    assert registration["data"] == {"birth_date": "1990-04-12", "lmp": "2026-01-05"}
    assert registration["occurred_at"] == "2026-07-10T14:00:00+08:00"
    assert mapped.entries[1].folded_into == "Patient/pat-001"
    assert fm.folded_event_id(mapped, mapped.entries[1]) == registration["id"]
    assert diagnosis == {
        "id": "fhir:Condition:dx-gdm-001:1",
        "type": "diagnosis.added",
        "occurred_at": "2026-07-10T14:30:00+08:00",
        "patient": {"his_id": "p-001", "id_number": "33010219900412180X"},
        "data": {"code": "O24.401", "name": "妊娠期糖尿病"},  # the national code wins over WHO O24.4
    }
    assert lab["id"] == "fhir:Observation:lab-hb-001:1"
    assert lab["data"] == {"code": "hb", "value": 98, "unit": "g/L"}


def test_edd_and_parity_facts_fold_or_become_updates() -> None:
    edd = fb.lmp()
    edd["id"] = "edd-001"
    edd["code"] = {"coding": [{"system": "http://loinc.org", "code": "11778-8"}]}
    edd["valueDateTime"] = "2026-10-12"
    gravida = fb.lmp()
    gravida["id"] = "g-001"
    gravida["code"] = {"coding": [{"system": "urn:carepath:pregnancy", "code": "gravida"}]}
    del gravida["valueDateTime"]
    gravida["valueInteger"] = 2
    (registration,) = _events(fb.bundle(fb.patient(), copy.deepcopy(edd), copy.deepcopy(gravida)))
    assert registration["data"] == {"birth_date": "1990-04-12", "edd": "2026-10-12", "gravida": 2}
    (update,) = _events(fb.bundle(edd))  # without her Patient: an update of her file
    assert update == {
        "id": "fhir:Observation:edd-001:1",
        "type": "patient.updated",
        "occurred_at": "2026-07-10T14:00:00+08:00",
        "patient": {"his_id": "p-001"},
        "data": {"edd": "2026-10-12"},
    }


def test_a_changed_fact_changes_the_registration_s_event_id() -> None:
    first = _events(fb.registration_bundle())[0]["id"]
    changed = fb.lmp()
    changed["meta"]["versionId"] = "2"
    changed["valueDateTime"] = "2026-01-06"
    second = _events(fb.bundle(fb.patient(), changed))[0]
    assert second["id"] != first and second["data"]["lmp"] == "2026-01-06"


def test_the_same_bundle_maps_to_the_same_event_ids() -> None:
    assert _events(fb.registration_bundle()) == _events(fb.registration_bundle())


def test_who_code_alone_and_a_configured_national_system() -> None:
    condition = fb.gdm()
    condition["code"]["coding"] = [{"system": "http://hl7.org/fhir/sid/icd-10", "code": "O24.4"}]
    assert _events(fb.bundle(condition))[0]["data"]["code"] == "O24.4"
    condition["code"]["coding"].append({"system": "urn:oid:hospital-icd", "code": "O24.401"})
    settings = fm.Settings(labs=LABS, national_icd10=("urn:oid:hospital-icd",))
    mapped = fm.map_bundle(fb.bundle(condition), settings)
    assert mapped.events()[0][1]["data"]["code"] == "O24.401"


@pytest.mark.parametrize(
    ("field", "code"),
    [
        ("clinicalStatus", "resolved"),
        ("clinicalStatus", "inactive"),
        ("verificationStatus", "refuted"),
        ("verificationStatus", "entered-in-error"),
    ],
)
def test_resolved_or_refuted_conditions_are_removals(field: str, code: str) -> None:
    condition = fb.gdm(version="2")
    system = "condition-clinical" if field == "clinicalStatus" else "condition-ver-status"
    condition[field] = {
        "coding": [{"system": f"http://terminology.hl7.org/CodeSystem/{system}", "code": code}]
    }
    (event,) = _events(fb.bundle(condition))
    assert event["type"] == "diagnosis.removed"
    assert event["id"] == "fhir:Condition:dx-gdm-001:2"
    assert event["occurred_at"] == "2026-07-10T14:30:00+08:00"  # meta.lastUpdated without abatement


def test_blood_pressure_panel_gives_two_lab_results() -> None:
    systolic, diastolic = _events(fb.bundle(fb.blood_pressure()))
    assert systolic["id"] == "fhir:Observation:bp-001:1:bp_systolic"
    assert systolic["data"] == {"code": "bp_systolic", "value": 142, "unit": "mmHg"}
    assert diastolic["data"] == {"code": "bp_diastolic", "value": 91, "unit": "mmHg"}
    assert systolic["patient"] == {"his_id": "p-001"}  # Patient/p-001 outside the Bundle


def test_our_lab_system_and_ucum_units() -> None:
    observation = fb.hb(value=12.5, unit="ug/L")
    observation["code"] = {"coding": [{"system": "urn:carepath:lab", "code": "ferritin"}]}
    (event,) = _events(fb.bundle(observation))
    assert event["data"] == {"code": "ferritin", "value": 12.5, "unit": "µg/L"}


def test_hcg_in_international_units_per_litre() -> None:
    observation = fb.hb(value=1520, unit="[IU]/L")
    observation["code"] = {"coding": [{"system": "urn:carepath:lab", "code": "hcg"}]}
    mapped = fm.map_bundle(fb.bundle(observation), fm.Settings(labs={**LABS, "hcg": "IU/L"}))
    (event,) = (event for _, event in mapped.events())
    assert event["data"] == {"code": "hcg", "value": 1520, "unit": "IU/L"}


def test_finished_encounter_with_its_kind() -> None:
    (event,) = _events(fb.bundle(fb.encounter()))
    assert event["type"] == "encounter.completed"
    assert event["data"] == {"kind": "anc-contact"}
    assert event["occurred_at"] == "2026-07-10T14:50:00+08:00"


def test_unfinished_encounter_is_a_warning_and_no_event() -> None:
    mapped = fm.map_bundle(fb.bundle(fb.encounter(status="in-progress")), SETTINGS)
    (item,) = mapped.entries
    assert not item.failed and not item.events
    assert item.issues[0].severity == "warning"
    assert item.issues[0].expression == "Bundle.entry[0].resource.status"


def _issue(resource: dict[str, Any]) -> fm.Issue:
    mapped = fm.map_bundle(fb.bundle(resource), SETTINGS)
    (item,) = mapped.entries
    assert item.failed and not mapped.events()
    return next(i for i in item.issues if i.severity == "error")


def test_a_unit_other_than_the_catalogue_s_is_refused_not_converted() -> None:
    issue = _issue(fb.hb(value=9.8, unit="g/dL"))
    assert issue.code == "value"
    assert "hb is recorded in g/L" in issue.diagnostics and "g/dL" in issue.diagnostics
    assert issue.expression == "Bundle.entry[0].resource.valueQuantity.code"


def test_unknown_lab_code_says_what_is_mapped() -> None:
    issue = _issue(fb.hb(code="2345-7"))
    assert issue.code == "code-invalid"
    assert "http://loinc.org|2345-7" in issue.diagnostics and "718-7" in issue.diagnostics


def test_condition_without_icd10() -> None:
    condition = fb.gdm()
    condition["code"] = {"coding": [{"system": "http://snomed.info/sct", "code": "11687002"}]}
    assert _issue(condition).code == "code-invalid"


def test_unsupported_resource_and_missing_id() -> None:
    assert _issue({"resourceType": "Practitioner", "id": "x"}).code == "not-supported"
    observation = fb.hb()
    del observation["id"]
    assert _issue(observation).code == "required"


def test_preliminary_observation_and_unknown_subject() -> None:
    observation = fb.hb()
    observation["status"] = "preliminary"
    assert _issue(observation).code == "not-supported"
    observation = fb.hb()
    observation["subject"] = {"reference": "urn:uuid:nobody"}
    assert _issue(observation).code == "not-found"


def test_without_version_id_the_version_is_a_content_hash() -> None:
    observation = fb.hb()
    del observation["meta"]
    (first,) = _events(fb.bundle(observation))
    assert first["id"].startswith("fhir:Observation:lab-hb-001:h")
    observation["valueQuantity"]["value"] = 99
    (second,) = _events(fb.bundle(observation))
    assert second["id"] != first["id"]


@pytest.mark.parametrize(
    "body",
    [
        [],
        {"resourceType": "Patient"},
        {"resourceType": "Bundle", "type": "batch", "entry": [{}]},
        {"resourceType": "Bundle", "type": "document", "entry": [{}]},
        {"resourceType": "Bundle", "type": "transaction", "entry": []},
        {"resourceType": "Bundle", "type": "collection", "entry": "x"},
    ],
)
def test_wholly_bad_bundles_are_refused(body: Any) -> None:
    with pytest.raises(fm.BundleRefusedError):
        fm.map_bundle(body, SETTINGS)


def test_date_only_times_take_the_hospital_offset() -> None:
    assert fm.fhir_datetime("2026-07-10", "+08:00") == "2026-07-10T00:00:00+08:00"
    assert fm.fhir_datetime("2026-07-10T06:00:00Z", "+08:00") == "2026-07-10T06:00:00+00:00"
    assert fm.fhir_datetime("2026-07-10T06:00:00", "+08:00") is None
    assert fm.fhir_datetime(20260710, "+08:00") is None


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=8,
)
_RESOURCES = (fb.patient(), fb.lmp(), fb.gdm(), fb.hb(), fb.blood_pressure(), fb.encounter())


@settings(max_examples=300, deadline=None)
@given(
    which=st.integers(0, len(_RESOURCES) - 1),
    key=st.sampled_from(
        [
            "id",
            "meta",
            "identifier",
            "name",
            "telecom",
            "birthDate",
            "status",
            "code",
            "subject",
            "clinicalStatus",
            "verificationStatus",
            "recordedDate",
            "effectiveDateTime",
            "valueQuantity",
            "valueDateTime",
            "component",
            "type",
            "period",
            "resourceType",
        ]
    ),
    value=_JSON,
)
def test_any_value_in_any_field_is_mapped_or_reported_never_a_crash(which: int, key: str, value: Any) -> None:
    resources = [copy.deepcopy(r) for r in _RESOURCES]
    resources[which][key] = value
    mapped = fm.map_bundle(fb.bundle(*resources), SETTINGS)
    for item in mapped.entries:
        assert item.events or item.issues or item.folded_into
