"""The editor's preview: personas from the form or the demo files, and explained actions (the
timeline picture drawn from them is the staff pages': ``tests/webapi/staff/test_timeline_svg.py``)."""

from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from carepath.engine.compiler import compile_paths
from carepath.engine.library import Library
from carepath.engine.preview import demo_persona, persona_facts, persona_patient, preview
from carepath.engine.runtime import Settings
from carepath.engine.spec import AllOf, At, Point
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
