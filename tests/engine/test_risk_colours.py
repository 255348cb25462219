"""Issue 17 items 2, 4 and 5 (colour half): the five-colour suggestions of the built-in library
against 附件2, at the edges of each band, and what the registration screen makes them do.

Each case registers a woman at 8+0 (30 at the EDD, BMI 21.5) on the real library and looks at
the colours suggested (and tasks opened) that day; docs/pathway-library.md, "Risk colours
(附件2)", lists each interval and the side each shared edge was given to.
"""

from __future__ import annotations

from typing import Any

import pytest

from carepath.engine.simulate import Row
from tests.engine.test_library import run_persona

REGISTERED = "2026-03-02T10:00:00+08:00"  # 8+0
LATER = "2026-03-02T11:00:00+08:00"
CLEAR_SCREEN: dict[str, Any] = {
    "previous_caesarean": "no",
    "other_uterine_surgery": "no",
    "uterine_surgery_interval": "no_surgery",
    "fibroid": "no",
    "conception": "natural",
    "fetuses": "one",
    "abortions": "none",
    "poor_outcomes": ["none"],
    "history": ["none"],
    "drug_treatment": ["none"],
}


def _day(events: list[dict[str, Any]], until: str = "2026-03-02", **patient: Any) -> list[Row]:
    base = {
        "id": "c",
        "lmp": "2026-01-05",
        "birth_date": "1996-06-01",
        "pre_pregnancy": {"height_cm": 160, "weight_kg": 55},
        "plurality": 1,
        "enrolled_at": REGISTERED,
    }
    numbered = [{"id": f"e{i}", "occurred_at": LATER, **e} for i, e in enumerate(events)]
    return run_persona({"patient": {**base, **patient}, "events": numbered, "until": until})


def _screen(**answers: Any) -> dict[str, Any]:
    return {
        "type": "questionnaire.submitted",
        "data": {"form": "registration-risk-screen", "answers": {**CLEAR_SCREEN, **answers}},
    }


def _lab(code: str, value: float, unit: str) -> dict[str, Any]:
    return {"type": "lab.result", "data": {"code": code, "value": value, "unit": unit}}


def _colours(rows: list[Row]) -> list[str]:
    return [r.summary.split(":")[0] for r in rows if r.action == "risk"]


def _tasks(rows: list[Row]) -> list[str]:
    return [f"{r.pathway}/{r.rule}" for r in rows if r.action == "task"]


# --- green after the screen, and only then ---


def test_green_is_suggested_after_a_clear_screen_and_not_at_registration():
    assert _colours(_day([])) == []
    rows = _day([_screen()])
    assert [(r.rule, r.summary) for r in rows if r.action == "risk"] == [
        ("green-after-screen", "green: 建册问卷已填写，未见风险因素")
    ]


def test_no_green_after_the_screen_when_a_registration_fact_suggested_a_colour():
    assert _colours(_day([_screen()], birth_date="1988-01-01")) == ["yellow"]  # 38 at the EDD


@pytest.mark.parametrize(
    ("answers", "colours"),
    [
        ({"previous_caesarean": "once", "uterine_surgery_interval": "18_months_or_more"}, ["yellow"]),
        ({"previous_caesarean": "once", "uterine_surgery_interval": "under_18_months"}, ["orange", "yellow"]),
        (
            {"previous_caesarean": "twice_or_more", "uterine_surgery_interval": "18_months_or_more"},
            ["orange"],
        ),
        # caesarean + myomectomy: two uterine operations of any kind (附件2 orange 3.5)
        (
            {
                "previous_caesarean": "once",
                "other_uterine_surgery": "once",
                "uterine_surgery_interval": "18_months_or_more",
            },
            ["orange", "yellow"],
        ),
        ({"other_uterine_surgery": "once", "uterine_surgery_interval": "18_months_or_more"}, ["yellow"]),
        ({"abortions": "two"}, ["green"]),  # 附件2 1.5 counts abortions from 3
        ({"abortions": "three_or_more"}, ["yellow"]),
        ({"poor_outcomes": ["ectopic"]}, ["yellow"]),
        ({"poor_outcomes": ["molar"]}, ["yellow"]),
        ({"poor_outcomes": ["perinatal_death"]}, ["yellow"]),
        ({"poor_outcomes": ["birth_defect"]}, ["yellow"]),
        ({"poor_outcomes": ["preterm"]}, ["yellow"]),
        ({"fetuses": "two"}, ["yellow"]),
        ({"fetuses": "three_or_more"}, ["orange"]),
        ({"history": ["thyroid"]}, ["yellow"]),
        ({"history": ["thyroid"], "drug_treatment": ["thyroid_drug"]}, ["orange", "yellow"]),
        ({"history": ["diabetes"]}, ["yellow"]),  # from the 孕前糖尿病 tag
        ({"history": ["diabetes"], "drug_treatment": ["diabetes_drug"]}, ["orange", "yellow"]),
        ({"history": ["heart"]}, ["yellow"]),  # at least yellow; the doctor grades it
        ({"history": ["chronic_hypertension"]}, ["yellow"]),
        ({"history": ["previous_preeclampsia"]}, ["green"]),  # no colour of its own: aspirin task
        ({"history": ["previous_gestational_hypertension"]}, ["green"]),
        ({"history": ["anaemia_past"]}, ["green"]),
        ({"fibroid": "yes"}, []),  # 附件2 1.7 needs a size: no green, no colour
    ],
)
def test_what_the_screen_suggests(answers, colours):
    assert sorted(_colours(_day([_screen(**answers)]))) == sorted(colours)


def test_a_past_anaemia_does_not_enrol_the_iron_plan_and_a_current_one_does():
    past = _day([_screen(history=["anaemia_past"])], until="2026-03-09")
    now = _day([_screen(history=["anaemia_now"])], until="2026-03-09")  # its welcome waits 3 days
    assert "anaemia" not in {r.pathway for r in past}
    assert "anaemia" in {r.pathway for r in now}


def test_heart_disease_and_previous_preeclampsia_open_the_grading_and_one_aspirin_task():
    rows = _day([_screen(history=["heart", "previous_preeclampsia", "chronic_hypertension"])])
    assert _tasks(rows) == [
        "registration-follow-up/heart-grading",
        "registration-follow-up/aspirin-previous-preeclampsia",
    ]


def test_an_unknown_interval_after_a_scar_asks_the_nurse():
    rows = _day([_screen(previous_caesarean="once", uterine_surgery_interval="unsure")])
    assert "registration-follow-up/scar-interval-unknown" in _tasks(rows)


# --- labs: every band with its ends (附件2 2.6) ---


@pytest.mark.parametrize(
    ("hb", "colour"),
    [
        (110, None),  # anaemia is Hb < 110
        (109.9, "yellow"),
        (60.1, "yellow"),
        (60, "orange"),  # shared edge 60: the higher colour
        (40.1, "orange"),
        (40, "red"),  # red is Hb <= 40 (recalled)
        (25, "red"),
    ],
)
def test_haemoglobin_bands(hb, colour):
    rows = _day([_lab("hb", hb, "g/L")])
    assert _colours(rows) == ([colour] if colour else [])


@pytest.mark.parametrize(
    ("platelets", "colour"),
    [
        (100, None),  # thrombocytopenia is PLT < 100
        (99, "yellow"),
        (50.1, "yellow"),
        (50, "orange"),  # shared edge 50: the higher colour
        (30, "orange"),  # red is PLT < 30 (recalled)
        (29.9, "red"),
    ],
)
def test_platelet_bands(platelets, colour):
    rows = _day([_lab("platelets", platelets, "10^9/L")])
    assert _colours(rows) == ([colour] if colour else [])


# --- codes and medications ---


@pytest.mark.parametrize(
    ("code", "colour"),
    [
        ("O30.001", "yellow"),  # twins
        ("O30.101", "orange"),  # triplets
        ("O30.2", "orange"),  # quadruplets
        ("O24.000", "orange"),  # pre-existing, insulin-dependent
        ("O24.100", "yellow"),  # pre-existing, drugs unknown
        ("O15.000", "orange"),  # eclampsia: at least orange
        ("O14.200", "orange"),  # HELLP
    ],
)
def test_codes_after_booking(code, colour):
    rows = _day([{"type": "diagnosis.added", "data": {"code": code}}])
    assert _colours(rows) == [colour]


def test_insulin_makes_gdm_orange_and_levothyroxine_thyroid_disease():
    gdm = _day(
        [
            {"type": "diagnosis.added", "data": {"code": "O24.401"}},
            {"type": "medication.prescribed", "data": {"code": "insulin"}},
        ]
    )
    assert [(r.rule, r.summary.split(":")[0]) for r in gdm if r.action == "risk"] == [
        ("gdm-yellow", "yellow"),
        ("drug-treated-diabetes-orange", "orange"),
    ]
    metformin_alone = _day([{"type": "medication.prescribed", "data": {"code": "metformin"}}])
    assert _colours(metformin_alone) == []  # may be for something else: no diabetes known
    thyroid = _day([{"type": "medication.prescribed", "data": {"code": "levothyroxine"}}])
    assert _colours(thyroid) == ["orange"]


def test_icp_is_yellow_once_confirmed_not_on_the_code_alone():
    code_only = _day([{"type": "diagnosis.added", "data": {"code": "O26.600"}}])
    assert "yellow" not in _colours(code_only)
    confirmed = _day([{"type": "diagnosis.added", "data": {"code": "O26.600"}}, _lab("tba", 10, "µmol/L")])
    assert ("icp-yellow-on-tba", "yellow") in [
        (r.rule, r.summary.split(":")[0]) for r in confirmed if r.action == "risk"
    ]


# --- infections (infections.yaml) ---


def test_a_hbv_carrier_is_yellow_and_hepatitis_is_purple():
    carrier = _day([], diagnoses=[{"code": "Z22.501"}])
    assert _colours(carrier) == ["yellow"]
    assert "infections/carrier" in _tasks(carrier)
    hepatitis = _day([], diagnoses=[{"code": "O98.401"}])
    assert _colours(hepatitis) == ["purple"]
    assert {"infections/hepatitis", "risk-colour/case-management"} <= set(_tasks(hepatitis))


@pytest.mark.parametrize(
    ("code", "task"),
    [
        ("O98.101", "infections/syphilis"),
        ("O98.701", "infections/hiv"),
        ("B20", "infections/hiv"),
        ("O98.001", "infections/tb"),
        ("B18.101", "infections/hepatitis"),
    ],
)
def test_an_infection_diagnosed_after_booking_is_purple_with_its_prevention_task(code, task):
    rows = _day([{"type": "diagnosis.added", "data": {"code": code}}])
    assert _colours(rows) == ["purple"]
    assert task in _tasks(rows)


def test_a_gonorrhoea_code_is_yellow_and_another_infection_goes_to_the_doctor():
    assert _colours(_day([{"type": "diagnosis.added", "data": {"code": "O98.201"}}])) == ["yellow"]
    other = _day([{"type": "diagnosis.added", "data": {"code": "O98.501"}}])
    assert _colours(other) == [] and _tasks(other) == ["infections/other-infection"]
