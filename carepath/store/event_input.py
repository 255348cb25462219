"""An HIS event as posted: checked against ``his-event.schema.json`` and the engine's rules.

The shape is the events file's event (docs/language.md) plus ``patient``; the same schema pass
and meaning checks as the events file (located problems with stable codes), so a file and the API
never disagree.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from jsonschema import Draft202012Validator

from carepath.engine import identity, inputs, plans, schema_check
from carepath.engine.catalogue import Catalogue, load_catalogue
from carepath.errors import CarepathError

#: How far ahead of the server's clock ``occurred_at`` may be (clock skew between systems).
FUTURE_TOLERANCE = timedelta(minutes=5)
#: Types whose ``data`` needs the engine's meaning checks (dating, parity).
_MEANING_CHECKED = frozenset({"patient.registered", "patient.updated"})
#: Types whose ``data`` carries a date and time: the schema's pattern admits 2026-02-30T09:00,
#: and a rule may schedule on it (``at: {event_time: …}``), so each must be a real moment.
#: Issue 16 item 4 (the school's and booking's events).
_TIMED = frozenset(
    {
        "appointment.booked",
        "appointment.attended",
        "appointment.missed",
        "appointment.cancelled",
        "appointment.rescheduled",
        "class.booked",
        "class.cancelled",
        "class.attended",
        "course.completed",
    }
)
#: Types whose code is checked against the medication vocabulary (engine/medications.py) and
#: dates are real, by the events file's check (issue 16 item 9): ``unknown-medication``.
_MEDICATION = frozenset({"medication.prescribed", "medication.stopped"})
#: Types whose dates must be real (a baby's death day; issue 16 item 6), by the events file's check.
_NEWBORN = frozenset({"newborn.registered", "newborn.died"})
#: The field a meaning check's problem is about, when its code says it (else ``data``).
_FIELD_OF = {"unknown-medication": "data.code"}
#: The hospital's calendar: an ID number's birth date may not be after its today.
HOSPITAL_ZONE = ZoneInfo("Asia/Shanghai")
_ID_PATHS = frozenset({"patient.id_number", "patient.id_type"})


@dataclass(frozen=True)
class FieldProblem:
    path: str
    code: str
    message: str
    #: More members of the problem's entry: an ID number's ``reason`` and ``message_zh``.
    extra: tuple[tuple[str, str], ...] = ()

    def as_json(self) -> dict[str, str]:
        return {"path": self.path, "code": self.code, "message": self.message, **dict(self.extra)}


def id_number_problem(path: str, error: identity.InvalidIdNumberError) -> FieldProblem:
    """The located problem of a refused ID number: its stable reason and the Chinese words."""
    return FieldProblem(
        path,
        error.code,
        error.message,
        (("reason", error.reason), ("id_type", error.id_type), ("message_zh", error.message_zh)),
    )


def hospital_today(now: datetime) -> date:
    """The hospital's date at ``now`` (the day an ID number's birth date may not pass)."""
    return now.astimezone(HOSPITAL_ZONE).date()


def checked_document(patient: Any, now: datetime) -> identity.IdDocument | FieldProblem | None:
    """Her ID document checked (None when the event names her without one)."""
    if not isinstance(patient, dict) or not isinstance(patient.get("id_number"), str):
        return None
    id_type = patient.get("id_type")
    try:
        return identity.check_id_number(
            patient["id_number"], id_type if isinstance(id_type, str) else None, hospital_today(now)
        )
    except identity.InvalidIdNumberError as error:
        path = "patient.id_type" if error.reason == "unknown-type" else "patient.id_number"
        return id_number_problem(path, error)


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
    #: What was accepted but needs a look, for the answer (an ID number of a man ...).
    warnings: tuple[dict[str, str], ...] = field(default=())


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
    document = checked_document(raw.get("patient"), now)
    if not _validator_for(raw.get("type")).is_valid(raw) or isinstance(document, FieldProblem):
        # The full schema again, only on failure: its messages name every failing field.
        problems = [FieldProblem(_dotted(p), c, m) for p, c, m in schema_check.problems_of(raw, "his-event")]
        if isinstance(document, FieldProblem):  # the precise reason replaces the pattern's word
            problems = [document, *(p for p in problems if p.path not in _ID_PATHS)]
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
    if raw["type"] in _MEANING_CHECKED or raw["type"] in _TIMED or raw["type"] in _MEDICATION | _NEWBORN:
        event = {k: raw[k] for k in ("id", "type", "occurred_at", "data") if k in raw}
        # check_events reports quoted impossible dates (2026-02-30) as located bad-date problems.
        checked = inputs.check_events(
            "event", data=json.dumps([event], ensure_ascii=False).encode("utf-8"), catalogue=catalogue()
        )
        found = [
            FieldProblem(_FIELD_OF.get(p.code, "data"), p.code, p.message)
            for p in checked.problems
            if p.severity == "error"
        ]
        if found:
            raise InvalidEventError(found)
    if raw["type"] == "lab.result":
        _check_lab(data)
    patient = raw["patient"]
    warnings: tuple[dict[str, str], ...] = ()
    if document is not None and raw["type"] in _MEANING_CHECKED:
        data, warnings = _with_document(data, document)
    return HisEvent(
        id=raw["id"],
        type=raw["type"],
        occurred_at=occurred_at,
        data=data,
        his_id=patient.get("his_id"),
        id_number=document.number if document is not None else None,
        phone=patient.get("phone"),
        name=patient.get("name"),
        pregnancy=patient.get("pregnancy"),
        body_hash=body_hash(raw),
        warnings=warnings,
    )


def check_pathway(event: HisEvent, pathway_ids: Collection[str]) -> None:
    """A staff request (``plan.enrol_requested`` / ``plan.end_requested``, issue 16 item 4)
    names a pathway of the hospital's library, or the event is refused (422, nothing recorded)."""
    if event.type not in plans.REQUESTS:
        return
    name = str(event.data["pathway"])
    if name not in pathway_ids:
        suggestion = schema_check.suggest(name, sorted(pathway_ids))
        raise InvalidEventError(
            [
                FieldProblem(
                    "data.pathway",
                    "unknown-pathway",
                    f"no pathway {name!r} in this hospital's library{suggestion}",
                    (("message_zh", f"本院路径库中没有路径 {name}"),),
                )
            ]
        )


def _with_document(
    data: dict[str, Any], document: identity.IdDocument
) -> tuple[dict[str, Any], tuple[dict[str, str], ...]]:
    """Her birth date from the number when the event gives none (the engine's ``age_at_edd``
    needs it); a warning when the number says otherwise than the event, or says a man.

    A man's number is accepted with a warning, not refused: it is most often her partner's
    number typed in her record, which the clerk should correct, but refusing would hold up the
    HIS feed for the rare record where it is right; the answer's warnings are the contract's
    place for what was accepted but needs a look.
    """
    warnings: list[dict[str, str]] = []
    if document.birth_date is not None:
        given = data.get("birth_date")
        if given is None:
            data = {**data, "birth_date": document.birth_date.isoformat()}
        elif given != document.birth_date.isoformat():
            warnings.append(
                {
                    "code": "id-number-birth-date-mismatch",
                    "message": f"data.birth_date is {given} but the ID number says "
                    f"{document.birth_date.isoformat()}; check both",
                    "message_zh": "出生日期与证件号码中的出生日期不一致，请核对",
                }
            )
    if document.sex == "male":
        warnings.append(
            {
                "code": "id-number-male",
                "message": "the ID number's 17th digit is odd (a man's number): check that it is hers, "
                "not her partner's",
                "message_zh": "证件号码第17位为奇数（男性），请核对是否误填了配偶的证件号码",
            }
        )
    return data, tuple(warnings)
