"""The codes, systems and FHIR datatypes the intake reads (``mapping.py`` maps a Bundle,
``resources.py`` each resource): the identifier and code systems, the LOINC and UCUM tables, and
small readers of FHIR's datatypes (codings, identifiers, names, dateTimes) that never raise on a
malformed value: they answer ``None`` or nothing, and the mapper says why.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from carepath.engine.identity import DEFAULT_ID_TYPE, ID_TYPES

HIS_ID_SYSTEM = "urn:carepath:his-id"
ID_NUMBER_SYSTEM = "urn:carepath:id-number"
#: Identifier system -> the identity document (``id_type``) whose number it carries. The
#: resident ID number keeps the system it always had; each other document adds its id_type.
ID_NUMBER_SYSTEMS: Mapping[str, str] = {
    ID_NUMBER_SYSTEM: DEFAULT_ID_TYPE,
    **{f"{ID_NUMBER_SYSTEM}:{kind}": kind for kind in ID_TYPES},
}
LAB_SYSTEM = "urn:carepath:lab"
PREGNANCY_SYSTEM = "urn:carepath:pregnancy"
ENCOUNTER_KIND_SYSTEM = "urn:carepath:encounter-kind"
ICD10_WHO = "http://hl7.org/fhir/sid/icd-10"
#: The default system of China's national clinical edition of ICD-10 (国家临床版); configurable.
ICD10_CN_DEFAULT = "urn:carepath:icd-10-cn"
LOINC = "http://loinc.org"
UCUM_SYSTEM = "http://unitsofmeasure.org"
CONDITION_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
CONDITION_VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"

#: LOINC codes mapped onto our lab codes: only codes checked against HL7's published
#: material (the FHIR vital-signs value set and body-weight profile, HL7 example observations).
LOINC_LABS: Mapping[str, str] = {
    "718-7": "hb",  # Hemoglobin [Mass/volume] in Blood
    "8480-6": "bp_systolic",  # Systolic blood pressure
    "8462-4": "bp_diastolic",  # Diastolic blood pressure
    "29463-7": "weight_kg",  # Body weight
}
LOINC_BP_PANEL = "85354-9"  # Blood pressure panel with all children optional
#: LOINC pregnancy facts (from the IPS pregnancy value sets and HL7 examples).
LOINC_FACTS: Mapping[str, str] = {
    "8665-2": "lmp",  # Last menstrual period start date
    "11778-8": "edd",  # Delivery date Estimated
}
PREGNANCY_FACTS: Mapping[str, str] = {"lmp": "date", "edd": "date", "gravida": "int", "para": "int"}

#: UCUM code of each unit of the lab catalogue (labs.yaml).
UCUM: Mapping[str, str] = {
    "g/L": "g/L",
    "µg/L": "ug/L",
    "10^9/L": "10*9/L",
    "mmol/L": "mmol/L",
    "%": "%",
    "µmol/L": "umol/L",
    "U/L": "U/L",
    "g/24h": "g/(24.h)",
    "mmHg": "mm[Hg]",
    "kg": "kg",
    "mm": "mm",
    "IU/L": "[IU]/L",
}
DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
EVENT_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def version_of(resource: Mapping[str, Any]) -> str:
    meta = resource.get("meta")
    version = meta.get("versionId") if isinstance(meta, dict) else None
    if isinstance(version, str) and version:
        return version
    text = json.dumps(resource, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return "h" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def event_id(resource_type: str, resource_id: str, version: str, suffix: str = "") -> str:
    text = f"fhir:{resource_type}:{resource_id}:{version}" + (f":{suffix}" if suffix else "")
    if EVENT_ID.match(text):
        return text
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]
    return f"fhir:{resource_type}:h{digest}"


def fhir_datetime(value: Any, offset: str) -> str | None:
    """A FHIR date/dateTime/instant as an ISO datetime with its offset (date only → midnight)."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    if DATE.match(text):
        text = f"{text}T00:00:00{offset}"
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return None
    return parsed.isoformat()


def as_list(value: Any) -> list[Any]:
    """A FHIR array, or nothing when the field is absent or not an array."""
    return value if isinstance(value, list) else []


def codings(concept: Any) -> list[dict[str, Any]]:
    if not isinstance(concept, dict) or not isinstance(concept.get("coding"), list):
        return []
    return [c for c in concept["coding"] if isinstance(c, dict)]


def code_in(concept: Any, system: str) -> str | None:
    for coding in codings(concept):
        if coding.get("system") == system and isinstance(coding.get("code"), str):
            return str(coding["code"])
    return None


def described(concept: Any) -> str:
    found = [f"{c.get('system', '(no system)')}|{c.get('code')}" for c in codings(concept)]
    return ", ".join(found) or "no coding"


def identifier_value(resource: Mapping[str, Any], system: str) -> str | None:
    for identifier in as_list(resource.get("identifier")):
        if isinstance(identifier, dict) and identifier.get("system") == system:
            value = identifier.get("value")
            if isinstance(value, str) and value:
                return value
    return None


def document_of(identifier: Any) -> dict[str, str]:
    """``{"id_number", "id_type"?}`` of an identifier of :data:`ID_NUMBER_SYSTEMS` (else empty);
    ``id_type`` is left out for a resident number, as the events of earlier Bundles had it."""
    if not isinstance(identifier, dict) or identifier.get("system") not in ID_NUMBER_SYSTEMS:
        return {}
    value = identifier.get("value")
    if not isinstance(value, str) or not value:
        return {}
    kind = ID_NUMBER_SYSTEMS[identifier["system"]]
    return {"id_number": value} if kind == DEFAULT_ID_TYPE else {"id_number": value, "id_type": kind}


def id_document(resource: Mapping[str, Any]) -> dict[str, str]:
    """Her identity document's number (the first identifier of an ID number system)."""
    for identifier in as_list(resource.get("identifier")):
        found = document_of(identifier)
        if found:
            return found
    return {}


def name_of(resource: Mapping[str, Any]) -> str | None:
    for name in as_list(resource.get("name")):
        if not isinstance(name, dict):
            continue
        if isinstance(name.get("text"), str) and name["text"]:
            return str(name["text"])
        given = "".join(g for g in as_list(name.get("given")) if isinstance(g, str))
        family = name.get("family") if isinstance(name.get("family"), str) else ""
        if family or given:
            return f"{family}{given}"  # 姓在前: Chinese names are family name then given name
    return None


def phone_of(resource: Mapping[str, Any]) -> str | None:
    for telecom in as_list(resource.get("telecom")):
        if isinstance(telecom, dict) and telecom.get("system") == "phone":
            value = telecom.get("value")
            if isinstance(value, str) and value:
                return value.replace(" ", "").replace("-", "")
    return None
