"""Persona goldens: full-pregnancy dry-runs of women over the whole built-in library.

Each tests/cases/library/*.yaml is one persona: a patient mapping, HIS events, the day the
dry-run stops and the exact timeline expected. The expectations were worked out by hand from
the pathways' rules and the calendar (LMP 2026-01-05 is a Monday, so GA N+0 falls on
2026-01-05 + 7N days); each file says what was checked. The library is compiled with the
real catalogue (content, forms, tags, labs) and the forms' scorer, as production runs it.
"""

from collections import Counter
from datetime import date, datetime, time, timedelta
from functools import cache
from pathlib import Path

import pytest
import yaml

from carepath.engine.compiler import compile_paths
from carepath.engine.facts import Facts, facts_from_patient, snapshot
from carepath.engine.forms import make_scorer
from carepath.engine.inputs import check_events, check_patient
from carepath.engine.runtime import TO_HER, Library, Settings
from carepath.engine.simulate import Row, dry_run, events_from_file

ROOT = Path(__file__).parent.parent.parent
PATHWAYS_DIR = ROOT / "carepath" / "pathways"
PERSONAS_DIR = ROOT / "tests" / "cases" / "library"
PERSONAS = {
    path.stem: yaml.safe_load(path.read_text("utf-8")) for path in sorted(PERSONAS_DIR.glob("*.yaml"))
}
SETTINGS = Settings(scorer=make_scorer())
CATALOGUE_FILES = {"tags.yaml", "labs.yaml"}
HIGH_RISK_PLANS = (
    "scarred-uterus",
    "gdm",
    "placenta-previa",
    "hypertension",
    "multiple-pregnancy",
    "advanced-maternal-age",
    "anaemia",
    "cholestasis",
)


def pathway_files() -> list[str]:
    return sorted(str(p) for p in PATHWAYS_DIR.glob("*.yaml") if p.name not in CATALOGUE_FILES)


@cache
def library() -> Library:
    result = compile_paths(pathway_files())
    assert result.ok, [str(p) for p in result.problems]
    return Library(result.pathways)


def run_persona(persona, extra_ticks=()) -> list[Row]:
    patient = check_patient("patient.yaml", yaml.safe_dump(persona["patient"], allow_unicode=True).encode())
    assert patient.ok, [str(p) for p in patient.problems]
    events = []
    if persona.get("events"):
        checked = check_events("events.yaml", yaml.safe_dump(persona["events"], allow_unicode=True).encode())
        assert checked.ok, [str(p) for p in checked.problems]
        events = events_from_file(checked.value)
    until = datetime.combine(date.fromisoformat(str(persona["until"])), time(23, 59), SETTINGS.window.zone)
    rows = dry_run(
        library(),
        facts_from_patient(patient.value),
        events,
        until=until,
        settings=SETTINGS,
        extra_ticks=extra_ticks,
    )
    if not persona.get("show_cancelled"):
        rows = [r for r in rows if r.status == "due"]
    return rows


def row_text(row: Row) -> str:
    status = "" if row.status == "due" else f" ({row.status})"
    return f"{row.at:%Y-%m-%d %H:%M} {row.gestational_age} {row.pathway}/{row.rule} {row.action} {row.summary}{status}"


def test_the_library_compiles_without_problems():
    result = compile_paths(pathway_files())
    assert [str(p) for p in result.problems] == []
    assert {p.id for p in result.pathways} >= {
        "school-weekly",
        "checkup-schedule",
        "nutrition-on-diagnosis",
        "risk-colour",
        "postpartum-and-newborn",
        "pregnancy-loss",
        *HIGH_RISK_PLANS,
    }


def test_there_are_at_least_six_personas():
    assert len(PERSONAS) >= 6


@pytest.mark.parametrize("name", sorted(PERSONAS))
def test_persona_timeline(name):
    assert [row_text(r) for r in run_persona(PERSONAS[name])] == PERSONAS[name]["expect"]


@pytest.mark.parametrize("name", sorted(PERSONAS))
def test_no_more_than_three_messages_to_her_a_day(name):
    days = Counter(
        SETTINGS.window.local_date(r.at)
        for r in run_persona(PERSONAS[name])
        if r.status == "due" and r.action in TO_HER
    )
    busiest = days.most_common(1)
    assert not busiest or busiest[0][1] <= 3, busiest


@pytest.mark.parametrize("name", sorted(PERSONAS))
def test_extra_wakeups_change_nothing(name):
    persona = PERSONAS[name]
    baseline = [(r.dedupe_key, r.at, r.status) for r in run_persona(persona)]
    ticks = [
        datetime(2026, month, day, hour, tzinfo=SETTINGS.window.zone)
        for month in range(3, 13)
        for day in (2, 11, 19, 27)
        for hour in (3, 9, 15)
    ]
    assert [(r.dedupe_key, r.at, r.status) for r in run_persona(persona, ticks)] == baseline


def test_gdm_postpartum_ogtt_reminder_comes_six_weeks_after_delivery():
    persona = PERSONAS["gdm"]
    delivery = next(e for e in persona["events"] if e["type"] == "delivery")
    delivered_on = datetime.fromisoformat(delivery["occurred_at"]).date()
    reminders = [
        r
        for r in run_persona(persona)
        if r.pathway == "gdm" and r.rule == "postpartum-ogtt" and r.action == "remind"
    ]
    assert [SETTINGS.window.local_date(r.at) for r in reminders] == [delivered_on + timedelta(weeks=6)]


def test_a_stillbirth_brings_no_postpartum_ogtt_or_newborn_reminder():
    rows = run_persona(PERSONAS["gdm-stillbirth"])
    assert not [r for r in rows if r.pathway == "postpartum-and-newborn" or r.rule == "postpartum-ogtt"]
    assert [r.rule for r in rows if r.pathway == "pregnancy-loss" and r.action == "push"] == [
        "gentle-follow-up"
    ]


def test_after_a_loss_only_the_loss_follow_up_reaches_her():
    rows = run_persona(PERSONAS["loss-at-16-weeks"])
    ended = datetime(2026, 4, 28, 16, tzinfo=SETTINGS.window.zone)
    after = [r for r in rows if r.at >= ended and r.status == "due"]
    assert {r.pathway for r in after} == {"pregnancy-loss"}
    assert [r.rule for r in rows if r.status == "cancelled"] == ["welcome"]


AUDIENCE_CODES = [
    ("O34.201", "scarred-uterus"),
    ("O24.401", "gdm"),
    ("O44.001", "placenta-previa"),
    ("O44.101", "placenta-previa"),
    ("O10.001", "hypertension"),
    ("O11.x00", "hypertension"),
    ("O13.x00", "hypertension"),
    ("O14.900", "hypertension"),
    ("O14.200", "hypertension"),
    ("O15.000", "hypertension"),
    ("O16.x00", "hypertension"),
    ("O30.001", "multiple-pregnancy"),
    ("O30.101", "multiple-pregnancy"),
    ("O99.001", "anaemia"),
    ("O26.601", "cholestasis"),
]


def _snapshot(**changes) -> dict:
    """A 31-year-old at 21+0 (EDD 2026-10-12) with ``changes``."""
    base = {"lmp": date(2026, 1, 5), "birth_date": date(1995, 1, 1)}
    facts = Facts(
        pregnancy_id="a",
        enrolled_at=datetime(2026, 3, 2, 10, tzinfo=SETTINGS.window.zone),
        **{**base, **changes},
    )
    return snapshot(facts, date(2026, 6, 1))


def _audiences(snap) -> set[str]:
    lib = library()
    return {
        p.id for p in lib.ordered() if p.id in HIGH_RISK_PLANS and lib.matcher(p.id, p.version).audience(snap)
    }


@pytest.mark.parametrize(("code", "plan"), AUDIENCE_CODES)
def test_each_plan_is_entered_by_its_icd10_codes(code, plan):
    assert _audiences(_snapshot(icd10=frozenset({code}))) == {plan}


def test_o12_is_not_a_hypertensive_disorder_here():
    assert _audiences(_snapshot(icd10=frozenset({"O12.000", "O12.200"}))) == set()


@pytest.mark.parametrize(
    ("changes", "plans"),
    [
        ({"birth_date": date(1991, 10, 12)}, {"advanced-maternal-age"}),  # 35 on the EDD itself
        ({"birth_date": date(1991, 10, 13)}, set()),  # 34 on the EDD
        ({"labs": {"hb": 109.0}}, {"anaemia"}),
        ({"labs": {"hb": 110.0}}, set()),
        ({"plurality": 2}, {"multiple-pregnancy"}),
    ],
)
def test_plans_entered_by_facts(changes, plans):
    assert _audiences(_snapshot(**changes)) == plans


def _registration_rows(**patient) -> list[Row]:
    """What the library does on the day she registers at 8+0 with ``patient`` fields."""
    base = {
        "id": "r",
        "lmp": "2026-01-05",
        "birth_date": "1995-01-01",
        "pre_pregnancy": {"height_cm": 160, "weight_kg": 55},
        "enrolled_at": "2026-03-02T10:00:00+08:00",
    }
    return run_persona({"patient": {**base, **patient}, "until": "2026-03-02"})


def _colours(rows: list[Row]) -> list[str]:
    return [r.summary.split(":")[0] for r in rows if r.action == "risk"]


def _case_management(rows: list[Row]) -> bool:
    return any(r.rule == "case-management" and r.action == "task" for r in rows)


@pytest.mark.parametrize(
    ("patient", "colours", "case_managed"),
    [
        ({}, ["green"], False),
        ({"diagnoses": [{"code": "O14.100"}]}, ["green", "orange"], True),  # severe PE
        ({"diagnoses": [{"code": "O14.000"}]}, ["green", "yellow"], False),  # mild to moderate PE
        ({"diagnoses": [{"code": "O12.000"}]}, ["green"], False),  # not a hypertensive disorder
        ({"birth_date": "1986-10-12"}, ["green", "orange"], True),  # 40 on the EDD
        ({"birth_date": "1986-10-13"}, ["green", "yellow"], False),  # 39 on the EDD
        ({"pre_pregnancy": {"height_cm": 160, "weight_kg": 64}}, ["green"], False),  # BMI 25.0, not > 25
        ({"pre_pregnancy": {"height_cm": 160, "weight_kg": 64.3}}, ["green", "yellow"], False),  # BMI 25.1
        ({"pre_pregnancy": {"height_cm": 160, "weight_kg": 71.7}}, ["green", "orange"], True),  # BMI 28.0
        ({"pre_pregnancy": {"height_cm": 160, "weight_kg": 47}}, ["green", "yellow"], False),  # BMI 18.4
        ({"tags": ["传染病"]}, ["green", "purple"], True),
    ],
)
def test_five_colour_grade_at_registration(patient, colours, case_managed):
    rows = _registration_rows(**patient)
    assert _colours(rows) == colours
    assert _case_management(rows) is case_managed


def test_hypertensive_codes_without_a_colour_go_to_the_doctor():
    rows = _registration_rows(diagnoses=[{"code": "O10.001"}])
    assert _colours(rows) == ["green"]
    assert [r.rule for r in rows if r.action == "task"] == ["hdp-ungraded-at-registration"]
