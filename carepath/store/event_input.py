"""An HIS event as posted: checked against ``his-event.schema.json`` and the engine's rules.

The shape is DSL.md's event plus ``patient``; the same schema pass and meaning checks as the
events file (located problems with stable codes), so a file and the API never disagree.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from jsonschema import Draft202012Validator

from carepath.engine import inputs, schema_check
from carepath.engine.catalogue import Catalogue, load_catalogue
from carepath.errors import CarepathError

#: How far ahead of the server's clock ``occurred_at`` may be (clock skew between systems).
FUTURE_TOLERANCE = timedelta(minutes=5)
#: Types whose ``data`` needs the engine's meaning checks (dating, parity).
_MEANING_CHECKED = frozenset({"patient.registered", "patient.updated"})


@dataclass(frozen=True)
class FieldProblem:
    path: str
    code: str
    message: str

    def as_json(self) -> dict[str, str]:
        return {"path": self.path, "code": self.code, "message": self.message}


class InvalidEventError(CarepathError):
    """The event does not fit the contract; ``problems`` lists each field that failed."""

    code = "invalid-event"

    def __init__(self, problems: list[FieldProblem]) -> None:
        self.problems = problems
        first = problems[0]
        super().__init__(f"{first.path}: {first.message}" if first.path else first.message)


@dataclass(frozen=True)
class HisEvent:
    id: str
    type: str
    occurred_at: datetime
    data: dict[str, Any]
    his_id: str | None
    id_number: str | None
    phone: str | None
    name: str | None
    pregnancy: str | None
    body_hash: str


@cache
def catalogue() -> Catalogue:
    """The lab catalogue and tag vocabulary, read once per process (not per event)."""
    return load_catalogue()


@cache
def _validator_for(kind: Any) -> Draft202012Validator:
    """his-event.schema.json cut down to the rules of one event type (5x faster to check)."""
    schema = json.loads((schema_check.SCHEMAS_DIR / "his-event.schema.json").read_text(encoding="utf-8"))
    schema["allOf"] = [
        rule for rule in schema.get("allOf", []) if rule["if"]["properties"]["type"].get("const") == kind
    ]
    return Draft202012Validator(schema)


def _check_lab(data: dict[str, Any]) -> None:
    """The lab catalogue's unit and plausible range (as the events file check does)."""
    lab = catalogue().labs.get(data["code"])
    if lab is None:
        suggestion = schema_check.suggest(data["code"], catalogue().labs)
        raise InvalidEventError(
            [
                FieldProblem(
                    "data.code", "unknown-lab", f"no lab {data['code']!r} in the catalogue{suggestion}"
                )
            ]
        )
    unit = data.get("unit")
    if unit is not None and unit != lab.unit:
        raise InvalidEventError(
            [FieldProblem("data.unit", "bad-unit", f"{lab.code} is recorded in {lab.unit}, not {unit}")]
        )
    if not lab.plausible(float(data["value"])):
        raise InvalidEventError(
            [
                FieldProblem(
                    "data.value",
                    "implausible-lab",
                    f"{lab.code} {data['value']} {lab.unit} is outside the plausible range "
                    f"{lab.low:g}–{lab.high:g}; check the value and its unit",
                )
            ]
        )


def body_hash(raw: Any) -> str:
    """SHA-256 of the event's canonical JSON: key order and spacing do not matter."""
    text = json.dumps(raw, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _dotted(path: tuple[str | int, ...]) -> str:
    return ".".join(str(p) for p in path)


def parse_event(raw: Any, now: datetime) -> HisEvent:
    """The checked event, or InvalidEventError naming every failing field."""
    if not isinstance(raw, dict):
        raise InvalidEventError([FieldProblem("", "type-mismatch", "an event is a JSON object")])
    if not _validator_for(raw.get("type")).is_valid(raw):
        # The full schema again, only on failure: its messages name every failing field.
        problems = [FieldProblem(_dotted(p), c, m) for p, c, m in schema_check.problems_of(raw, "his-event")]
        raise InvalidEventError(problems or [FieldProblem("", "bad-value", "the event does not fit")])
    occurred_at = datetime.fromisoformat(raw["occurred_at"])
    if occurred_at > now + FUTURE_TOLERANCE:
        raise InvalidEventError(
            [
                FieldProblem(
                    "occurred_at",
                    "future-event",
                    f"occurred_at is {occurred_at.isoformat()}, after the server's clock "
                    f"({now.isoformat(timespec='seconds')}) by more than 5 minutes",
                )
            ]
        )
    data = raw.get("data") or {}
    if raw["type"] in _MEANING_CHECKED:
        event = {k: raw[k] for k in ("id", "type", "occurred_at", "data") if k in raw}
        # check_events reports quoted impossible dates (2026-02-30) as located bad-date problems.
        checked = inputs.check_events(
            "event", data=json.dumps([event], ensure_ascii=False).encode("utf-8"), catalogue=catalogue()
        )
        found = [FieldProblem("data", p.code, p.message) for p in checked.problems if p.severity == "error"]
        if found:
            raise InvalidEventError(found)
    if raw["type"] == "lab.result":
        _check_lab(data)
    patient = raw["patient"]
    id_number = patient.get("id_number")
    return HisEvent(
        id=raw["id"],
        type=raw["type"],
        occurred_at=occurred_at,
        data=data,
        his_id=patient.get("his_id"),
        id_number=id_number.upper() if id_number else None,
        phone=patient.get("phone"),
        name=patient.get("name"),
        pregnancy=patient.get("pregnancy"),
        body_hash=body_hash(raw),
    )
