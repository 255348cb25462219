"""Issue 16 items 1 and 11 as properties of evaluate(): an urgent message's time is its
trigger's time, at any hour; a message that is not urgent fires then too (her inbox copy) and
only its notice is placed in the send window."""

from datetime import date, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from carepath.engine.catalogue import Catalogue, load_labs
from carepath.engine.compiler import compile_text
from carepath.engine.facts import Event, Facts
from carepath.engine.library import Library
from carepath.engine.runtime import Settings, State, evaluate

PATHWAY = """
pathway: p
title: t
rules:
  - id: welcome
    on: enrolled
    do:
      - push: {content: danger-signs, urgent: true}
      - push: {content: hello}
  - id: severe
    on: {event: lab.result, code: bp_systolic}
    do:
      - push: {content: danger-signs, urgent: true}
      - remind: {content: danger-signs, urgent: true, not_after: {edd: 0d}}
      - questionnaire: {form: bp-log, urgent: true}
      - push: {content: bp-info}
"""
#: Content and forms unchecked: these properties test the runtime, not the review notes.
COMPILED = compile_text(PATHWAY, catalogue=Catalogue(labs=load_labs()))
assert COMPILED.ok, COMPILED.problems
LIBRARY = Library(COMPILED.pathways)
WINDOW = Settings().window
URGENT = ("danger-signs", "bp-log")


def _facts(enrolled_at: datetime) -> Facts:
    return Facts(pregnancy_id="p", enrolled_at=enrolled_at, lmp=date(2026, 1, 5), gravida=1, para=0)


@settings(max_examples=100, deadline=None)
@given(
    enrolled_minute=st.integers(0, 24 * 60 - 1),
    after_minutes=st.integers(1, 60 * 24 * 150),
)
def test_an_urgent_message_goes_at_its_triggers_time(enrolled_minute, after_minutes):
    enrolled_at = datetime(2026, 3, 2, tzinfo=WINDOW.zone) + timedelta(minutes=enrolled_minute)
    first = evaluate(LIBRARY, State(_facts(enrolled_at)), None, enrolled_at)
    now = enrolled_at + timedelta(minutes=after_minutes)
    event = Event("bp1", "lab.result", now, {"code": "bp_systolic", "value": 166, "unit": "mmHg"})
    second = evaluate(LIBRARY, first.state, event, now)

    for evaluation, trigger_time in ((first, enrolled_at), (second, now)):
        urgent = [a for a in evaluation.actions if a.params.get("urgent")]
        assert urgent and {a.params.get("content") or a.params.get("form") for a in urgent} <= set(URGENT)
        assert all(a.at == trigger_time for a in urgent)
        assert not any(a.dedupe_key in evaluation.fired_at for a in urgent)
        (other,) = [a for a in evaluation.actions if not a.params.get("urgent")]
        # item 11: the notice is placed in the window; it fired (her inbox copy) at the trigger
        assert other.at == WINDOW.place(trigger_time)
        assert evaluation.fired_at.get(other.dedupe_key, other.at) == trigger_time
