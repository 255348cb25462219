"""Issue 17 item 4: the tags a form's chosen choices carry join her facts when the response
arrives (engine/runtime.py ``_answer_tags``), so audiences and rules see them in the same
evaluation; each new tag raises ``tag.added``."""

from datetime import date, datetime, timedelta

from carepath.engine.catalogue import Catalogue, load_labs
from carepath.engine.compiler import compile_text
from carepath.engine.facts import Event, Facts
from carepath.engine.forms import make_tagger
from carepath.engine.library import Library
from carepath.engine.runtime import Settings, State, evaluate

PATHWAYS = """
pathway: scar
title: t
tags: [瘢痕子宫, 心脏病]
audience: {tag: 瘢痕子宫}
rules:
  - {id: welcome, on: enrolled, do: [{push: {content: scar-welcome}}]}
  - id: heart
    on: {event: tag.added, tag: 心脏病}
    do: [{task: {title: 评估心脏病, assign: responsible_doctor}}]
  - id: seen-on-the-response
    on: {event: questionnaire.submitted, form: registration-risk-screen}
    when: {tag: 瘢痕子宫}
    do: [{task: {title: 问卷报告瘢痕子宫, assign: responsible_nurse}}]
"""
COMPILED = compile_text(PATHWAYS, catalogue=Catalogue(labs=load_labs()))
assert COMPILED.ok, COMPILED.problems
LIBRARY = Library(COMPILED.pathways)
TAGGING = Settings(tagger=make_tagger())
ENROLLED = datetime(2026, 3, 2, 10, tzinfo=TAGGING.window.zone)
SCREEN = {
    "previous_caesarean": "once",
    "other_uterine_surgery": "no",
    "fibroid": "no",
    "conception": "natural",
    "fetuses": "one",
    "history": ["heart"],
    "poor_outcomes": ["none"],
    "abortions": "none",
    "uterine_surgery_interval": "18_months_or_more",
    "drug_treatment": ["none"],
}


def _submit(settings: Settings, answers=SCREEN):
    start = evaluate(
        LIBRARY, State(Facts(pregnancy_id="p", enrolled_at=ENROLLED, lmp=date(2026, 1, 5))), None, ENROLLED
    )
    at = ENROLLED + timedelta(hours=1)
    event = Event(
        "r1", "questionnaire.submitted", at, {"form": "registration-risk-screen", "answers": answers}
    )
    return evaluate(LIBRARY, start.state, event, at, settings)


def test_the_screen_tags_her_and_every_rule_sees_the_tags_at_once():
    result = _submit(TAGGING)
    assert {"瘢痕子宫", "心脏病"} <= result.state.facts.tags
    assert [e.pathway_id for e in result.state.enrolments] == ["scar"]  # the audience saw the tag
    assert sorted(a.rule_id for a in result.actions) == ["heart", "seen-on-the-response", "welcome"]


def test_an_answer_without_tags_adds_none_and_no_tagger_keeps_the_old_behaviour():
    plain = {**SCREEN, "previous_caesarean": "no", "history": ["none"]}
    assert not _submit(TAGGING, plain).state.facts.tags
    untagged = _submit(Settings(), SCREEN)
    assert not untagged.state.facts.tags and not untagged.actions


def test_a_tag_she_already_has_raises_nothing_again():
    first = _submit(TAGGING)
    at = ENROLLED + timedelta(days=1)
    again = evaluate(
        LIBRARY,
        first.state,
        Event("r2", "questionnaire.submitted", at, {"form": "registration-risk-screen", "answers": SCREEN}),
        at,
        TAGGING,
    )
    assert [a.rule_id for a in again.actions] == ["seen-on-the-response"]  # no second heart task
