"""Properties of evaluate(): determinism, and extra wake-ups never change what she gets."""

import glob
from datetime import date, datetime, timedelta
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from carepath.engine.compiler import compile_paths
from carepath.engine.facts import Event, Facts
from carepath.engine.library import Library
from carepath.engine.runtime import Settings, State, evaluate
from carepath.engine.simulate import dry_run

ROOT = Path(__file__).resolve().parents[2]
LIBRARY = Library(compile_paths(sorted(glob.glob(str(ROOT / "examples/pathways/*.yaml")))).pathways)
ZONE = Settings().window.zone

CODES = ["O24.401", "O34.201", "O44.101", "O14.900", "O12.000", "O99.001"]
EVENT_KINDS = st.sampled_from(["diagnosis", "lab", "encounter", "questionnaire", "delivery"])


@st.composite
def pregnancies(draw):
    lmp = date(2026, 1, 1) + timedelta(days=draw(st.integers(0, 120)))
    registered_ga = draw(st.integers(5 * 7, 36 * 7))
    enrolled_at = datetime.combine(
        lmp + timedelta(days=registered_ga), datetime.min.time(), ZONE
    ) + timedelta(minutes=draw(st.integers(0, 24 * 60 - 1)))
    facts = Facts(
        pregnancy_id="p",
        enrolled_at=enrolled_at,
        lmp=lmp,
        birth_date=date(1980 + draw(st.integers(0, 25)), 6, 15),
        gravida=2,
        para=1,
        tags=frozenset(draw(st.sets(st.sampled_from(["瘢痕子宫", "妊娠期糖尿病", "高龄"])))),
        icd10=frozenset(draw(st.sets(st.sampled_from(CODES), max_size=2))),
    )
    events = []
    for i in range(draw(st.integers(0, 6))):
        at = enrolled_at + timedelta(hours=draw(st.integers(1, 200 * 24)))
        kind = draw(EVENT_KINDS)
        if kind == "diagnosis":
            event = Event(f"e{i}", "diagnosis.added", at, {"code": draw(st.sampled_from(CODES))})
        elif kind == "lab":
            event = Event(
                f"e{i}", "lab.result", at, {"code": "bp_systolic", "value": draw(st.integers(90, 180))}
            )
        elif kind == "encounter":
            event = Event(
                f"e{i}", "encounter.completed", at, {"kind": draw(st.sampled_from(["anc-contact", "ogtt"]))}
            )
        elif kind == "questionnaire":
            value = draw(st.floats(3.0, 9.0, allow_nan=False))
            event = Event(
                f"e{i}",
                "questionnaire.submitted",
                at,
                {"form": "gdm-glucose-log", "answers": {"fasting_glucose": value}},
            )
        else:
            event = Event(f"e{i}", "delivery", at, {"mode": "vaginal"})
        events.append(event)
    return facts, sorted(events, key=lambda e: e.occurred_at)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pregnancies(), st.lists(st.integers(1, 330 * 24), max_size=25))
def test_extra_wakeups_give_the_same_deliveries(pregnancy, tick_hours):
    facts, events = pregnancy
    until = facts.enrolled_at + timedelta(days=330)
    ticks = [facts.enrolled_at + timedelta(hours=h) for h in tick_hours]
    plain = dry_run(LIBRARY, facts, events, until=until)
    woken = dry_run(LIBRARY, facts, events, until=until, extra_ticks=ticks)
    assert [(r.dedupe_key, r.at, r.status) for r in woken] == [(r.dedupe_key, r.at, r.status) for r in plain]


@settings(max_examples=60, deadline=None)
@given(pregnancies(), st.integers(0, 300 * 24))
def test_evaluating_the_same_state_twice_gives_identical_keys(pregnancy, hours):
    facts, events = pregnancy
    now = facts.enrolled_at + timedelta(hours=hours)
    event = events[0] if events else None
    first = evaluate(LIBRARY, State(facts), event, now)
    second = evaluate(LIBRARY, State(facts), event, now)
    assert [a.dedupe_key for a in first.actions] == [a.dedupe_key for a in second.actions]
    assert first.state == second.state and first.next_wakeup == second.next_wakeup


@settings(max_examples=60, deadline=None)
@given(pregnancies())
def test_re_evaluating_at_the_same_moment_adds_no_actions(pregnancy):
    facts, _ = pregnancy
    first = evaluate(LIBRARY, State(facts), None, facts.enrolled_at)
    again = evaluate(LIBRARY, first.state, None, facts.enrolled_at)
    assert again.actions == ()


@settings(max_examples=60, deadline=None)
@given(pregnancies())
def test_next_wakeup_is_always_ahead(pregnancy):
    facts, _ = pregnancy
    evaluation = evaluate(LIBRARY, State(facts), None, facts.enrolled_at)
    for _ in range(60):
        if evaluation.next_wakeup is None:
            break
        assert evaluation.next_wakeup > evaluation.state.evaluated_at
        evaluation = evaluate(LIBRARY, evaluation.state, None, evaluation.next_wakeup)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pregnancies(), st.sampled_from(CODES), st.integers(1, 200 * 24), st.integers(0, 30 * 24))
def test_a_repeated_code_under_a_new_id_adds_no_actions(pregnancy, code, hours, later_hours):
    """Issue 16 item 8: the same code posted again (a resend under a new id) is no new
    occurrence, so it adds nothing a clock tick at that moment would not add."""
    facts, _ = pregnancy
    first_at = facts.enrolled_at + timedelta(hours=hours)
    again_at = first_at + timedelta(hours=later_hours)
    start = evaluate(LIBRARY, State(facts), None, facts.enrolled_at).state
    added = evaluate(LIBRARY, start, Event("first", "diagnosis.added", first_at, {"code": code}), first_at)
    repeated = evaluate(
        LIBRARY, added.state, Event("again", "diagnosis.added", again_at, {"code": code}), again_at
    )
    ticked = evaluate(LIBRARY, added.state, None, again_at)
    assert repeated.repeat
    assert [a.dedupe_key for a in repeated.actions] == [a.dedupe_key for a in ticked.actions]
    assert not any(a.occurrence == "again" for a in repeated.actions)
    assert repeated.state.facts == ticked.state.facts
