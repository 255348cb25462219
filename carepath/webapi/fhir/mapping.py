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

Each resource is mapped in ``resources.py`` (which documents the codes and systems it reads,
all listed in docs/fhir.md); the systems and datatype readers are
``terms.py``'s. The names below are the mapping's public face (``views.py`` and the tests use it).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

from carepath.webapi.fhir.resources import (
    Context,
    EntryMap,
    Issue,
    Settings,
    map_condition,
    map_encounter,
    map_observation,
    map_patient,
)
from carepath.webapi.fhir.terms import (
    ENCOUNTER_KIND_SYSTEM,
    HIS_ID_SYSTEM,
    ICD10_CN_DEFAULT,
    ICD10_WHO,
    ID_NUMBER_SYSTEM,
    ID_NUMBER_SYSTEMS,
    LAB_SYSTEM,
    LOINC_BP_PANEL,
    LOINC_FACTS,
    LOINC_LABS,
    PREGNANCY_SYSTEM,
    event_id,
    fhir_datetime,
    version_of,
)

__all__ = [
    "BUNDLE_TYPES",
    "ENCOUNTER_KIND_SYSTEM",
    "HIS_ID_SYSTEM",
    "ICD10_CN_DEFAULT",
    "ICD10_WHO",
    "ID_NUMBER_SYSTEM",
    "ID_NUMBER_SYSTEMS",
    "LAB_SYSTEM",
    "LOINC_BP_PANEL",
    "LOINC_FACTS",
    "LOINC_LABS",
    "PREGNANCY_SYSTEM",
    "SUPPORTED",
    "BundleRefusedError",
    "EntryMap",
    "Issue",
    "Mapped",
    "Settings",
    "fhir_datetime",
    "folded_event_id",
    "map_bundle",
]

SUPPORTED = ("Patient", "Condition", "Observation", "Encounter")
BUNDLE_TYPES = ("transaction", "collection")


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
    context = Context(settings, fhir_datetime(bundle.get("timestamp"), settings.offset))
    maps: list[EntryMap] = []
    # Patients first: other entries name them by reference.
    for index, entry in enumerate(entries):
        maps.append(_start(index, entry, bundle_type))
    for item, entry in zip(maps, entries, strict=True):
        if item.resource_type == "Patient" and not item.failed:
            map_patient(item, entry, context)
    for item, entry in zip(maps, entries, strict=True):
        if item.failed or item.resource_type == "Patient":
            continue
        resource = entry["resource"]
        if item.resource_type == "Condition":
            map_condition(item, resource, context)
        elif item.resource_type == "Observation":
            map_observation(item, resource, context)
        elif item.resource_type == "Encounter":
            map_encounter(item, resource, context)
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


def _finish_folds(context: Context) -> None:
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
