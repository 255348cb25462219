"""FHIR R4 Bundle → HIS events: a pure mapping (no I/O, no database, no clock).

One Bundle (``transaction`` or ``collection``) of ``Patient``, ``Condition``, ``Observation``
and ``Encounter`` becomes the same HIS events as ``POST /api/v1/events`` takes
(``his-event.schema.json``). Each entry gets an :class:`EntryMap`: the events it became and
the issues (OperationOutcome ``severity``/``code``/``diagnostics``/``expression``) saying why
it, or part of it, could not be mapped. Nothing is dropped silently.

Idempotency: an event's id is ``fhir:<Type>:<id>:<meta.versionId>`` (plus ``:<lab>`` for a
blood-pressure component), so the same resource version posted twice is the same event and is
recorded once; a new version is a new event. Without ``meta.versionId`` the version is
``h`` + 16 hex digits of the SHA-256 of the resource's canonical JSON.

Codes and systems (all documented in the README, section "For FHIR integrators"):

- ``Patient``: ``identifier`` with system :data:`HIS_ID_SYSTEM` is her HIS id (else the
  resource id is); :data:`ID_NUMBER_SYSTEM` is her resident ID number, and
  ``urn:carepath:id-number:<id_type>`` her number of another identity document
  (:data:`ID_NUMBER_SYSTEMS`; ``engine/identity.py`` says which and what makes each valid:
  an invalid number refuses the entry like ``POST /api/v1/events`` does). A ``Patient`` becomes
  ``patient.registered`` (which creates her and her pregnancy, or updates the current one).
- pregnancy facts are ``Observation``\\ s: LOINC ``8665-2`` (last menstrual period start date)
  and ``11778-8`` (delivery date, estimated) with ``valueDateTime``, or :data:`PREGNANCY_SYSTEM`
  codes ``lmp``, ``edd`` (``valueDateTime``), ``gravida``, ``para`` (``valueInteger``). When
  their subject is a ``Patient`` of the same Bundle they are folded into its registration;
  otherwise each is a ``patient.updated``.
- ``Condition``: ICD-10 from WHO (:data:`ICD10_WHO`) or a national clinical edition (a
  configurable system; its code wins, being more specific). ``clinicalStatus``
  inactive/resolved or ``verificationStatus`` refuted/entered-in-error → ``diagnosis.removed``,
  otherwise ``diagnosis.added``.
- ``Observation`` (final, amended or corrected) with a ``valueQuantity`` → ``lab.result``:
  code from :data:`LAB_SYSTEM` (our lab codes) or the LOINC codes in :data:`LOINC_LABS`;
  LOINC ``85354-9`` (blood pressure panel) through its systolic/diastolic components. The
  unit must be the catalogue's (UCUM code as in :data:`UCUM`); no conversion is guessed.
- ``Encounter`` with status ``finished`` → ``encounter.completed``; its kind is the
  ``type`` coding of :data:`ENCOUNTER_KIND_SYSTEM` (e.g. ``anc-contact``, ``ogtt``).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
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
}

SUPPORTED = ("Patient", "Condition", "Observation", "Encounter")
BUNDLE_TYPES = ("transaction", "collection")
_REMOVED_CLINICAL = frozenset({"inactive", "resolved"})
_REMOVED_VERIFICATION = frozenset({"refuted", "entered-in-error"})
_FINAL = frozenset({"final", "amended", "corrected"})
_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
_EVENT_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


@dataclass(frozen=True)
class Issue:
    """One OperationOutcome issue."""

    severity: str  # fatal | error | warning | information
    code: str  # FHIR IssueType: invalid, required, value, code-invalid, not-supported, ...
    diagnostics: str
    expression: str  # FHIRPath, e.g. Bundle.entry[2].resource.valueQuantity

    def as_fhir(self) -> dict[str, Any]:
        return {
            "severity": self.severity,
            "code": self.code,
            "diagnostics": self.diagnostics,
            "expression": [self.expression],
        }


@dataclass
class EntryMap:
    """What became of one Bundle entry."""

    index: int
    resource_type: str | None
    resource_id: str | None
    version: str | None
    events: list[dict[str, Any]] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)
    folded_into: str | None = None  # the registration event that carries this entry's facts

    @property
    def failed(self) -> bool:
        return any(i.severity in ("error", "fatal") for i in self.issues)

    @property
    def location(self) -> str | None:
        if self.resource_type and self.resource_id:
            return f"{self.resource_type}/{self.resource_id}/_history/{self.version}"
        return None


@dataclass
class Mapped:
    bundle_type: str
    entries: list[EntryMap]

    def events(self) -> list[tuple[int, dict[str, Any]]]:
        """(entry index, event) of every mapped entry: registrations first, then entry order."""
        ordered = sorted(self.entries, key=lambda e: (e.resource_type != "Patient", e.index))
        return [(e.index, event) for e in ordered if not e.failed for event in e.events]


class BundleRefusedError(Exception):
    """The request as a whole is not a Bundle this endpoint takes."""

    def __init__(self, issues: list[Issue]) -> None:
        super().__init__(issues[0].diagnostics)
        self.issues = issues


@dataclass(frozen=True)
class Settings:
    """What a hospital configures: its national ICD-10 systems, its UTC offset, its labs."""

    labs: Mapping[str, str]  # our lab code -> catalogue unit
    national_icd10: Collection[str] = (ICD10_CN_DEFAULT,)
    offset: str = "+08:00"  # the hospital's UTC offset, for date-only FHIR dateTimes


# -- helpers -------------------------------------------------------------------------------


def version_of(resource: Mapping[str, Any]) -> str:
    meta = resource.get("meta")
    version = meta.get("versionId") if isinstance(meta, dict) else None
    if isinstance(version, str) and version:
        return version
    text = json.dumps(resource, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return "h" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def event_id(resource_type: str, resource_id: str, version: str, suffix: str = "") -> str:
    text = f"fhir:{resource_type}:{resource_id}:{version}" + (f":{suffix}" if suffix else "")
    if _EVENT_ID.match(text):
        return text
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]
    return f"fhir:{resource_type}:h{digest}"


def fhir_datetime(value: Any, offset: str) -> str | None:
    """A FHIR date/dateTime/instant as an ISO datetime with its offset (date only → midnight)."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    if _DATE.match(text):
        text = f"{text}T00:00:00{offset}"
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return None
    return parsed.isoformat()


def _list(value: Any) -> list[Any]:
    """A FHIR array, or nothing when the field is absent or not an array."""
    return value if isinstance(value, list) else []


def _codings(concept: Any) -> list[dict[str, Any]]:
    if not isinstance(concept, dict) or not isinstance(concept.get("coding"), list):
        return []
    return [c for c in concept["coding"] if isinstance(c, dict)]


def _code_in(concept: Any, system: str) -> str | None:
    for coding in _codings(concept):
        if coding.get("system") == system and isinstance(coding.get("code"), str):
            return str(coding["code"])
    return None


def _described(concept: Any) -> str:
    found = [f"{c.get('system', '(no system)')}|{c.get('code')}" for c in _codings(concept)]
    return ", ".join(found) or "no coding"


def _identifier(resource: Mapping[str, Any], system: str) -> str | None:
    for identifier in _list(resource.get("identifier")):
        if isinstance(identifier, dict) and identifier.get("system") == system:
            value = identifier.get("value")
            if isinstance(value, str) and value:
                return value
    return None


def _document(identifier: Any) -> dict[str, str]:
    """``{"id_number", "id_type"?}`` of an identifier of :data:`ID_NUMBER_SYSTEMS` (else empty);
    ``id_type`` is left out for a resident number, as the events of earlier Bundles had it."""
    if not isinstance(identifier, dict) or identifier.get("system") not in ID_NUMBER_SYSTEMS:
        return {}
    value = identifier.get("value")
    if not isinstance(value, str) or not value:
        return {}
    kind = ID_NUMBER_SYSTEMS[identifier["system"]]
    return {"id_number": value} if kind == DEFAULT_ID_TYPE else {"id_number": value, "id_type": kind}


def _id_document(resource: Mapping[str, Any]) -> dict[str, str]:
    """Her identity document's number (the first identifier of an ID number system)."""
    for identifier in _list(resource.get("identifier")):
        found = _document(identifier)
        if found:
            return found
    return {}


def _name(resource: Mapping[str, Any]) -> str | None:
    for name in _list(resource.get("name")):
        if not isinstance(name, dict):
            continue
        if isinstance(name.get("text"), str) and name["text"]:
            return str(name["text"])
        given = "".join(g for g in _list(name.get("given")) if isinstance(g, str))
        family = name.get("family") if isinstance(name.get("family"), str) else ""
        if family or given:
            return f"{family}{given}"  # 姓在前: Chinese names are family name then given name
    return None


def _phone(resource: Mapping[str, Any]) -> str | None:
    for telecom in _list(resource.get("telecom")):
        if isinstance(telecom, dict) and telecom.get("system") == "phone":
            value = telecom.get("value")
            if isinstance(value, str) and value:
                return value.replace(" ", "").replace("-", "")
    return None


# -- the mapping ---------------------------------------------------------------------------


@dataclass
class _Context:
    settings: Settings
    bundle_time: str | None
    patients: dict[str, dict[str, Any]] = field(default_factory=dict)  # reference -> identity
    registrations: dict[str, dict[str, Any]] = field(default_factory=dict)  # reference -> event
    folds: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # reference -> [(type/id, ver)]


def map_bundle(bundle: Any, settings: Settings) -> Mapped:
    """Map a Bundle; BundleRefusedError when it is not one this endpoint takes."""
    if not isinstance(bundle, dict):
        raise BundleRefusedError([Issue("error", "structure", "the body is not a JSON object", "Bundle")])
    if bundle.get("resourceType") != "Bundle":
        kind = bundle.get("resourceType")
        raise BundleRefusedError(
            [
                Issue(
                    "error",
                    "not-supported",
                    f"post a Bundle (transaction or collection), not {kind!r}",
                    "Bundle.resourceType",
                )
            ]
        )
    bundle_type = bundle.get("type")
    if bundle_type not in BUNDLE_TYPES:
        raise BundleRefusedError(
            [
                Issue(
                    "error",
                    "not-supported",
                    f"Bundle.type {bundle_type!r} is not taken; send a transaction or a collection",
                    "Bundle.type",
                )
            ]
        )
    entries = bundle.get("entry", [])
    if not isinstance(entries, list) or not entries:
        raise BundleRefusedError(
            [Issue("error", "required", "Bundle.entry must be a non-empty list", "Bundle.entry")]
        )
    context = _Context(settings, fhir_datetime(bundle.get("timestamp"), settings.offset))
    maps: list[EntryMap] = []
    # Patients first: other entries name them by reference.
    for index, entry in enumerate(entries):
        maps.append(_start(index, entry, bundle_type))
    for item, entry in zip(maps, entries, strict=True):
        if item.resource_type == "Patient" and not item.failed:
            _patient(item, entry, context)
    for item, entry in zip(maps, entries, strict=True):
        if item.failed or item.resource_type == "Patient":
            continue
        resource = entry["resource"]
        if item.resource_type == "Condition":
            _condition(item, resource, context)
        elif item.resource_type == "Observation":
            _observation(item, resource, context)
        elif item.resource_type == "Encounter":
            _encounter(item, resource, context)
    _finish_folds(context)
    return Mapped(bundle_type, maps)


def _start(index: int, entry: Any, bundle_type: str) -> EntryMap:
    where = f"Bundle.entry[{index}]"
    if not isinstance(entry, dict) or not isinstance(entry.get("resource"), dict):
        item = EntryMap(index, None, None, None)
        item.issues.append(Issue("error", "structure", "an entry needs a resource object", where))
        return item
    resource = entry["resource"]
    kind = resource.get("resourceType")
    rid = resource.get("id")
    item = EntryMap(
        index, kind if isinstance(kind, str) else None, rid if isinstance(rid, str) else None, None
    )
    if kind not in SUPPORTED:
        item.issues.append(
            Issue(
                "error",
                "not-supported",
                f"carepath maps {', '.join(SUPPORTED)}; {kind!r} is not mapped",
                f"{where}.resource.resourceType",
            )
        )
        return item
    if not isinstance(rid, str) or not re.match(r"^[A-Za-z0-9\-.]{1,64}$", rid):
        item.issues.append(
            Issue(
                "error",
                "required",
                "Resource.id (1 to 64 of A-Z a-z 0-9 - .) is required: with meta.versionId it "
                "makes the resource's events idempotent",
                f"{where}.resource.id",
            )
        )
        return item
    item.version = version_of(resource)
    if not re.match(r"^[A-Za-z0-9\-.]{1,64}$", item.version):
        item.issues.append(
            Issue("error", "value", "meta.versionId must be a FHIR id", f"{where}.resource.meta.versionId")
        )
    request = entry.get("request")
    if bundle_type == "transaction" and isinstance(request, dict):
        method = request.get("method")
        if method not in ("POST", "PUT"):
            item.issues.append(
                Issue(
                    "error",
                    "not-supported",
                    f"only POST and PUT entries are taken, not {method!r}",
                    f"{where}.request.method",
                )
            )
    return item


def _where(item: EntryMap, path: str = "") -> str:
    return f"Bundle.entry[{item.index}].resource" + (f".{path}" if path else "")


def _error(item: EntryMap, code: str, diagnostics: str, path: str = "") -> None:
    item.issues.append(Issue("error", code, diagnostics, _where(item, path)))


def _occurred(item: EntryMap, resource: Mapping[str, Any], context: _Context, *paths: str) -> str | None:
    """The first of ``paths`` that holds a datetime (``meta.lastUpdated`` is a path too)."""
    for path in paths:
        value: Any = resource
        for part in path.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if value is not None:
            parsed = fhir_datetime(value, context.settings.offset)
            if parsed is None:
                _error(item, "value", f"{path} {value!r} is not a FHIR dateTime with a time zone", path)
            return parsed
    _error(item, "required", f"a time is needed: give one of {', '.join(paths)}", paths[0])
    return None


def _patient(item: EntryMap, entry: Mapping[str, Any], context: _Context) -> None:
    resource = entry["resource"]
    assert item.resource_id is not None and item.version is not None
    identity: dict[str, Any] = {"his_id": _identifier(resource, HIS_ID_SYSTEM) or item.resource_id}
    identity.update(_id_document(resource))
    occurred = _occurred(item, resource, context, "meta.lastUpdated") if "meta" in resource else None
    if occurred is None and not item.failed:
        occurred = context.bundle_time
        if occurred is None:
            _error(item, "required", "a Patient needs meta.lastUpdated (or Bundle.timestamp)", "meta")
    if item.failed or occurred is None:
        return
    patient: dict[str, Any] = dict(identity)
    phone = _phone(resource)
    if phone:
        patient["phone"] = phone
    name = _name(resource)
    if name:
        patient["name"] = name
    data: dict[str, Any] = {}
    if isinstance(resource.get("birthDate"), str):
        data["birth_date"] = resource["birthDate"]
    event = {
        "id": event_id("Patient", item.resource_id, item.version),
        "type": "patient.registered",
        "occurred_at": occurred,
        "patient": patient,
        "data": data,
    }
    item.events.append(event)
    for reference in (f"Patient/{item.resource_id}", entry.get("fullUrl")):
        if isinstance(reference, str):
            context.patients[reference] = identity
            context.registrations[reference] = event
    context.folds[f"Patient/{item.resource_id}"] = [("Patient/" + item.resource_id, item.version)]


def _subject(item: EntryMap, resource: Mapping[str, Any], context: _Context) -> tuple[dict[str, Any], str]:
    """Her identity and the reference used (empty identity with an issue when unknown)."""
    subject = resource.get("subject")
    if not isinstance(subject, dict):
        _error(item, "required", "subject (a reference to her Patient) is required", "subject")
        return {}, ""
    reference = subject.get("reference")
    if isinstance(reference, str):
        if reference in context.patients:
            return context.patients[reference], reference
        match = re.search(r"(?:^|/)Patient/([A-Za-z0-9\-.]{1,64})(?:/_history/[^/]+)?$", reference)
        if match:
            return {"his_id": match.group(1)}, reference
        _error(
            item,
            "not-found",
            f"subject {reference!r} is neither a Patient of this Bundle nor Patient/<her HIS id>",
            "subject.reference",
        )
        return {}, ""
    identifier = subject.get("identifier")
    if isinstance(identifier, dict) and isinstance(identifier.get("value"), str):
        if identifier.get("system") == HIS_ID_SYSTEM:
            return {"his_id": identifier["value"]}, ""
        if _document(identifier):
            return _document(identifier), ""
    _error(
        item,
        "required",
        f"subject needs a reference or an identifier of system {HIS_ID_SYSTEM} or {ID_NUMBER_SYSTEM}"
        "[:<id_type>]",
        "subject",
    )
    return {}, ""


def _condition(item: EntryMap, resource: Mapping[str, Any], context: _Context) -> None:
    assert item.resource_id is not None and item.version is not None
    patient, _ = _subject(item, resource, context)
    concept = resource.get("code")
    code = None
    for system in context.settings.national_icd10:
        code = code or _code_in(concept, system)
    code = code or _code_in(concept, ICD10_WHO)
    if code is None:
        systems = ", ".join([*context.settings.national_icd10, ICD10_WHO])
        _error(
            item,
            "code-invalid",
            f"no ICD-10 coding (systems {systems}) in code ({_described(concept)})",
            "code",
        )
    clinical = _code_in(resource.get("clinicalStatus"), CONDITION_CLINICAL)
    verification = _code_in(resource.get("verificationStatus"), CONDITION_VERIFICATION)
    removed = clinical in _REMOVED_CLINICAL or verification in _REMOVED_VERIFICATION
    if removed:
        occurred = _occurred(item, resource, context, "abatementDateTime", "meta.lastUpdated", "recordedDate")
    else:
        occurred = _occurred(item, resource, context, "recordedDate", "onsetDateTime", "meta.lastUpdated")
    if item.failed or code is None or occurred is None:
        return
    data: dict[str, Any] = {"code": code}
    display = next(
        (c.get("display") for c in _codings(concept) if c.get("code") == code and c.get("display")), None
    )
    name = display or (concept.get("text") if isinstance(concept, dict) else None)
    if isinstance(name, str) and name:
        data["name"] = name
    item.events.append(
        {
            "id": event_id("Condition", item.resource_id, item.version),
            "type": "diagnosis.removed" if removed else "diagnosis.added",
            "occurred_at": occurred,
            "patient": patient,
            "data": data,
        }
    )


def _lab_code(concept: Any, labs: Mapping[str, str]) -> str | None:
    ours = _code_in(concept, LAB_SYSTEM)
    if ours is not None and ours in labs:
        return ours
    loinc = _code_in(concept, LOINC)
    return LOINC_LABS.get(loinc) if loinc is not None else None


def _quantity(item: EntryMap, quantity: Any, lab: str, unit: str, path: str) -> float | None:
    if not isinstance(quantity, dict) or isinstance(quantity.get("value"), bool):
        _error(item, "required", f"{lab} needs a valueQuantity", path)
        return None
    value = quantity.get("value")
    if not isinstance(value, int | float):
        _error(item, "required", f"{path}.value must be a number", path)
        return None
    ucum = UCUM.get(unit, unit)
    code, system, text = quantity.get("code"), quantity.get("system"), quantity.get("unit")
    if code is not None:
        if system not in (None, UCUM_SYSTEM):
            _error(item, "code-invalid", f"{path}.system must be UCUM ({UCUM_SYSTEM}), not {system!r}", path)
            return None
        if code != ucum:
            _error(
                item,
                "value",
                f"{lab} is recorded in {unit} (UCUM {ucum}), not {code!r}; convert before sending",
                f"{path}.code",
            )
            return None
    elif text is not None and text not in (unit, ucum):
        _error(item, "value", f"{lab} is recorded in {unit} (UCUM {ucum}), not {text!r}", f"{path}.unit")
        return None
    elif text is None:
        _error(item, "required", f"{path} needs its unit: UCUM code {ucum}", path)
        return None
    return float(value) if isinstance(value, float) else value


def _observation(item: EntryMap, resource: Mapping[str, Any], context: _Context) -> None:
    assert item.resource_id is not None and item.version is not None
    status = resource.get("status")
    if not isinstance(status, str) or status not in _FINAL:
        _error(
            item,
            "not-supported",
            f"only final, amended or corrected observations are mapped, not status {status!r}",
            "status",
        )
        return
    patient, reference = _subject(item, resource, context)
    concept = resource.get("code")
    fact = LOINC_FACTS.get(_code_in(concept, LOINC) or "") or _code_in(concept, PREGNANCY_SYSTEM)
    if fact is not None and fact in PREGNANCY_FACTS:
        _fact(item, resource, context, fact=fact, patient=patient, reference=reference)
        return
    labs = context.settings.labs
    values: list[tuple[str, str, Any, str]] = []  # (lab, suffix, quantity, path)
    if _code_in(concept, LOINC) == LOINC_BP_PANEL:
        for i, component in enumerate(_list(resource.get("component"))):
            lab = _lab_code(component.get("code") if isinstance(component, dict) else None, labs)
            if lab in ("bp_systolic", "bp_diastolic"):
                values.append((lab, lab, component.get("valueQuantity"), f"component[{i}].valueQuantity"))
            else:
                _error(
                    item,
                    "code-invalid",
                    "a blood pressure component must be LOINC 8480-6 or 8462-4",
                    f"component[{i}].code",
                )
        if not values:
            _error(item, "required", "the blood pressure panel has no systolic or diastolic component", "")
    else:
        lab = _lab_code(concept, labs)
        if lab is None:
            _error(
                item,
                "code-invalid",
                f"no mapping for code ({_described(concept)}): carepath maps {LAB_SYSTEM} codes "
                f"({', '.join(sorted(labs))}), LOINC {', '.join(sorted([*LOINC_LABS, LOINC_BP_PANEL]))} "
                f"and pregnancy facts (LOINC {', '.join(LOINC_FACTS)}, {PREGNANCY_SYSTEM})",
                "code",
            )
            return
        values.append((lab, "", resource.get("valueQuantity"), "valueQuantity"))
    occurred = _occurred(item, resource, context, "effectiveDateTime", "effectiveInstant")
    events = []
    for lab, suffix, quantity, path in values:
        value = _quantity(item, quantity, lab, labs[lab], path)
        if value is None or occurred is None:
            continue
        events.append(
            {
                "id": event_id("Observation", item.resource_id, item.version, suffix),
                "type": "lab.result",
                "occurred_at": occurred,
                "patient": patient,
                "data": {"code": lab, "value": value, "unit": labs[lab]},
            }
        )
    if not item.failed:
        item.events += events


def _fact(
    item: EntryMap,
    resource: Mapping[str, Any],
    context: _Context,
    *,
    fact: str,
    patient: dict[str, Any],
    reference: str,
) -> None:
    assert item.resource_id is not None and item.version is not None
    value: Any
    if PREGNANCY_FACTS[fact] == "date":
        raw = resource.get("valueDateTime")
        value = raw[:10] if isinstance(raw, str) and _DATE.match(raw[:10]) else None
        if value is None:
            _error(
                item, "required", f"{fact} needs valueDateTime, a date such as 2026-03-06", "valueDateTime"
            )
            return
    else:
        value = resource.get("valueInteger")
        if not isinstance(value, int) or isinstance(value, bool):
            _error(item, "required", f"{fact} needs valueInteger", "valueInteger")
            return
    registration = context.registrations.get(reference)
    if registration is not None:
        registration["data"][fact] = value
        key = next(
            k for k, v in context.registrations.items() if v is registration and k.startswith("Patient/")
        )
        context.folds[key].append((f"Observation/{item.resource_id}", item.version))
        item.folded_into = key
        return
    occurred = _occurred(item, resource, context, "effectiveDateTime", "meta.lastUpdated")
    if occurred is None or item.failed:
        return
    item.events.append(
        {
            "id": event_id("Observation", item.resource_id, item.version),
            "type": "patient.updated",
            "occurred_at": occurred,
            "patient": patient,
            "data": {fact: value},
        }
    )


def _encounter(item: EntryMap, resource: Mapping[str, Any], context: _Context) -> None:
    assert item.resource_id is not None and item.version is not None
    status = resource.get("status")
    if status != "finished":
        item.issues.append(
            Issue(
                "warning",
                "not-supported",
                f"only finished encounters are mapped (to encounter.completed); status {status!r} "
                "is not, and nothing was recorded for it",
                _where(item, "status"),
            )
        )
        return
    patient, _ = _subject(item, resource, context)
    kind = None
    for concept in _list(resource.get("type")):
        kind = kind or _code_in(concept, ENCOUNTER_KIND_SYSTEM)
    if kind is None:
        _error(
            item,
            "required",
            f"a finished encounter needs a type coding of system {ENCOUNTER_KIND_SYSTEM} "
            "(its kind, e.g. anc-contact)",
            "type",
        )
    occurred = _occurred(item, resource, context, "period.end", "meta.lastUpdated")
    if item.failed or kind is None or occurred is None:
        return
    item.events.append(
        {
            "id": event_id("Encounter", item.resource_id, item.version),
            "type": "encounter.completed",
            "occurred_at": occurred,
            "patient": patient,
            "data": {"kind": kind},
        }
    )


def _finish_folds(context: _Context) -> None:
    """A registration carrying facts of other entries has an id naming them all (a changed fact
    is a new event, never a conflict with the registration already recorded)."""
    for key, parts in context.folds.items():
        if len(parts) < 2:
            continue
        registration = context.registrations[key]
        text = "|".join(f"{ref}:{version}" for ref, version in sorted(parts))
        digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]
        registration["id"] = event_id("Patient", key.removeprefix("Patient/"), parts[0][1], digest)


def folded_event_id(mapped: Mapped, item: EntryMap) -> str | None:
    """The id of the registration event an entry's facts were folded into."""
    if item.folded_into is None:
        return None
    rid = item.folded_into.removeprefix("Patient/")
    for other in mapped.entries:
        if other.resource_type == "Patient" and other.resource_id == rid and other.events:
            return str(other.events[0]["id"])
    return None
