"""Behaviour diff and cohort impact: hand-checked edits, the pin/migrate model, and the cut to
the pathways an edit can reach checked against simulating everything."""

from dataclasses import replace
from datetime import date, datetime, time, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from carepath.engine.clock import TERM_DAYS
from carepath.engine.cohort import Member, synthetic_cohort
from carepath.engine.compiler import Unit, compile_units
from carepath.engine.dependencies import closure, footprint
from carepath.engine.facts import Event, Facts
from carepath.engine.impact import (
    Enrolled,
    Plan,
    advance,
    changed_pathways,
    cohort_impact,
    emitted_identity,
    impact_json,
    match,
    migrate,
    pathways_to_simulate,
    persona_diff,
    window_actions,
)
from carepath.engine.library import Library
from carepath.engine.parallel import parallel_impact
from carepath.engine.runtime import Settings, evaluate

ROOT = Path(__file__).resolve().parents[2]
ZONE = Settings().window.zone
NOW = datetime(2026, 9, 1, 12, 0, tzinfo=ZONE)

OGTT = """
pathway: ogtt-reminder
title: OGTT 提醒
rules:
  - id: ogtt
    at: {gestational_age: "24+0"}
    do: [{remind: {content: visit-4}}]
  - id: week-12
    at: {gestational_age: "12+0"}
    do: [{push: {content: week-12}}]
"""

GDM_PLAN = """
pathway: gdm-plan
title: 妊娠期糖尿病管理
audience: {icd10: O24}
rules:
  - id: glucose-log
    at: {gestational_age: "24+0"}
    do: [{questionnaire: {form: gdm-glucose-log}}]
"""


def library(*texts: str) -> Library:
    result = compile_units([Unit(f"p{n}.yaml", text.encode()) for n, text in enumerate(texts)])
    assert result.ok, result.errors
    return Library(result.pathways)


def at_ga(weeks: int, days: int = 0, *, now: datetime = NOW) -> date:
    """The LMP that puts her at weeks+days on ``now``'s day."""
    return now.date() - timedelta(days=weeks * 7 + days)


def member(pregnancy_id: str, ga_now: int, registered_weeks_ago: int = 2, **facts: object) -> Member:
    lmp = at_ga(ga_now)
    enrolled_at = NOW - timedelta(weeks=registered_weeks_ago)
    return Member(Facts(pregnancy_id=pregnancy_id, enrolled_at=enrolled_at, lmp=lmp, **facts))  # type: ignore[arg-type]


BASE = library(OGTT)
MOVED = library(OGTT.replace('"24+0"', '"26+0"'))


def test_moving_a_rule_two_weeks_moves_her_action_two_weeks_and_adds_none():
    facts = Facts(pregnancy_id="p", enrolled_at=datetime(2026, 3, 1, 10, tzinfo=ZONE), lmp=date(2026, 1, 1))
    until = datetime.combine(date(2026, 1, 1) + timedelta(days=TERM_DAYS), time(23, 59), ZONE)
    changes = persona_diff(BASE, MOVED, facts, until=until)
    assert not changes.added and not changes.removed
    [(before, after)] = changes.moved
    assert (before.rule, before.gestational_age, after.gestational_age) == ("ogtt", "24+0", "26+0")
    assert after.at - before.at == timedelta(weeks=2)


def test_a_library_against_itself_changes_nothing_for_the_demo_patients():
    lib = library(*(p.read_text() for p in sorted((ROOT / "examples/pathways").glob("*.yaml"))))
    until = datetime(2027, 3, 1, tzinfo=ZONE)
    facts = Facts(pregnancy_id="d", enrolled_at=datetime(2026, 2, 1, 9, tzinfo=ZONE), lmp=date(2026, 1, 1))
    assert persona_diff(lib, lib, facts, until=until).empty
    assert changed_pathways(lib, lib) == frozenset()


def test_cohort_impact_of_the_two_week_move_hand_checked():
    cohort = [
        member("before-24", 20),  # 24+0 and 26+0 both in the 8 weeks: moved, under migrate only
        member("between", 25),  # 24+0 has passed; 26+0 is still ahead: migrating sends it again
        member("early", 10),  # neither falls in the window
        member("not-yet", 20, registered_weeks_ago=-1),  # registers next week: not in care now
    ]
    impact = cohort_impact(BASE, MOVED, cohort, NOW, weeks=8)
    assert impact.patients == 3
    group = ("ogtt-reminder", "ogtt", "remind")
    assert impact.pin.affected == []  # all three are enrolled and stay on their version
    assert sorted(impact.migrate.affected) == ["before-24", "between"]
    assert impact.migrate.moved == {group: 1} and impact.migrate.patients_moved == {group: 1}
    assert impact.migrate.added == {group: 1} and impact.migrate.patients_gaining == {group: 1}
    assert not impact.migrate.removed


def test_new_enrolments_take_the_candidate_when_women_stay_pinned():
    base = library(GDM_PLAN)
    moved = library(GDM_PLAN.replace('"24+0"', '"26+0"'))
    diagnosed = Member(
        member("diagnosed-later", 20).facts,
        (Event("dx", "diagnosis.added", NOW + timedelta(days=3), {"code": "O24.401"}),),
    )
    already = member("already-in", 20, icd10=frozenset({"O24.401"}))
    impact = cohort_impact(base, moved, [diagnosed, already], NOW, weeks=8)
    group = ("gdm-plan", "glucose-log", "questionnaire")
    # pinned: only the woman who enrols after publication gets the new version
    assert impact.pin.affected == ["diagnosed-later"] and impact.pin.moved == {group: 1}
    # migrate: both
    assert sorted(impact.migrate.affected) == ["already-in", "diagnosed-later"]
    assert impact.migrate.moved == {group: 2}


def test_a_move_out_of_the_window_is_a_move_not_a_loss():
    # 24+0 is in the last week of the window, 26+0 after it
    impact = cohort_impact(BASE, MOVED, [member("edge", 17)], NOW, weeks=8)
    assert impact.migrate.moved == {("ogtt-reminder", "ogtt", "remind"): 1}
    assert not impact.migrate.removed and not impact.migrate.added


def test_messages_per_week_before_and_after():
    cohort = [member("before-24", 20), member("between", 25)]
    plan = Plan.build(BASE, MOVED, NOW, 8)
    report = impact_json(plan, plan.run(cohort))
    assert report["messages_per_patient_week_before"]["max"] == 1.0
    before_total = 1  # one reminder among 16 patient-weeks
    assert report["messages_per_patient_week_before"]["mean"] == round(before_total / 16, 3)
    assert report["migrate"]["messages_per_patient_week"]["mean"] == round(2 / 16, 3)
    assert report["pin"]["messages_per_patient_week"] == report["messages_per_patient_week_before"]
    assert report["changed_pathways"] == ["ogtt-reminder"] and report["migrate"]["affected_patients"] == 2


def test_states_from_the_store_give_the_same_impact_as_members():
    cohort = [member("a", 20), member("b", 25), member("c", 22, registered_weeks_ago=10)]
    plan = Plan.build(BASE, MOVED, NOW, 8)
    states = [advance(plan.before, m, NOW, plan.settings) for m in cohort]
    assert all(isinstance(s, Enrolled) for s in states)
    from_members, from_states = plan.run(cohort), plan.run([s for s in states if s is not None])
    assert impact_json(plan, from_members) == impact_json(plan, from_states)


# --- only the pathways an edit can reach ----------------------------------------------------

TAGGER = """
pathway: tagger
title: 打标签
audience: {icd10: O24}
rules:
  - id: mark
    on: enrolled
    do: [{tag: {add: [妊娠期糖尿病]}}]
"""
READER = """
pathway: reader
title: 读标签
audience: {tag: 妊娠期糖尿病}
rules:
  - id: hello
    on: enrolled
    do: [{push: {content: gdm}}]
"""


def test_the_pathways_to_simulate_follow_tags_both_ways():
    lib = library(OGTT, TAGGER, READER)
    prints = {p.id: footprint([p]) for p in lib.versions()}
    assert closure(prints, {"ogtt-reminder"}) == {"ogtt-reminder"}
    assert closure(prints, {"tagger"}) == {"tagger", "reader"}  # what it tags, reader reads
    assert closure(prints, {"reader"}) == {"tagger", "reader"}  # reader needs the tagger to run
    edited = library(OGTT, TAGGER, READER.replace("content: gdm", "content: gdm-welcome"))
    assert pathways_to_simulate(lib, edited) == {"tagger", "reader"}


LIBRARY_FILES = sorted(
    p for p in (ROOT / "carepath/pathways").glob("*.yaml") if p.name not in ("tags.yaml", "labs.yaml")
)
LIBRARY_TEXTS = {p.name: p.read_text(encoding="utf-8") for p in LIBRARY_FILES}


def library_with(name: str, old: str, new: str) -> Library:
    texts = dict(LIBRARY_TEXTS)
    assert old in texts[name], f"{name} no longer has {old!r}"
    texts[name] = texts[name].replace(old, new, 1)
    return library(*texts.values())


LIBRARY = library(*LIBRARY_TEXTS.values())
EDITS = [
    ("checkup-schedule.yaml", 'at: {gestational_age: "23+4"}', 'at: {gestational_age: "25+4"}'),
    ("gdm.yaml", "interval: 1w", "interval: 2w"),
    ("risk-colour.yaml", "O24.4}}, do: [{risk: {colour: yellow", "O24.4}}, do: [{risk: {colour: orange"),
]


@pytest.mark.parametrize(("name", "old", "new"), EDITS)
def test_simulating_only_the_reachable_pathways_gives_what_simulating_all_gives(name, old, new):
    candidate = library_with(name, old, new)
    now = datetime(2026, 8, 3, 12, tzinfo=ZONE)
    cohort = list(synthetic_cohort(400, seed=3))
    cut = Plan.build(LIBRARY, candidate, now, 8)
    full = Plan.build(LIBRARY, candidate, now, 8, everything=True)
    assert cut.simulated < full.simulated
    cut_report, full_report = (
        impact_json(cut, cut.run(cohort), None),
        impact_json(full, full.run(cohort), None),
    )
    for choice in ("pin", "migrate"):
        assert cut_report[choice]["by_action"] == full_report[choice]["by_action"]
        assert cut_report[choice]["affected"] == full_report[choice]["affected"]
    assert cut_report["patients"] == full_report["patients"] > 50
    assert cut_report["migrate"]["affected"], "the edit must change something for this cohort"


def test_parallel_impact_adds_up_to_the_same_report():
    candidate = library_with(*EDITS[0])
    plan = Plan.build(LIBRARY, candidate, NOW, 8)
    cohort = list(synthetic_cohort(600, seed=5))
    single = impact_json(plan, parallel_impact(plan, cohort, 1), None)
    forked = impact_json(plan, parallel_impact(plan, cohort, 2, chunk=150), None)
    assert single == forked


# --- properties -------------------------------------------------------------------------------


@st.composite
def cohorts(draw, ga_weeks=(6, 36)):
    members = []
    for n in range(draw(st.integers(1, 6))):
        ga = draw(st.integers(ga_weeks[0] * 7, ga_weeks[1] * 7))
        registered = draw(st.integers(0, min(ga - 5 * 7, 20 * 7)))
        lmp = NOW.date() - timedelta(days=ga)
        enrolled_at = NOW - timedelta(days=registered, hours=draw(st.integers(0, 23)))
        icd10 = frozenset(draw(st.sets(st.sampled_from(["O24.401", "O34.201"]), max_size=1)))
        events = []
        if draw(st.booleans()):
            at = NOW + timedelta(hours=draw(st.integers(1, 10 * 7 * 24)))
            events.append(Event(f"dx{n}", "diagnosis.added", at, {"code": "O24.401"}))
        facts = Facts(pregnancy_id=f"h{n}", enrolled_at=enrolled_at, lmp=lmp, icd10=icd10)
        members.append(Member(facts, tuple(events)))
    return members


SHIFTED = {
    days: library(OGTT.replace('"24+0"', f'"{(168 + days) // 7}+{(168 + days) % 7}"'), GDM_PLAN)
    for days in (-14, -3, 5, 21)
}
BASE_WITH_PLAN = library(OGTT, GDM_PLAN)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cohorts())
def test_a_library_against_itself_has_no_impact(cohort):
    impact = cohort_impact(BASE_WITH_PLAN, BASE_WITH_PLAN, cohort, NOW, weeks=8)
    for choice in (impact.pin, impact.migrate):
        assert not choice.affected and not choice.added and not choice.removed and not choice.moved
        assert choice.weekly_messages == impact.weekly_before


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cohorts(ga_weeks=(6, 12)), st.sampled_from(sorted(SHIFTED)))
def test_migrate_and_pin_agree_when_the_edited_rule_never_falls_due_in_the_window(cohort, shift):
    # at 12 weeks at most, 8 weeks (plus the look-ahead) end before the OGTT rule in any version
    plan = Plan.build(BASE_WITH_PLAN, SHIFTED[shift], NOW, 4)
    report = impact_json(plan, plan.run(cohort), None)
    assert report["pin"] == report["migrate"]
    assert not report["migrate"]["affected"]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cohorts(ga_weeks=(14, 30)), st.sampled_from(sorted(SHIFTED)))
def test_diff_counts_add_up(cohort, shift):
    """Per woman: actions after = before + added - removed, moves counted where they land."""
    plan = Plan.build(BASE_WITH_PLAN, SHIFTED[shift], NOW, 8)
    impact = plan.run(cohort)
    for choice in (impact.pin, impact.migrate):
        assert sum(choice.patients_gaining.values()) <= sum(choice.added.values())
        assert set(choice.affected) <= {m.facts.pregnancy_id for m in cohort}
    # the migrate totals, recomputed woman by woman from the runs themselves
    added = removed = 0
    for one in cohort:
        enrolled = advance(plan.before, one, NOW, plan.settings)
        if enrolled is None:
            continue
        horizon = plan.end + timedelta(weeks=plan.lookahead_weeks)
        before = window_actions(plan.before, enrolled, NOW, horizon, plan.settings)
        moved_state = migrate_state(enrolled, plan)
        after = window_actions(plan.after, moved_state, NOW, horizon, plan.settings)
        in_before = [a for a in before if a.at <= plan.end]
        in_after = [a for a in after if a.at <= plan.end]
        changes = match(*(((emitted_identity(a), a.at, a) for a in run) for run in (before, after)))
        gained = [a for a in changes.added if a.at <= plan.end]
        lost = [a for a in changes.removed if a.at <= plan.end]
        moved_in = sum(1 for b, a in changes.moved if b.at > plan.end >= a.at)
        moved_out = sum(1 for b, a in changes.moved if a.at > plan.end >= b.at)
        assert len(in_after) == len(in_before) + len(gained) - len(lost) + moved_in - moved_out
        added += len(gained)
        removed += len(lost)
    assert sum(impact.migrate.added.values()) == added
    assert sum(impact.migrate.removed.values()) == removed


def migrate_state(enrolled, plan):
    """The migrate choice by hand: evaluated at now under the published library, re-pinned."""
    tick = evaluate(plan.before, enrolled.state, None, NOW, plan.settings)
    return replace(enrolled, state=migrate(tick.state, plan.after, plan.changed))


def test_a_new_pathway_reaches_women_in_care_at_their_next_event():
    """As the engine runs: a clock tick re-checks only audiences on calendar facts
    (runtime ``_only_time_moved``), so a woman already in care meets a new pathway's diagnosis
    audience at her next event, not at publication."""
    added = library(OGTT, GDM_PLAN)
    lab = Event("lab", "lab.result", NOW + timedelta(days=10), {"code": "hb", "value": 120})
    with_event = Member(member("gdm-event", 20, icd10=frozenset({"O24.401"})).facts, (lab,))
    quiet = member("gdm-quiet", 20, icd10=frozenset({"O24.401"}))
    impact = cohort_impact(BASE, added, [with_event, quiet, member("other", 20)], NOW, weeks=8)
    group = ("gdm-plan", "glucose-log", "questionnaire")
    for choice in (impact.pin, impact.migrate):
        assert choice.affected == ["gdm-event"] and choice.added == {group: 1}


def test_a_pathway_taken_out_keeps_running_for_women_pinned_to_it():
    # retired versions stay loaded for the enrolments pinned to them (store/pathways.py)
    without = library(GDM_PLAN)
    impact = cohort_impact(BASE, without, [member("pinned", 20)], NOW, weeks=8)
    assert impact.pin.affected == [] and impact.migrate.affected == []
