"""The editor's preview: personas from the form or the demo files, explained actions, and the
timeline picture (escaped, deterministic, by gestational week)."""

import re
import xml.etree.ElementTree as ET
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from carepath.engine.compiler import Unit, compile_paths, compile_units
from carepath.engine.preview import demo_persona, persona_facts, persona_patient, preview
from carepath.engine.runtime import Library, Settings
from carepath.engine.spec import AllOf, At, Point
from carepath.engine.timeline_svg import FIRST_WEEK, LABEL_WIDTH, WEEK_WIDTH, timeline_svg
from carepath.errors import CompileError

ROOT = Path(__file__).resolve().parents[2]
ZONE = Settings().window.zone
LIBRARY = Library(
    compile_paths(
        sorted(
            str(p)
            for p in (ROOT / "carepath/pathways").glob("*.yaml")
            if p.name not in ("tags.yaml", "labs.yaml")
        )
    ).pathways
)
SVG = "{http://www.w3.org/2000/svg}"


def test_a_persona_by_ga_today_is_dated_and_enrolled_that_day():
    facts = persona_facts({"ga_today": "12+3", "today": "2026-03-02", "tags": ["瘢痕子宫"], "age": 36})
    assert facts.lmp == date(2026, 3, 2) - timedelta(days=87)
    assert facts.enrolled_at == datetime(2026, 3, 2, 9, 0, tzinfo=ZONE)
    assert facts.tags == {"瘢痕子宫"}
    assert facts.edd is not None and facts.birth_date is not None
    assert facts.edd.year - facts.birth_date.year == 36


def test_persona_diagnoses_risk_colour_and_enrolment_date_reach_the_facts():
    facts = persona_facts(
        {"lmp": "2026-01-05", "diagnoses": ["O24.401"], "risk_colour": "yellow", "enrolled_on": "2026-02-20"}
    )
    assert facts.icd10 == {"O24.401"} and facts.risk_colour == "yellow"
    assert facts.enrolled_at == datetime(2026, 2, 20, 9, tzinfo=ZONE)


@pytest.mark.parametrize(
    ("persona", "code"),
    [
        ({"ga_today": "12+3"}, "missing-key"),
        ({"ga_today": "53+0", "today": "2026-03-02"}, "bad-gestational-age"),
        ({"lmp": "2026-01-05", "enrolled_on": "someday"}, "bad-date"),
        ({"lmp": "2026-01-05", "enrolled_on": "2026-02-01", "risk_colour": "pink"}, None),
        ({"lmp": "2026-01-05", "enrolled_on": "2026-02-01", "age": "old"}, "out-of-range"),
        ({"lmp": "2026-01-05", "enrolled_on": "2026-02-01", "shoe_size": 38}, "unknown-key"),
    ],
)
def test_a_bad_persona_is_refused_with_a_located_coded_problem(persona, code):
    with pytest.raises(CompileError) as caught:
        persona_facts(persona)
    problems = caught.value.problems
    assert problems and all(p.location.path == "<persona>" for p in problems)
    if code:
        assert code in {p.code for p in problems}


def test_persona_fields_map_onto_the_patient_file():
    patient = persona_patient(
        {"lmp": "2026-01-05", "enrolled_on": "2026-02-01", "height_cm": 160, "weight_kg": 70}
    )
    assert patient["pre_pregnancy"] == {"height_cm": 160, "weight_kg": 70}
    assert patient["enrolled_at"] == "2026-02-01T09:00:00+08:00"


def test_preview_of_a_demo_patient_explains_every_action():
    # the reason in words (the record "checkup-schedule/ogtt fired: …" and the doctor's
    # sentence) is the page's: tests/webapi/test_preview_text.py
    facts, events = demo_persona(ROOT / "examples/patients/demo-001.yaml")
    assert events, "the demo's events file is found next to it"
    shown = preview(LIBRARY, facts, events)
    assert shown.items and [i.row.at for i in shown.items] == sorted(i.row.at for i in shown.items)
    for item in shown.items:
        assert item.trigger is not None and item.row.why
        assert item.rule_title and item.pathway_title
    ogtt = next(i for i in shown.items if i.row.rule == "ogtt")
    assert ogtt.week == 23 and ogtt.message
    assert ogtt.trigger == At(Point("gestational_age", timedelta(days=23 * 7 + 4)))
    assert isinstance(ogtt.condition, AllOf) and len(ogtt.condition.items) == 3
    welcome = next(i for i in shown.items if i.row.pathway == "gdm" and i.row.rule == "welcome")
    assert welcome.row.why == "enrolled" and welcome.condition is None


def test_preview_json_carries_what_the_page_needs():
    facts = persona_facts({"ga_today": "30+0", "today": "2026-06-01"})
    data = preview(LIBRARY, facts).as_json()
    assert data["edd"] and data["items"]
    assert {"week", "why", "summary", "message", "params", "rule_title"} <= set(data["items"][0])
    why = data["items"][0]["why"]  # the reason as data: the page says it in words
    assert {"pathway", "rule", "record", "trigger", "condition"} <= set(why) and why["trigger"]["kind"]


# --- the picture --------------------------------------------------------------------------------

HOSTILE = """
pathway: hostile
title: "<script>alert('x')</script> 标题 & more"
rules:
  - id: r1
    title: "<img src=x onerror=alert(1)>"
    at: {gestational_age: "20+0"}
    do: [{task: {title: "</title><script>alert(2)</script>", assign: school}}]
"""


def test_every_text_in_the_picture_is_inert():
    lib = Library(compile_units([Unit("h.yaml", HOSTILE.encode())]).pathways)
    facts = persona_facts({"ga_today": "10+0", "today": "2026-03-02"})
    svg = timeline_svg(preview(lib, facts), title="<script>alert(3)</script>")
    root = ET.fromstring(svg)  # well-formed: nothing broke out of its element
    assert not list(root.iter(f"{SVG}script"))
    assert "<script" not in svg and "<img" not in svg and "onerror=alert(1)>" not in svg
    assert "&lt;script&gt;alert(2)&lt;/script&gt;" in svg
    texts = " ".join(t.text or "" for t in root.iter(f"{SVG}title"))
    assert "<script>alert('x')</script> 标题 & more" in texts and "</title><script>alert(2)</script>" in texts


def test_marks_sit_at_their_gestational_week_in_their_pathway_lane():
    facts, events = demo_persona(ROOT / "examples/patients/demo-001.yaml")
    shown = preview(LIBRARY, facts, events)
    root = ET.fromstring(timeline_svg(shown))
    marks = [g for g in root.iter(f"{SVG}g") if g.get("class") == "mark"]
    assert len(marks) == len(shown.items)
    index = next(n for n, i in enumerate(shown.items) if i.row.rule == "ogtt")
    mark = next(g for g in marks if g.get("data-index") == str(index))
    shape = next(iter(mark.iter(f"{SVG}polygon")))  # a reminder is a diamond
    xs = [float(p.split(",")[0]) for p in shape.get("points").split()]
    centre = (min(xs) + max(xs)) / 2
    assert centre == pytest.approx(LABEL_WIDTH + (23 + 4 / 7 - FIRST_WEEK) * WEEK_WIDTH, abs=0.2)
    tooltip = mark.find(f"{SVG}title").text
    assert tooltip.startswith("23+4 · ") and "checkup-schedule/ogtt fired: at GA 23+4" in tooltip
    lanes = [t.text for t in root.iter(f"{SVG}text") if t.get("x") == "8"]
    assert "产检提醒" in lanes


def test_the_picture_is_deterministic():
    facts, events = demo_persona(ROOT / "examples/patients/demo-002.yaml")
    first = timeline_svg(preview(LIBRARY, facts, events))
    second = timeline_svg(preview(LIBRARY, facts, events))
    assert first == second
    assert re.search(r'width="\d+(\.\d)?"', first)


def test_the_picture_matches_the_golden_file_checked_by_eye():
    from tests.engine.golden_timeline import GOLDEN, golden_svg

    assert golden_svg() == GOLDEN.read_text(encoding="utf-8"), (
        "the timeline picture changed: run `python -m tests.engine.golden_timeline`, render it and look"
    )
