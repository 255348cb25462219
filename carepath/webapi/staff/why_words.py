"""The engine's record of why a rule fired, said in the reader's language (issue 20 items 2, 3).

Each outbox row and tag change keeps the engine's own words (``engine/runtime.py``
``describe_trigger``: "every 3d from enrolled +1d (2026-03-02)", "event risk.changed; condition
held"), which golden files and support read. A nurse reads them here: the record is read back
into the trigger it describes and said as ``preview_text`` says a trigger (入组后第1天起，每3天);
a record this module cannot read is shown as it is.
"""

from __future__ import annotations

import re
from datetime import timedelta

from carepath.engine.messages import Translate, untranslated
from carepath.engine.sentences import sentence
from carepath.engine.spec import At, Every, OnEnrolled, OnEvent, Point, Trigger
from carepath.errors import Text
from carepath.webapi.staff import preview_text
from carepath.webapi.staff.preview_text import SENTENCES, Titles

SENTENCES.update([sentence("why/condition-held", "{when} (its condition held)")])

_POINT = re.compile(
    r"^(?:GA (?P<week>\d+)\+(?P<day>\d)|(?P<anchor>enrolled|edd|delivery_date) (?P<days>[+-]\d+)d)$"
)
_EVERY = re.compile(r"^every (?P<interval>\d+)d from (?P<start>.+?)(?: \([^)]*\))?$")
_EVENT = re.compile(r"^event (?P<type>[\w.]+)(?: \((?P<filters>[^)]*)\))?$")


def _point(text: str) -> Point | None:
    found = _POINT.match(text)
    if found is None:
        return None
    if found["week"] is not None:
        return Point("gestational_age", timedelta(days=int(found["week"]) * 7 + int(found["day"])))
    return Point(found["anchor"], timedelta(days=int(found["days"])))


def _trigger(text: str) -> Trigger | None:
    """The trigger an engine record describes, or None when it is not one it writes."""
    if text == "enrolled":
        return OnEnrolled()
    if text.startswith("at "):
        point = _point(text.removeprefix("at "))
        return At(point) if point is not None else None
    every = _EVERY.match(text)
    if every is not None:
        start = _point(every["start"])
        return Every(timedelta(days=int(every["interval"])), start) if start is not None else None
    event = _EVENT.match(text)
    if event is not None:
        pairs = [pair.partition("=") for pair in (event["filters"] or "").split(", ") if "=" in pair]
        return OnEvent(event["type"], tuple((key, value) for key, _, value in pairs))
    return None


def said(record: str | None, translate: Translate = untranslated, titles: Titles | None = None) -> str:
    """The engine's record of a firing as a sentence (the record itself when unreadable)."""
    if not record:
        return ""
    text, held, _ = record.partition("; condition held")
    trigger = _trigger(text.strip())
    if trigger is None:
        return record
    when: Text = preview_text._when(trigger, titles or Titles())
    if held:
        when = Text("why/condition-held", {"when": when})
    return preview_text._render(when, translate)
