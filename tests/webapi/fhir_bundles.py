"""FHIR R4 resources and Bundles for the FHIR intake tests."""

from __future__ import annotations

from typing import Any

PATIENT_URL = "urn:uuid:6f1c1a52-3c0e-4d5b-9a53-0d7f2a1f0001"


def patient(version: str = "1") -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "id": "pat-001",
        "meta": {"versionId": version, "lastUpdated": "2026-07-10T14:00:00+08:00"},
        "identifier": [
            {"system": "urn:carepath:his-id", "value": "p-001"},
            {"system": "urn:carepath:id-number", "value": "33010219900412180X"},
        ],
        "name": [{"family": "王", "given": ["芳"]}],
        "telecom": [{"system": "phone", "value": "138 1234 5678"}],
        "gender": "female",
        "birthDate": "1990-04-12",
    }


def lmp(subject: str = PATIENT_URL) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": "lmp-001",
        "meta": {"versionId": "1"},
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "8665-2"}]},
        "subject": {"reference": subject},
        "effectiveDateTime": "2026-07-10T14:00:00+08:00",
        "valueDateTime": "2026-01-05",
    }


def gdm(version: str = "1", clinical: str = "active") -> dict[str, Any]:
    return {
        "resourceType": "Condition",
        "id": "dx-gdm-001",
        "meta": {"versionId": version, "lastUpdated": "2026-07-10T14:30:00+08:00"},
        "clinicalStatus": {
            "coding": [
                {"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": clinical}
            ]
        },
        "code": {
            "coding": [
                {"system": "http://hl7.org/fhir/sid/icd-10", "code": "O24.4"},
                {"system": "urn:carepath:icd-10-cn", "code": "O24.401", "display": "妊娠期糖尿病"},
            ]
        },
        "subject": {"reference": PATIENT_URL},
        "recordedDate": "2026-07-10T14:30:00+08:00",
    }


def hb(value: float = 98, unit: str = "g/L", code: str = "718-7") -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": "lab-hb-001",
        "meta": {"versionId": "1"},
        "status": "final",
        "category": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                        "code": "laboratory",
                    }
                ]
            }
        ],
        "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
        "subject": {"reference": PATIENT_URL},
        "effectiveDateTime": "2026-07-10T14:40:00+08:00",
        "valueQuantity": {"value": value, "unit": unit, "system": "http://unitsofmeasure.org", "code": unit},
    }


def blood_pressure() -> dict[str, Any]:
    def component(code: str, value: int) -> dict[str, Any]:
        return {
            "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
            "valueQuantity": {
                "value": value,
                "unit": "mmHg",
                "system": "http://unitsofmeasure.org",
                "code": "mm[Hg]",
            },
        }

    return {
        "resourceType": "Observation",
        "id": "bp-001",
        "meta": {"versionId": "1"},
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "85354-9"}]},
        "subject": {"reference": "Patient/p-001"},
        "effectiveDateTime": "2026-07-10T14:45:00+08:00",
        "component": [component("8480-6", 142), component("8462-4", 91)],
    }


def encounter(status: str = "finished") -> dict[str, Any]:
    return {
        "resourceType": "Encounter",
        "id": "enc-001",
        "meta": {"versionId": "1"},
        "status": status,
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
        "type": [{"coding": [{"system": "urn:carepath:encounter-kind", "code": "anc-contact"}]}],
        "subject": {"identifier": {"system": "urn:carepath:his-id", "value": "p-001"}},
        "period": {"start": "2026-07-10T14:00:00+08:00", "end": "2026-07-10T14:50:00+08:00"},
    }


def bundle(*resources: dict[str, Any], kind: str = "transaction") -> dict[str, Any]:
    """A Bundle of ``resources``; without her Patient in it, they name her as Patient/p-001."""
    entries = []
    with_patient = any(r["resourceType"] == "Patient" for r in resources)
    for resource in resources:
        if not with_patient and resource.get("subject") == {"reference": PATIENT_URL}:
            resource["subject"] = {"reference": "Patient/p-001"}
        full_url = PATIENT_URL if resource["resourceType"] == "Patient" else f"urn:uuid:{resource.get('id')}"
        entry: dict[str, Any] = {"fullUrl": full_url, "resource": resource}
        if kind == "transaction":
            entry["request"] = {"method": "POST", "url": resource["resourceType"]}
        entries.append(entry)
    return {"resourceType": "Bundle", "type": kind, "entry": entries}


def registration_bundle(kind: str = "transaction") -> dict[str, Any]:
    """A registration (Patient + LMP), a GDM Condition and an Hb Observation."""
    return bundle(patient(), lmp(), gdm(), hb(), kind=kind)
