"""The compiler: data-driven conformance cases, spec objects, hashing, robustness."""

from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from carepath.engine.catalogue import Catalogue, load_catalogue
from carepath.engine.compiler import PASSES, compile_text
from carepath.engine.spec import (
    AllOf,
    AnyOf,
    At,
    CodePattern,
    Compare,
    Every,
    HasCode,
    HasTag,
    Not,
    OnEvent,
    Point,
)

CASES_DIR = Path(__file__).parent.parent / "cases" / "compile"
CASES = [
    case for path in sorted(CASES_DIR.glob("*.yaml")) for case in yaml.safe_load(path.read_text("utf-8"))
]


def case_catalogue() -> Catalogue:
    """The built-in catalogue, plus the placeholder content keys the cases use (x, y)."""
    base = load_catalogue()
    assert base.content_keys is not None
    return replace(base, content_keys=base.content_keys | {"x", "y"})


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_conformance_case(case):
    result = compile_text(case["pathway"], "case.yaml", catalogue=case_catalogue())
    found = [f"{p.location.line}:{p.location.column}: {p.code}" for p in result.problems]
    assert found == case["expect"], [str(p) for p in result.problems]
    if "message_contains" in case:
        assert case["message_contains"] in " ".join(p.message for p in result.problems)
    assert result.ok == (case.get("valid", False) or not case["expect"])


def test_passes_run_in_the_documented_order():
    assert [name for name, _ in PASSES] == ["load", "schema", "parse", "resolve", "type-check", "freeze"]


GDM = """
pathway: gdm
title: 妊娠期糖尿病管理
audience:
  any:
    - icd10: O24.4
    - tag: 妊娠期糖尿病
exit: {any: [{status: ended}, {days_since_delivery: {gte: 84}}]}
rules:
  - id: ogtt-reminder
    at: {gestational_age: "24+0"}
    catch_up: latest
    catch_up_within: 2w
    when: {not: {visit: ogtt}}
    do: [{remind: {content: ogtt-reminder}}]
  - id: glucose-log
    every: {interval: 1w, from: enrolled, until: {gestational_age: "37+0"}}
    do: [{questionnaire: {form: gdm-glucose-log, due: 2d}}]
  - id: high-fasting
    on: {event: questionnaire.submitted, form: gdm-glucose-log}
    when: {answer: {form: gdm-glucose-log, item: fasting_glucose, gte: 5.3}}
    do:
      - remind: {content: anc-next-contact, after: 6w, slot: next-anc-contact, not_after: {gestational_age: "40+0"}}
  - id: hdp
    on: {event: diagnosis.added}
    when: {icd10: [O10-O11, O13-O16], risk_colour: [orange, red, purple]}
    do: [{risk: {colour: orange, reason: 妊娠期高血压疾病}}]
"""


def test_spec_objects_hold_typed_values():
    result = compile_text(GDM)
    assert result.ok, result.problems
    (pathway,) = result.pathways
    assert pathway.audience == AnyOf(
        (HasCode((CodePattern(prefix="O24.4"),)), HasTag(frozenset({"妊娠期糖尿病"})))
    )
    ogtt = pathway.rule("ogtt-reminder")
    assert ogtt.trigger == At(Point("gestational_age", timedelta(days=168)))
    assert ogtt.catch_up == "latest" and ogtt.catch_up_within == timedelta(weeks=2)
    log = pathway.rule("glucose-log")
    assert log.trigger == Every(
        timedelta(weeks=1), Point("enrolled", timedelta(0)), Point("gestational_age", timedelta(days=259))
    )
    assert log.catch_up_within == timedelta(weeks=1)  # defaults to the interval
    high = pathway.rule("high-fasting")
    assert high.trigger == OnEvent("questionnaire.submitted", (("form", "gdm-glucose-log"),))
    assert high.when == Compare("answer", "gte", 5.3, ("gdm-glucose-log", "fasting_glucose"))
    schedule = high.actions[0].schedule
    assert (
        schedule is not None and schedule.after == timedelta(weeks=6) and schedule.slot == "next-anc-contact"
    )
    hdp = pathway.rule("hdp")
    assert isinstance(hdp.when, AllOf)
    codes, colour = hdp.when.items
    assert codes == HasCode((CodePattern(low="O10", high="O11"), CodePattern(low="O13", high="O16")))
    assert colour == AnyOf((Compare("risk_level", "in", (2, 3)), Compare("purple", "eq", True)))
    assert isinstance(ogtt.when, Not)


def test_code_patterns_match_extended_codes_by_prefix_and_range():
    assert CodePattern(prefix="O24.4").matches("O24.401")
    assert not CodePattern(prefix="O24.4").matches("O24.0")
    hdp = CodePattern(low="O10", high="O16")
    assert hdp.matches("O14.900") and hdp.matches("O10") and not hdp.matches("O17.0")


def test_version_is_a_hash_of_meaning_not_of_layout():
    first = compile_text(GDM).pathways[0].version
    reformatted = compile_text(
        "# a comment\n" + GDM.replace("title: 妊娠期糖尿病管理", "title:   妊娠期糖尿病管理")
    )
    assert reformatted.pathways[0].version == first
    changed = compile_text(GDM.replace('"24+0"', '"26+0"'))
    assert changed.pathways[0].version != first


def test_content_and_forms_are_checked_when_the_catalogue_knows_them():
    from carepath.engine.catalogue import FormShape

    catalogue = Catalogue(
        tags=load_catalogue().tags,
        labs=load_catalogue().labs,
        content_keys=frozenset({"ogtt-reminder", "anc-next-contact"}),
        forms={"gdm-glucose-log": FormShape("gdm-glucose-log", {"fasting_glucose": "number"})},
    )
    result = compile_text(GDM.replace("anc-next-contact", "anc-next-contactt"), catalogue=catalogue)
    assert [p.code for p in result.problems] == ["unknown-content"]
    assert "did you mean 'anc-next-contact'" in result.problems[0].message
    typed = compile_text(GDM.replace("gte: 5.3", "eq: high"), catalogue=catalogue)
    assert [p.code for p in typed.problems] == ["type-mismatch"]
    item = compile_text(GDM.replace("item: fasting_glucose", "item: fasting"), catalogue=catalogue)
    assert [p.code for p in item.problems] == ["unknown-item"]


def test_hundreds_of_rules_are_refused():
    rules = "\n".join(f"  - {{id: r{i}, on: enrolled, do: [{{push: {{content: x}}}}]}}" for i in range(201))
    result = compile_text(f"pathway: p\ntitle: t\nrules:\n{rules}\n", catalogue=case_catalogue())
    assert [p.code for p in result.problems] == ["too-many-rules"]


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=400))
def test_any_text_compiles_or_fails_with_located_problems(text):
    result = compile_text(text, "fuzz.yaml")
    assert result.ok or all(p.location.line >= 1 and p.code for p in result.errors)
