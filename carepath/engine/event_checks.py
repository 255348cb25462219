"""The compiler's checks of what a rule takes from its triggering event (issue 16 items 2, 3):
filter keys, ``event_time`` points and forms named by the event, each against the event type's
``data`` in events.schema.json. Split from compiler.py, which calls them while parsing rules."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from carepath.engine import schema_check
from carepath.engine.conditions import Reference
from carepath.engine.loader import Path
from carepath.engine.messages import say
from carepath.engine.schema_check import suggestion
from carepath.engine.spec import Action, OnEvent, Trigger

if TYPE_CHECKING:
    from carepath.engine.compiler import Unit


def data_schema_of(event_type: str) -> dict[str, Any]:
    """The schema of an event type's ``data`` in events.schema.json ({} for internal events)."""
    events_schema: Any = schema_check.validator("events").schema
    event_schema = events_schema["$defs"]["event"]
    data_schema: dict[str, Any] = {}
    for branch in event_schema["allOf"]:
        if branch["if"]["properties"]["type"]["const"] == event_type:
            data_schema = branch["then"]["properties"]["data"]
    return data_schema


def check_event_filters(
    unit: Unit, event_type: str, filters: tuple[tuple[str, Any], ...], path: Path
) -> None:
    """Filter keys must be data fields of that event type; some values are names to resolve."""
    data_schema = data_schema_of(event_type)
    known = data_schema.get("properties", {})
    for key, value in filters:
        if known and key not in known and data_schema.get("additionalProperties") is False:
            unit.doc.error(
                (*path, key),
                "unknown-key",
                say(
                    "unknown-key/event-field", event=event_type, field=key, suggestion=suggestion(key, known)
                ),
                key=True,
            )
        elif key == "form":
            unit.references.append(Reference("form", str(value), (*path, key)))
        elif key == "tag":
            unit.references.append(Reference("tag", str(value), (*path, key)))
        elif key == "code" and event_type == "lab.result":
            unit.references.append(Reference("lab", str(value), (*path, key)))


# --- issue 16 item 2: time relative to an event -----------------------------------------------


def no_event_time(unit: Unit, raw: Any, path: Path) -> None:
    """A timed trigger has no triggering event whose time it could take."""
    if isinstance(raw, dict) and "event_time" in raw:
        unit.doc.error((*path, "event_time"), "bad-event-time", say("bad-event-time/no-event"))


def event_times(data_schema: dict[str, Any]) -> list[str]:
    """The fields of an event type's data that are a date and time (the schema's pattern)."""
    fields = data_schema.get("properties", {})
    return sorted(name for name, spec in fields.items() if spec.get("x-code") == "bad-datetime")


def check_event_times(unit: Unit, trigger: Trigger, actions: tuple[Action, ...], path: Path) -> None:
    """Each ``event_time`` of a scheduled action names a date-time field of the event type
    its rule is triggered by (``on: {event: class.booked}``), as events.schema.json says."""
    for action in actions:
        schedule = action.schedule
        if schedule is None:
            continue
        for key, point in (("at", schedule.at), ("not_after", schedule.not_after)):
            if point is None or point.anchor != "event_time":
                continue
            where = (*path, "do", action.index, action.kind, key, "event_time")
            if not isinstance(trigger, OnEvent):
                unit.doc.error(where, "bad-event-time", say("bad-event-time/no-event"))
                continue
            data_schema = data_schema_of(trigger.type)
            times = event_times(data_schema)
            if point.field in times:
                continue
            if point.field in data_schema.get("properties", {}):
                text = say("bad-event-time/not-a-time", event=trigger.type, field=point.field)
            elif not times:
                text = say("bad-event-time/no-times", event=trigger.type)
            else:
                text = say(
                    "bad-event-time/not-carried",
                    event=trigger.type,
                    field=point.field,
                    suggestion=suggestion(point.field, times),
                    times=", ".join(times),
                )
            unit.doc.error(where, "bad-event-time", text)


# --- issue 16 item 3: a form named by the event ------------------------------------------------


def check_event_forms(unit: Unit, trigger: Trigger, actions: tuple[Action, ...], path: Path) -> None:
    """``questionnaire: {form: {event_field: exam_form}}`` names a field of the rule's event
    type that names a form (``x-names: form`` in events.schema.json). Which form it names is
    known only at run time, where an unpublished one becomes a staff task (event_forms.py)."""
    for action in actions:
        chosen = action.params.get("form")
        if action.kind != "questionnaire" or not isinstance(chosen, Mapping):
            continue
        name = str(chosen["event_field"])
        where = (*path, "do", action.index, action.kind, "form", "event_field")
        if not isinstance(trigger, OnEvent):
            unit.doc.error(where, "bad-event-form", say("bad-event-form/no-event"))
            continue
        fields = data_schema_of(trigger.type).get("properties", {})
        naming = sorted(k for k, spec in fields.items() if spec.get("x-names") == "form")
        if name in naming:
            continue
        if name in fields:
            text = say("bad-event-form/not-a-form", event=trigger.type, field=name)
        elif not naming:
            text = say("bad-event-form/no-forms", event=trigger.type)
        else:
            text = say(
                "bad-event-form/not-carried",
                event=trigger.type,
                field=name,
                suggestion=suggestion(name, naming),
                fields=", ".join(naming),
            )
        unit.doc.error(where, "bad-event-form", text)
