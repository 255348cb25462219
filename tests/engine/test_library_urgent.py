"""Issue 17 items 1 and 2 in the built-in library: the danger-sign advice of the hypertension,
GDM and twins plans goes to her at once, at any hour (``urgent: true``), with the urgent task;
eclampsia (O15) and HELLP (O14.2) open an urgent doctor task, once, however she arrives."""

from __future__ import annotations

from datetime import datetime

import pytest

from tests.engine.test_library import run_persona

NIGHT = "2026-07-01T23:10:00+08:00"  # outside the 09:00-20:00 window


def _at_night(diagnosis: str, form: str, answers: dict) -> list[tuple[str, str, str, bool]]:
    """(rule, action, content or priority, urgent) of what a submission at 23:10 brings at 23:10."""
    persona = {
        "patient": {
            "id": "u",
            "lmp": "2026-01-05",
            "birth_date": "1995-01-01",
            "diagnoses": [{"code": diagnosis}],
            "enrolled_at": "2026-03-02T10:00:00+08:00",
        },
        "events": [
            {
                "id": "x",
                "occurred_at": NIGHT,
                "type": "questionnaire.submitted",
                "data": {"form": form, "answers": answers},
            }
        ],
        "until": "2026-07-02",
    }
    moment = datetime.fromisoformat(NIGHT)
    return [
        (
            r.rule,
            r.action,
            str(r.params.get("content") or r.params.get("priority")),
            r.params.get("urgent") is True,
        )
        for r in run_persona(persona)
        if r.at == moment and r.status == "due"
    ]


BP = {"measured_on": "2026-07-01", "time_of_day": "evening"}


@pytest.mark.parametrize(
    ("answers", "tasks"),
    [
        (
            {**BP, "systolic": 166, "diastolic": 104, "symptoms": ["headache"]},
            ["severe-bp", "danger-symptoms"],
        ),
        ({**BP, "systolic": 150, "diastolic": 112, "symptoms": ["none"]}, ["severe-bp"]),
        ({**BP, "systolic": 130, "diastolic": 80, "symptoms": ["epigastric_pain"]}, ["danger-symptoms"]),
    ],
)
def test_severe_bp_or_its_symptoms_bring_urgent_advice_at_night(answers, tasks):
    found = _at_night("O13.x00", "bp-log", answers)
    assert [(rule, what) for rule, action, what, _ in found if action == "task"] == [
        (rule, "urgent") for rule in tasks
    ]
    # one advice message, however many of the signs she reported
    assert [f for f in found if f[1] == "push"] == [("urgent-advice", "push", "hypertension-urgent", True)]


def test_raised_bp_without_symptoms_brings_no_urgent_advice():
    found = _at_night("O13.x00", "bp-log", {**BP, "systolic": 145, "diastolic": 95, "symptoms": ["none"]})
    assert found == [("raised-bp", "task", "high", False)]


def test_low_glucose_brings_urgent_advice_at_night():
    answers = {"measured_on": "2026-07-01", "fasting_glucose": 3.2, "low_glucose_symptoms": "no"}
    assert _at_night("O24.401", "gdm-glucose-log", answers) == [
        ("low-glucose", "task", "urgent", False),
        ("low-glucose", "push", "gdm-low-glucose", True),
    ]


def test_regular_tightening_in_twins_brings_urgent_advice_at_night():
    answers = {"tightening": "regular", "leaking_fluid": "no", "sudden_growth": "no", "bleeding": "no"}
    assert _at_night("O30.001", "twin-symptoms", answers) == [
        ("symptom-escalation", "task", "urgent", False),
        ("symptom-escalation", "push", "multiple-pregnancy-urgent", True),
    ]


def _eclampsia_tasks(diagnoses: list[str], events: list[dict]) -> list[str]:
    persona = {
        "patient": {
            "id": "h",
            "lmp": "2026-01-05",
            "birth_date": "1995-01-01",
            "diagnoses": [{"code": code} for code in diagnoses],
            "enrolled_at": "2026-03-02T10:00:00+08:00",
        },
        "events": events,
        "until": "2026-07-31",
    }
    return [
        f"{r.at:%m-%d %H:%M} {r.rule} {r.params['priority']}"
        for r in run_persona(persona)
        if r.pathway == "hypertension" and r.action == "task"
    ]


def _diagnosis(event_id: str, code: str, at: str) -> dict:
    return {"id": event_id, "occurred_at": at, "type": "diagnosis.added", "data": {"code": code}}


@pytest.mark.parametrize(
    ("diagnoses", "events", "tasks"),
    [
        # registered with HELLP: the task at registration
        (["O14.2"], [], ["03-02 10:00 eclampsia-or-hellp-at-entry urgent"]),
        # eclampsia diagnosed at night, which also enrols her: one task, not two
        (
            [],
            [_diagnosis("d1", "O15.0", "2026-07-20T02:40:00+08:00")],
            ["07-20 02:40 eclampsia-or-hellp urgent"],
        ),
        # HELLP while she is in the plan for gestational hypertension; eclampsia later adds none
        (
            ["O13.x00"],
            [
                _diagnosis("d1", "O14.2", "2026-07-20T02:40:00+08:00"),
                _diagnosis("d2", "O15.1", "2026-07-21T03:00:00+08:00"),
            ],
            ["07-20 02:40 eclampsia-or-hellp urgent"],
        ),
        # severe pre-eclampsia (O14.1) is not eclampsia or HELLP
        (["O13.x00"], [_diagnosis("d1", "O14.1", "2026-07-20T02:40:00+08:00")], []),
    ],
)
def test_eclampsia_and_hellp_open_an_urgent_task_once(diagnoses, events, tasks):
    assert _eclampsia_tasks(diagnoses, events) == tasks
