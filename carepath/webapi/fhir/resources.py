"""One FHIR resource -> HIS events: ``Patient``, ``Condition``, ``Observation`` and ``Encounter``
as ``mapping.py`` hands them over, each entry's events and issues collected in its
:class:`EntryMap`. Pure: no I/O, no database, no clock.

Codes and systems (all documented in docs/fhir.md):

- ``Patient``: ``identifier`` with system :data:`terms.HIS_ID_SYSTEM` is her HIS id (else the
  resource id is); :data:`terms.ID_NUMBER_SYSTEM` is her resident ID number, and
  ``urn:carepath:id-number:<id_type>`` her number of another identity document
  (:data:`terms.ID_NUMBER_SYSTEMS`; ``engine/identity.py`` says which and what makes each valid:
  an invalid number refuses the entry like ``POST /api/v1/events`` does). A ``Patient`` becomes
  ``patient.registered`` (which creates her and her pregnancy, or updates the current one).
- pregnancy facts are ``Observation``\\ s: LOINC ``8665-2`` (last menstrual period start date)
  and ``11778-8`` (delivery date, estimated) with ``valueDateTime``, or :data:`terms.PREGNANCY_SYSTEM`
  codes ``lmp``, ``edd`` (``valueDateTime``), ``gravida``, ``para`` (``valueInteger``). When
  their subject is a ``Patient`` of the same Bundle they are folded into its registration;
  otherwise each is a ``patient.updated``.
- ``Condition``: ICD-10 from WHO (:data:`terms.ICD10_WHO`) or a national clinical edition (a
  configurable system; its code wins, being more specific). ``clinicalStatus``
  inactive/resolved or ``verificationStatus`` refuted/entered-in-error → ``diagnosis.removed``,
  otherwise ``diagnosis.added``.
- ``Observation`` (final, amended or corrected) with a ``valueQuantity`` → ``lab.result``:
  code from :data:`terms.LAB_SYSTEM` (our lab codes) or the LOINC codes in :data:`terms.LOINC_LABS`;
  LOINC ``85354-9`` (blood pressure panel) through its systolic/diastolic components. The
  unit must be the catalogue's (UCUM code as in :data:`terms.UCUM`); no conversion is guessed.
- ``Encounter`` with status ``finished`` → ``encounter.completed``; its kind is the
  ``type`` coding of :data:`terms.ENCOUNTER_KIND_SYSTEM` (e.g. ``anc-contact``, ``ogtt``).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from carepath.webapi.fhir.terms import (
    CONDITION_CLINICAL,
    CONDITION_VERIFICATION,
    DATE,
    ENCOUNTER_KIND_SYSTEM,
    HIS_ID_SYSTEM,
    ICD10_CN_DEFAULT,
    ICD10_WHO,
    ID_NUMBER_SYSTEM,
    LAB_SYSTEM,
    LOINC,
    LOINC_BP_PANEL,
    LOINC_FACTS,
    LOINC_LABS,
    PREGNANCY_FACTS,
    PREGNANCY_SYSTEM,
    UCUM,
    UCUM_SYSTEM,
    as_list,
    code_in,
    codings,
    described,
    document_of,
    event_id,
    fhir_datetime,
    id_document,
    identifier_value,
    name_of,
    phone_of,
)

_REMOVED_CLINICAL = frozenset({"inactive", "resolved"})
_REMOVED_VERIFICATION = frozenset({"refuted", "entered-in-error"})
_FINAL = frozenset({"final", "amended", "corrected"})


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


@dataclass(frozen=True)
class Settings:
    """What a hospital configures: its national ICD-10 systems, its UTC offset, its labs."""

    labs: Mapping[str, str]  # our lab code -> catalogue unit
    national_icd10: Collection[str] = (ICD10_CN_DEFAULT,)
    offset: str = "+08:00"  # the hospital's UTC offset, for date-only FHIR dateTimes


@dataclass
class Context:
    settings: Settings
    bundle_time: str | None
    patients: dict[str, dict[str, Any]] = field(default_factory=dict)  # reference -> identity
    registrations: dict[str, dict[str, Any]] = field(default_factory=dict)  # reference -> event
    folds: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # reference -> [(type/id, ver)]


def _where(item: EntryMap, path: str = "") -> str:
    return f"Bundle.entry[{item.index}].resource" + (f".{path}" if path else "")


def _error(item: EntryMap, code: str, diagnostics: str, path: str = "") -> None:
    item.issues.append(Issue("error", code, diagnostics, _where(item, path)))


def _occurred(item: EntryMap, resource: Mapping[str, Any], context: Context, *paths: str) -> str | None:
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


def map_patient(item: EntryMap, entry: Mapping[str, Any], context: Context) -> None:
    resource = entry["resource"]
    assert item.resource_id is not None and item.version is not None
    identity: dict[str, Any] = {"his_id": identifier_value(resource, HIS_ID_SYSTEM) or item.resource_id}
    identity.update(id_document(resource))
    occurred = _occurred(item, resource, context, "meta.lastUpdated") if "meta" in resource else None
    if occurred is None and not item.failed:
        occurred = context.bundle_time
        if occurred is None:
            _error(item, "required", "a Patient needs meta.lastUpdated (or Bundle.timestamp)", "meta")
    if item.failed or occurred is None:
        return
    patient: dict[str, Any] = dict(identity)
    phone = phone_of(resource)
    if phone:
        patient["phone"] = phone
    name = name_of(resource)
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


def _subject(item: EntryMap, resource: Mapping[str, Any], context: Context) -> tuple[dict[str, Any], str]:
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
        if document_of(identifier):
            return document_of(identifier), ""
    _error(
        item,
        "required",
        f"subject needs a reference or an identifier of system {HIS_ID_SYSTEM} or {ID_NUMBER_SYSTEM}"
        "[:<id_type>]",
        "subject",
    )
    return {}, ""


def map_condition(item: EntryMap, resource: Mapping[str, Any], context: Context) -> None:
    assert item.resource_id is not None and item.version is not None
    patient, _ = _subject(item, resource, context)
    concept = resource.get("code")
    code = None
    for system in context.settings.national_icd10:
        code = code or code_in(concept, system)
    code = code or code_in(concept, ICD10_WHO)
    if code is None:
        systems = ", ".join([*context.settings.national_icd10, ICD10_WHO])
        _error(
            item,
            "code-invalid",
            f"no ICD-10 coding (systems {systems}) in code ({described(concept)})",
            "code",
        )
    clinical = code_in(resource.get("clinicalStatus"), CONDITION_CLINICAL)
    verification = code_in(resource.get("verificationStatus"), CONDITION_VERIFICATION)
    removed = clinical in _REMOVED_CLINICAL or verification in _REMOVED_VERIFICATION
    if removed:
        occurred = _occurred(item, resource, context, "abatementDateTime", "meta.lastUpdated", "recordedDate")
    else:
        occurred = _occurred(item, resource, context, "recordedDate", "onsetDateTime", "meta.lastUpdated")
    if item.failed or code is None or occurred is None:
        return
    data: dict[str, Any] = {"code": code}
    display = next(
        (c.get("display") for c in codings(concept) if c.get("code") == code and c.get("display")), None
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
    ours = code_in(concept, LAB_SYSTEM)
    if ours is not None and ours in labs:
        return ours
    loinc = code_in(concept, LOINC)
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


def map_observation(item: EntryMap, resource: Mapping[str, Any], context: Context) -> None:
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
    fact = LOINC_FACTS.get(code_in(concept, LOINC) or "") or code_in(concept, PREGNANCY_SYSTEM)
    if fact is not None and fact in PREGNANCY_FACTS:
        _fact(item, resource, context, fact=fact, patient=patient, reference=reference)
        return
    labs = context.settings.labs
    values: list[tuple[str, str, Any, str]] = []  # (lab, suffix, quantity, path)
    if code_in(concept, LOINC) == LOINC_BP_PANEL:
        for i, component in enumerate(as_list(resource.get("component"))):
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
                f"no mapping for code ({described(concept)}): carepath maps {LAB_SYSTEM} codes "
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
    context: Context,
    *,
    fact: str,
    patient: dict[str, Any],
    reference: str,
) -> None:
    assert item.resource_id is not None and item.version is not None
    value: Any
    if PREGNANCY_FACTS[fact] == "date":
        raw = resource.get("valueDateTime")
        value = raw[:10] if isinstance(raw, str) and DATE.match(raw[:10]) else None
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


def map_encounter(item: EntryMap, resource: Mapping[str, Any], context: Context) -> None:
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
    for concept in as_list(resource.get("type")):
        kind = kind or code_in(concept, ENCOUNTER_KIND_SYSTEM)
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
