"""An HIS event as posted: checked against ``his-event.schema.json`` and the engine's rules.

The shape is DSL.md's event plus ``patient``; the same schema pass and meaning checks as the
events file (located problems with stable codes), so a file and the API never disagree.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from carepath.engine import inputs, schema_check
from carepath.errors import CarepathError

#: How far ahead of the server's clock ``occurred_at`` may be (clock skew between systems).
FUTURE_TOLERANCE = timedelta(minutes=5)
#: Types whose ``data`` needs the engine's meaning checks (dating, labs, parity).
_MEANING_CHECKED = frozenset({"patient.registered", "patient.updated", "lab.result"})


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
    problems = [FieldProblem(_dotted(p), c, m) for p, c, m in schema_check.problems_of(raw, "his-event")]
    if problems:
        raise InvalidEventError(problems)
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
        checked = inputs.check_events("event", data=json.dumps([event], ensure_ascii=False).encode("utf-8"))
        found = [FieldProblem("data", p.code, p.message) for p in checked.problems if p.severity == "error"]
        if found:
            raise InvalidEventError(found)
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
