"""Issue 16 item 7 (engine/loss.py): which codes raise loss.suspected, what an evaluation tells
the store about the hold, and, as a property of the dry-run, that a hold followed by a rejection
never sends a message whose moment passed."""

from datetime import date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from carepath.engine import loss
from carepath.engine.catalogue import Catalogue, load_labs
from carepath.engine.compiler import compile_text
from carepath.engine.facts import Event, Facts
from carepath.engine.library import Library
from carepath.engine.runtime import Settings, State, evaluate
from carepath.engine.simulate import MESSAGES, dry_run

PATHWAY = """
pathway: p
title: t
exit: {status: ended}
rules:
  - {id: welcome, on: enrolled, do: [{push: {content: hello}}]}
  - {id: r1, on: enrolled, do: [{remind: {content: x, after: 10d}}]}
  - {id: r2, on: enrolled, do: [{remind: {content: x, after: 25d}}]}
  - {id: r3, on: enrolled, do: [{remind: {content: x, after: 40d}}]}
  - {id: weekly, every: {interval: 1w, from: enrolled, until: {gestational_age: "30+0"}}, do: [{push: {content: w}}]}
  - {id: confirm, on: {event: loss.suspected}, do: [{task: {title: 确认是否妊娠丢失, assign: responsible_doctor}}]}
"""
COMPILED = compile_text(PATHWAY, catalogue=Catalogue(labs=load_labs()))
assert COMPILED.ok, COMPILED.problems
LIBRARY = Library(COMPILED.pathways)
WINDOW = Settings().window
ENROLLED = datetime(2026, 3, 2, 10, tzinfo=WINDOW.zone)


def _facts() -> Facts:
    return Facts(pregnancy_id="p", enrolled_at=ENROLLED, lmp=date(2026, 1, 5), gravida=1, para=0)


@pytest.mark.parametrize(
    ("code", "raises"),
    [
        ("O00.1", True),
        ("o03.9", True),
        ("O06", True),
        ("O36.4", True),
        ("Z37.1", True),
        ("O07.4", False),  # failed attempted abortion: a doctor's task, no hold
        ("O08.1", False),
        ("O36.5", False),
        ("Z37.0", False),  # a single live birth
        ("O24.4", False),
    ],
)
def test_loss_codes(code, raises):
    assert loss.is_loss_code(code) is raises


def test_a_loss_code_holds_once_and_confirmation_ends_the_pregnancy_with_its_reason():
    start = evaluate(LIBRARY, State(_facts()), None, ENROLLED)
    at = ENROLLED + timedelta(days=3)
    held = evaluate(LIBRARY, start.state, Event("d1", "diagnosis.added", at, {"code": "O03.9"}), at)
    assert held.loss == loss.HELD and held.state.facts.loss_suspected
    assert [a.rule_id for a in held.actions] == ["confirm"]
    again = evaluate(LIBRARY, held.state, Event("d2", "diagnosis.added", at, {"code": "O02.1"}), at)
    assert again.loss is None and not again.actions  # no second suspicion, no second task
    later = at + timedelta(days=1)
    confirmed = evaluate(
        LIBRARY,
        again.state,
        Event("c1", "loss.confirmed", later, {"confirmed_by": "张医生", "reason": "稽留流产"}),
        later,
    )
    assert confirmed.loss == loss.CONFIRMED
    facts = confirmed.state.facts
    assert (facts.status, facts.loss_suspected) == ("ended", False)
    assert {c.status for c in confirmed.cancellations} == {"cancelled"}  # p exits with the pregnancy


def test_a_rejection_lifts_and_a_loss_code_after_the_end_raises_nothing():
    start = evaluate(LIBRARY, State(_facts()), None, ENROLLED)
    at = ENROLLED + timedelta(days=3)
    held = evaluate(LIBRARY, start.state, Event("s1", "loss.suspected", at, {"reported_by": "李护士"}), at)
    assert held.loss == loss.HELD
    lifted = evaluate(LIBRARY, held.state, Event("r1", "loss.rejected", at, {"rejected_by": "张医生"}), at)
    assert lifted.loss == loss.LIFTED and not lifted.state.facts.loss_suspected
    ended = evaluate(LIBRARY, lifted.state, Event("e1", "pregnancy.ended", at, {}), at)
    after = evaluate(LIBRARY, ended.state, Event("d1", "diagnosis.added", at, {"code": "O03.9"}), at)
    assert after.loss is None and not after.state.facts.loss_suspected and not after.actions


@settings(max_examples=60, deadline=None)
@given(
    held_after=st.integers(60, 60 * 24 * 50),  # minutes after enrolment
    hold_minutes=st.integers(1, 60 * 24 * 30),
    by_code=st.booleans(),
)
def test_a_hold_then_a_rejection_never_sends_a_message_whose_moment_passed(held_after, hold_minutes, by_code):
    suspected_at = ENROLLED + timedelta(minutes=held_after)
    rejected_at = suspected_at + timedelta(minutes=hold_minutes)
    suspicion = (
        Event("s", "diagnosis.added", suspected_at, {"code": "O03.9"})
        if by_code
        else Event("s", "loss.suspected", suspected_at, {})
    )
    rejection = Event("r", "loss.rejected", rejected_at, {"rejected_by": "张医生"})
    until = ENROLLED + timedelta(days=90)
    rows = [
        r for r in dry_run(LIBRARY, _facts(), [suspicion, rejection], until=until) if r.action in MESSAGES
    ]
    assert rows
    for row in rows:
        if row.at < suspected_at:
            assert row.status == "due"  # sent before the hold
        elif row.at <= rejected_at:
            assert row.status == "skipped"  # its moment passed during the hold: never sent late
        else:
            assert row.status == "due"  # released: sent at its moment
