"""The engine's per-pregnancy State as JSON, with a format version and a table of migrations.

A stored state is ``{"format": N, ...}``. ``load_state`` upgrades older formats step by step
through ``MIGRATIONS`` before decoding, so a state written by any earlier release still opens
(tests restore frozen old dumps). Bump ``FORMAT`` and add a migration when the shape changes.

Format 2 (issue 16) keeps her colour as grades: ``facts.suggested_risk`` and
``facts.confirmed_risk``, each ``{colour, at, by, note}`` or null; format 1's
``facts.risk_colour`` becomes a suggestion (``by`` "", unknown rule; ``at`` the state's
``evaluated_at``). The dump also writes ``facts.risk_colour`` and ``facts.risk_colour_status``,
derived (ignored on load, like ``edd``), so SQL and the staff reads select and show the colour
conditions see without decoding.

Optional keys need no bump: from format 2 on, the decoder fills the default of every key that
is missing (a fact, a state key, a key of an enrolment or a pending action that has a default in
the engine's record), so a later change may add an optional key (per-baby outcomes, a loss
hold, medications) and still read every format-2 dump. ``facts.babies`` (issue 16 item 6) is
one: a dump without it has None, and ``Facts.newborns`` derives ``live_births`` live babies.
Only a changed meaning, a renamed or a new required key needs ``FORMAT`` + 1 and a migration.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields
from datetime import date, datetime
from types import MappingProxyType
from typing import Any

from carepath.engine.facts import Baby, Facts, Grade
from carepath.engine.runtime import Emitted, Enrolment, State
from carepath.errors import CarepathError

FORMAT = 2

_DATE_FIELDS = {"lmp", "scan_date", "transfer_date", "documented_edd", "birth_date", "delivery_date"}
#: ``medications`` (issue 16 item 9) is optional: a state stored before it decodes with none.
_SET_FIELDS = {"tags", "icd10", "visits", "medications"}
_GRADE_FIELDS = {"suggested_risk", "confirmed_risk"}
#: ``babies`` (issue 16 item 6) is optional: a state stored before it decodes with None, and
#: ``Facts.newborns`` then derives ``live_births`` live babies (a loss it never kept is unknown).
_BABY_FIELDS = {"babies"}
#: Written for readers of the stored JSON (SQL search, staff reads); derived, never loaded.
DERIVED_FACTS = ("risk_colour", "risk_colour_status")


class StateFormatError(CarepathError):
    code = "bad-state-format"


def _upgrade_0_to_1(state: dict[str, Any]) -> dict[str, Any]:
    """Format 0 (never released) had no ``pending``; kept as the example of a migration."""
    return {**state, "pending": state.get("pending", []), "format": 1}


def _upgrade_1_to_2(state: dict[str, Any]) -> dict[str, Any]:
    """Format 1 kept one colour, set by rules outright: it becomes a suggestion of an unknown
    rule, made when the state was last evaluated (issue 16 item 5)."""
    facts = dict(state["facts"])
    colour = facts.pop("risk_colour", None)
    if colour is not None:
        at = state.get("evaluated_at")
        facts["suggested_risk"] = {"colour": colour, "at": at, "by": "", "note": ""}
    return {**state, "facts": facts, "format": 2}


#: from-format -> function returning the state in the next format.
MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {0: _upgrade_0_to_1, 1: _upgrade_1_to_2}


def _plain(value: Any) -> Any:
    """Mapping proxies, tuples and sets as JSON values (sets sorted, so dumps are stable)."""
    if isinstance(value, MappingProxyType | dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, frozenset | set):
        return sorted(value)
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def stored_colour(facts: dict[str, Any]) -> dict[str, str | None]:
    """Her colour as the staff reads show it, from the ``facts`` of a stored state of any
    format without decoding it: ``risk_colour`` and ``risk_colour_status`` (``suggested`` or
    ``confirmed``; null without a colour). A format-1 row has no status: its colour was set by
    a rule, so it is a suggestion, as the migration says."""
    colour = facts.get("risk_colour")
    status = facts.get("risk_colour_status") or ("suggested" if colour else None)
    return {"risk_colour": colour, "risk_colour_status": status if colour else None}


def stored_grade(facts: dict[str, Any]) -> dict[str, Any] | None:
    """The grade behind the colour shown (``{colour, at, by, note}``: who suggested or confirmed
    it and when), from stored ``facts``; None without a colour (a format-1 row: unknown)."""
    status = stored_colour(facts)["risk_colour_status"]
    grade = facts.get("confirmed_risk" if status == "confirmed" else "suggested_risk")
    return grade if isinstance(grade, dict) else None


def grade_to_json(grade: Grade | None) -> dict[str, Any] | None:
    if grade is None:
        return None
    at = grade.at.isoformat() if grade.at else None
    return {"colour": grade.colour, "at": at, "by": grade.by, "note": grade.note}


def grade_from_json(data: dict[str, Any]) -> Grade:
    at = data.get("at")
    return Grade(
        colour=data["colour"],
        at=datetime.fromisoformat(at) if at else None,
        by=data.get("by", ""),
        note=data.get("note", ""),
    )


def baby_to_json(baby: Baby) -> dict[str, Any]:
    return {f.name: _plain(getattr(baby, f.name)) for f in fields(baby)}


def baby_from_json(data: dict[str, Any]) -> Baby:
    """A baby of a dump; a missing key keeps its default (later optional keys need no bump)."""
    known = {f.name for f in fields(Baby)}
    values = {k: v for k, v in data.items() if k in known}
    if values.get("died_on"):
        values["died_on"] = date.fromisoformat(values["died_on"])
    return Baby(**values)


def facts_to_json(facts: Facts) -> dict[str, Any]:
    data = {
        f.name: grade_to_json(getattr(facts, f.name))
        if f.name in _GRADE_FIELDS
        else [baby_to_json(b) for b in facts.babies]
        if f.name in _BABY_FIELDS and facts.babies is not None
        else _plain(getattr(facts, f.name))
        for f in fields(facts)
    }
    for name in DERIVED_FACTS:
        data[name] = getattr(facts, name)
    return data


def facts_from_json(data: dict[str, Any]) -> Facts:
    """Facts of a dump; a missing key keeps the field's default, unknown keys (derived ones)
    are ignored."""
    values: dict[str, Any] = {}
    for f in fields(Facts):
        if f.name not in data:
            continue
        raw = data[f.name]
        if raw is None:
            values[f.name] = None
        elif f.name == "enrolled_at":
            values[f.name] = datetime.fromisoformat(raw)
        elif f.name in _DATE_FIELDS:
            values[f.name] = date.fromisoformat(raw)
        elif f.name in _SET_FIELDS:
            values[f.name] = frozenset(raw)
        elif f.name in _GRADE_FIELDS:
            values[f.name] = grade_from_json(raw)
        elif f.name in _BABY_FIELDS:
            values[f.name] = tuple(baby_from_json(b) for b in raw)
        elif f.name == "answers":
            values[f.name] = MappingProxyType({k: MappingProxyType(dict(v)) for k, v in raw.items()})
        elif f.name == "labs":
            values[f.name] = MappingProxyType({k: float(v) for k, v in raw.items()})
        else:
            values[f.name] = raw
    return Facts(**values)


def _frozen(value: Any) -> Any:
    if isinstance(value, dict):
        return MappingProxyType({k: _frozen(v) for k, v in value.items()})
    if isinstance(value, list):
        return tuple(_frozen(v) for v in value)
    return value


def emitted_to_json(emitted: Emitted) -> dict[str, Any]:
    # Written out rather than through fields(): states hold many pending actions.
    return {
        "dedupe_key": emitted.dedupe_key,
        "pathway_id": emitted.pathway_id,
        "version": emitted.version,
        "rule_id": emitted.rule_id,
        "kind": emitted.kind,
        "params": _plain(emitted.params),
        "at": emitted.at.isoformat(),
        "enrolment_id": emitted.enrolment_id,
        "occurrence": emitted.occurrence,
        "slot": emitted.slot,
        "channels": list(emitted.channels),
        "why": emitted.why,
    }


def emitted_from_json(data: dict[str, Any]) -> Emitted:
    return Emitted(
        **{
            **data,
            "params": _frozen(data["params"]),
            "at": datetime.fromisoformat(data["at"]),
            "channels": tuple(data.get("channels", ())),
        }
    )


def enrolment_to_json(enrolment: Enrolment) -> dict[str, Any]:
    return {
        "id": enrolment.id,
        "pathway_id": enrolment.pathway_id,
        "version": enrolment.version,
        "started_at": enrolment.started_at.isoformat(),
        "ended_at": enrolment.ended_at.isoformat() if enrolment.ended_at else None,
        "reason": enrolment.reason,
        # Issue 16 item 4 (plans): optional on load (False when absent) so format 1 dumps open
        # unchanged; format 2 should list them.
        "manual": enrolment.manual,
        "ended_by_staff": enrolment.ended_by_staff,
    }


def enrolment_from_json(data: dict[str, Any]) -> Enrolment:
    ended = data.get("ended_at")
    return Enrolment(
        **{
            **data,
            "started_at": datetime.fromisoformat(data["started_at"]),
            "ended_at": datetime.fromisoformat(ended) if ended else None,
            "manual": bool(data.get("manual", False)),
            "ended_by_staff": bool(data.get("ended_by_staff", False)),
        }
    )


def dump_state(state: State) -> dict[str, Any]:
    """The state as JSON; ``edd`` is derived (ignored on load) so SQL can select by week."""
    edd = state.facts.edd
    return {
        "format": FORMAT,
        "edd": edd.isoformat() if edd else None,
        "facts": facts_to_json(state.facts),
        "enrolments": [enrolment_to_json(e) for e in state.enrolments],
        "pending": [emitted_to_json(p) for p in state.pending],
        "evaluated_at": state.evaluated_at.isoformat() if state.evaluated_at else None,
    }


def _upgraded(stored: dict[str, Any]) -> dict[str, Any]:
    data = dict(stored)
    version = int(data.get("format", 0))
    if version > FORMAT:
        raise StateFormatError(f"state format {version} is newer than this release ({FORMAT})")
    while version < FORMAT:
        data = MIGRATIONS[version](data)
        version = int(data["format"])
    return data


def move_enrolments(
    stored: dict[str, Any], pathway_id: str, version: str
) -> tuple[dict[str, Any], list[str]]:
    """The stored state with its active enrolments on ``pathway_id`` pinned to ``version``
    instead, and the ids of those moved; the rest is left encoded (a publish moves thousands)."""
    data = _upgraded(stored)
    moved: list[str] = []
    enrolments = []
    for stored_enrolment in data["enrolments"]:
        enrolment = stored_enrolment
        if (
            enrolment["pathway_id"] == pathway_id
            and enrolment.get("ended_at") is None
            and enrolment["version"] != version
        ):
            enrolment = {**enrolment, "version": version}
            moved.append(enrolment["id"])
        enrolments.append(enrolment)
    return {**data, "enrolments": enrolments}, moved


def load_state(stored: dict[str, Any]) -> State:
    """The State of a stored dump of any released format."""
    data = _upgraded(stored)
    evaluated = data.get("evaluated_at")
    return State(
        facts=facts_from_json(data["facts"]),
        enrolments=tuple(enrolment_from_json(e) for e in data.get("enrolments", ())),
        pending=tuple(emitted_from_json(p) for p in data.get("pending", ())),
        evaluated_at=datetime.fromisoformat(evaluated) if evaluated else None,
    )
