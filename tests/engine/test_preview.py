"""The editor's preview: personas from the form or the demo files, and explained actions (the
timeline picture drawn from them is the staff pages': ``tests/webapi/staff/test_timeline_svg.py``)."""

from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from carepath.engine.compiler import Unit, compile_paths, compile_units
from carepath.engine.library import Library
from carepath.engine.preview import demo_persona, describe_condition, persona_facts, persona_patient, preview
from carepath.engine.runtime import Settings
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
    facts, events = demo_persona(ROOT / "examples/patients/demo-001.yaml")
    assert events, "the demo's events file is found next to it"
    shown = preview(LIBRARY, facts, events)
    assert shown.items and [i.row.at for i in shown.items] == sorted(i.row.at for i in shown.items)
    for item in shown.items:
        assert item.why.startswith(f"{item.row.pathway}/{item.row.rule} fired: ")
        assert item.rule_title and item.pathway_title
    ogtt = next(i for i in shown.items if i.row.rule == "ogtt")
    assert ogtt.week == 23 and ogtt.message
    assert ogtt.why == (
        "checkup-schedule/ogtt fired: at GA 23+4; condition held: "
        "gestational age < 28+0 and not visit done: ogtt and not ICD-10 O24*"
    )
    welcome = next(i for i in shown.items if i.row.pathway == "gdm" and i.row.rule == "welcome")
    assert welcome.row.why == "enrolled" and "condition held" not in welcome.why


def test_preview_json_carries_what_the_page_needs():
    facts = persona_facts({"ga_today": "30+0", "today": "2026-06-01"})
    data = preview(LIBRARY, facts).as_json()
    assert data["edd"] and data["items"]
    assert {"week", "why", "summary", "message", "params", "rule_title"} <= set(data["items"][0])


def test_conditions_in_words():
    pathway = compile_units(
        [
            Unit(
                "c.yaml",
                b"""
pathway: c
title: c
rules:
  - id: r
    on: enrolled
    when:
      any:
        - all: [{gestational_age: {between: ["24+0", "27+6"]}}, {tag: [\xe7\x98\xa2\xe7\x97\x95\xe5\xad\x90\xe5\xae\xab]}]
        - icd10: [O24.4, O10-O16]
    do: [{push: {content: week-24}}]
""",
            )
        ]
    ).pathways[0]
    assert describe_condition(pathway.rules[0].when) == (
        "(gestational age between 24+0 and 27+6 and tag 瘢痕子宫) or ICD-10 O24.4* or O10–O16"
    )
