"""The engine's per-pregnancy State as JSON, with a format version and a table of migrations.

A stored state is ``{"format": N, ...}``. ``load_state`` upgrades older formats step by step
through ``MIGRATIONS`` before decoding, so a state written by any earlier release still opens
(tests restore frozen old dumps). Bump ``FORMAT`` and add a migration when the shape changes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields
from datetime import date, datetime
from types import MappingProxyType
from typing import Any

from carepath.engine.facts import Facts
from carepath.engine.runtime import Emitted, Enrolment, State
from carepath.errors import CarepathError

FORMAT = 1

_DATE_FIELDS = {"lmp", "scan_date", "transfer_date", "documented_edd", "birth_date", "delivery_date"}
#: ``medications`` (issue 16 item 9) is optional: a state stored before it decodes with none.
_SET_FIELDS = {"tags", "icd10", "visits", "medications"}


class StateFormatError(CarepathError):
    code = "bad-state-format"


def _upgrade_0_to_1(state: dict[str, Any]) -> dict[str, Any]:
    """Format 0 (never released) had no ``pending``; kept as the example of a migration."""
    return {**state, "pending": state.get("pending", []), "format": 1}


#: from-format -> function returning the state in the next format.
MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {0: _upgrade_0_to_1}


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


def facts_to_json(facts: Facts) -> dict[str, Any]:
    return {f.name: _plain(getattr(facts, f.name)) for f in fields(facts)}


def facts_from_json(data: dict[str, Any]) -> Facts:
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
    }


def enrolment_from_json(data: dict[str, Any]) -> Enrolment:
    ended = data.get("ended_at")
    return Enrolment(
        **{
            **data,
            "started_at": datetime.fromisoformat(data["started_at"]),
            "ended_at": datetime.fromisoformat(ended) if ended else None,
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
        enrolments=tuple(enrolment_from_json(e) for e in data["enrolments"]),
        pending=tuple(emitted_from_json(p) for p in data["pending"]),
        evaluated_at=datetime.fromisoformat(evaluated) if evaluated else None,
    )
