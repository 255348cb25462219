"""When the library's plans start on a diagnosis, and what a code or result without one opens.

Issue 17: placenta previa only from 28+0 (item 7) with the scar check at enrolment (item 3);
ICP only when confirmed, O26.6 alone is a task (item 6); pre-existing diabetes has a plan
(item 5); an abnormal OGTT or bile-acid result without a code is a task (item 8); the
previa bleeding and ICP reduced-movement advice go to her at once (item 1). The whole library
runs, as in tests/engine/test_library.py (LMP 2026-01-05 is a Monday: N+0 = 01-05 + 7N days).
"""

from datetime import date, datetime, timedelta

import pytest

from carepath.engine.facts import Facts, snapshot
from carepath.engine.simulate import Row
from tests.engine.test_library import SETTINGS, _audiences, _form, _lab, _snapshot, run_persona

LMP = date(2026, 1, 5)


def ga_day(weeks: int, days: int = 0) -> date:
    return LMP + timedelta(weeks=weeks, days=days)


def at(day: date, hour: int = 15, minute: int = 0) -> str:
    return f"{day.isoformat()}T{hour:02d}:{minute:02d}:00+08:00"


def event(n: int, when: str, type_: str, **data) -> dict:
    return {"id": f"e{n}", "occurred_at": when, "type": type_, "data": data}


def run(events=(), until: date | None = None, enrolled: date | None = None, **patient) -> list[Row]:
    """The whole library for a 31-year-old registered at ``enrolled`` (8+0 by default)."""
    enrolled = enrolled or ga_day(8)
    persona = {
        "patient": {
            "id": "d",
            "lmp": LMP.isoformat(),
            "birth_date": "1995-01-01",
            "pre_pregnancy": {"height_cm": 160, "weight_kg": 55},
            "enrolled_at": at(enrolled, 10),
            **patient,
        },
        "events": list(events),
        "until": (until or enrolled).isoformat(),
    }
    return run_persona(persona)


def rules(rows: list[Row], pathway: str | None = None, action: str | None = None) -> list[str]:
    return [
        f"{r.pathway}/{r.rule}"
        for r in rows
        if (pathway is None or r.pathway == pathway) and (action is None or r.action == action)
    ]


def colours(rows: list[Row]) -> list[str]:
    return [r.summary.split(":")[0] for r in rows if r.action == "risk"]


# --- placenta previa: 胎盘前置状态 before 28+0, the plan from 28+0 -------------------------


@pytest.mark.parametrize(
    ("weeks", "days", "plans"),
    [
        (21, 0, {"placenta-previa-rescan"}),
        (27, 6, {"placenta-previa-rescan"}),
        (28, 0, {"placenta-previa"}),  # [28+0, ...): previa
    ],
)
def test_a_previa_code_is_a_low_placenta_before_28_and_previa_from_28(weeks, days, plans):
    facts = Facts(
        pregnancy_id="a",
        enrolled_at=datetime(2026, 3, 2, 10, tzinfo=SETTINGS.window.zone),
        lmp=LMP,
        birth_date=date(1995, 1, 1),
        icd10=frozenset({"O44.001"}),
    )
    assert _audiences(snapshot(facts, ga_day(weeks, days))) == plans


def test_registered_at_27_6_with_previa_gets_no_orange_and_a_rescan_task_at_28():
    rows = run(enrolled=ga_day(27, 6), until=ga_day(31, 6), diagnoses=[{"code": "O44.001"}])
    assert "orange" not in colours(rows)
    assert "placenta-previa-rescan/rescan" in rules(rows, action="task")
    rescan = next(r for r in rows if r.rule == "rescan")
    assert SETTINGS.window.local_date(rescan.at) == ga_day(28)
    assert rescan.params["due"] == "4w"
    assert not rules(rows, "placenta-previa")


def test_registered_at_28_0_with_previa_gets_the_plan_and_orange_at_once():
    rows = run(enrolled=ga_day(28), diagnoses=[{"code": "O44.001"}])
    assert "orange" in colours(rows)
    assert "placenta-previa/welcome" in rules(rows)
    assert not rules(rows, "placenta-previa-rescan")


def test_a_low_placenta_still_coded_at_32_0_starts_the_plan_and_tells_the_doctor():
    rows = run(until=ga_day(32), diagnoses=[{"code": "O44.001"}])
    at_32 = [r for r in rows if SETTINGS.window.local_date(r.at) == ga_day(32)]
    assert "placenta-previa/rescan-result-missing" in rules(at_32, action="task")
    assert "orange" in colours(at_32)
    assert not [r for r in rows if r.pathway == "placenta-previa" and r.at.date() < ga_day(32)]


def test_a_low_placenta_removed_after_the_rescan_never_becomes_previa():
    removed = event(1, at(ga_day(29)), "diagnosis.removed", code="O44.001")
    rows = run([removed], until=ga_day(36), diagnoses=[{"code": "O44.001"}])
    assert not rules(rows, "placenta-previa")
    assert "orange" not in colours(rows)


def test_a_bleeding_previa_code_at_29_weeks_confirms_it_with_one_urgent_task():
    bleeding = event(1, at(ga_day(29, 2)), "diagnosis.added", code="O44.101")
    rows = run([bleeding], until=ga_day(29, 2), diagnoses=[{"code": "O44.001"}])
    moment = [r for r in rows if r.at == datetime.fromisoformat(at(ga_day(29, 2)))]
    assert rules(moment, action="task").count("placenta-previa/bleeding-with-diagnosis") == 1
    assert "placenta-previa-rescan/bleeding-code" not in rules(moment)
    assert "orange" in colours(moment)


@pytest.mark.parametrize("tag", ["前置胎盘已确认", "前置胎盘"])
def test_the_doctor_confirms_a_previa_after_the_rescan_with_a_tag(tag):
    confirmed = event(1, at(ga_day(29, 4)), "tag.added", tag=tag)
    rows = run([confirmed], until=ga_day(29, 4), diagnoses=[{"code": "O44.001"}])
    moment = [r for r in rows if r.at == datetime.fromisoformat(at(ga_day(29, 4)))]
    assert "placenta-previa/welcome" in rules(moment)
    assert "orange" in colours(moment)
    assert "placenta-previa/rescan-result-missing" not in rules(rows)


def test_a_bleeding_code_before_28_opens_the_urgent_task_without_the_plan():
    bleeding = event(1, at(ga_day(22)), "diagnosis.added", code="O44.101")
    rows = run([bleeding], until=ga_day(22), diagnoses=[{"code": "O44.001"}])
    assert [
        f"{r.rule} {r.params['priority']}"
        for r in rows
        if r.action == "task" and r.rule.startswith("bleeding")
    ] == ["bleeding-code urgent"]
    assert "orange" not in colours(rows)


@pytest.mark.parametrize(
    ("scar", "expected"),
    [
        (
            event(1, at(ga_day(30)), "diagnosis.added", code="O34.201"),
            "placenta-previa/scar-code-after-previa",
        ),
        (event(1, at(ga_day(30)), "tag.added", tag="瘢痕子宫"), "placenta-previa/scar-tag-after-previa"),
    ],
)
def test_a_scar_recorded_after_a_previa_opens_the_accreta_assessment_once(scar, expected):
    previa = event(0, at(ga_day(29)), "diagnosis.added", code="O44.001")
    again = {**scar, "id": "e9", "occurred_at": at(ga_day(30, 1))}
    other = (
        event(8, at(ga_day(30, 1)), "tag.added", tag="瘢痕子宫")
        if scar["type"] == "diagnosis.added"
        else event(8, at(ga_day(30, 1)), "diagnosis.added", code="O34.201")
    )
    rows = run([previa, scar, other, again], until=ga_day(30, 1))
    tasks = [r for r in rows if r.action == "task" and "凶险性前置胎盘" in r.summary]
    assert [f"{r.pathway}/{r.rule}" for r in tasks] == [expected]


@pytest.mark.parametrize("week", [22, 30])
def test_a_first_previa_code_with_bleeding_opens_one_urgent_task(week):
    bleeding = event(1, at(ga_day(week)), "diagnosis.added", code="O44.101")
    rows = run([bleeding], until=ga_day(week))
    urgent = [r for r in rows if r.action == "task" and r.params["priority"] == "urgent"]
    assert [f"{r.pathway}/{r.rule}" for r in urgent] == [
        ("placenta-previa-rescan" if week < 28 else "placenta-previa") + "/bleeding-with-diagnosis"
    ]


def test_a_scar_recorded_after_a_low_placenta_opens_the_site_check_not_the_assessment():
    scar = event(1, at(ga_day(22)), "diagnosis.added", code="O34.201")
    rows = run([scar], until=ga_day(22), diagnoses=[{"code": "O44.001"}])
    assert "placenta-previa-rescan/scar-after-low-placenta" in rules(rows, action="task")
    assert not [r for r in rows if "凶险性前置胎盘" in r.summary]


def test_the_previa_bleeding_advice_reaches_her_at_once_at_night():
    bleeding_at = at(ga_day(30, 2), 23, 10)
    form = {
        "id": "f",
        "occurred_at": bleeding_at,
        **_form("previa-bleeding", bleeding="spotting", contractions="yes"),
    }
    rows = run([form], enrolled=ga_day(29), until=ga_day(30, 3), diagnoses=[{"code": "O44.001"}])
    moment = [r for r in rows if r.at == datetime.fromisoformat(bleeding_at)]
    assert [(r.rule, r.action, r.params.get("priority")) for r in moment] == [
        ("any-bleeding", "task", "urgent"),
        ("any-bleeding", "push", None),
    ]
    assert moment[1].params["content"] == "placenta-previa-bleeding"


def test_scar_pain_at_night_brings_the_danger_signs_at_once():
    when = at(ga_day(26, 2), 23, 0)
    form = {
        "id": "f",
        "occurred_at": when,
        **_form("scar-symptoms", scar_pain="yes", bleeding="no", contractions="no"),
    }
    rows = run([form], until=ga_day(26, 2), diagnoses=[{"code": "O34.201"}])
    moment = [r for r in rows if r.at == datetime.fromisoformat(when)]
    assert [(r.rule, r.action, r.params.get("content")) for r in moment] == [
        ("symptom-escalation", "task", None),
        ("symptom-escalation", "push", "danger-signs"),
    ]


def test_previa_contractions_without_bleeding_open_a_high_task():
    when = at(ga_day(30, 2))
    form = {"id": "f", "occurred_at": when, **_form("previa-bleeding", bleeding="none", contractions="yes")}
    rows = run([form], enrolled=ga_day(29), until=ga_day(30, 2), diagnoses=[{"code": "O44.001"}])
    moment = [r for r in rows if r.at == datetime.fromisoformat(when)]
    assert [f"{r.rule} {r.params['priority']}" for r in moment if r.action == "task"] == ["contractions high"]


# --- liver disorders and ICP ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "plans"),
    [
        ({"icd10": frozenset({"O26.601"})}, set()),  # liver disorder: not yet ICP
        ({"icd10": frozenset({"O26.601"}), "labs": {"tba": 9.9}}, set()),
        ({"icd10": frozenset({"O26.601"}), "labs": {"tba": 10.0}}, {"cholestasis"}),  # [10, ...)
        ({"labs": {"tba": 25.0}}, set()),  # a result without a code: a task, not the plan
        ({"tags": frozenset({"妊娠期肝内胆汁淤积症"})}, {"cholestasis"}),
    ],
)
def test_cholestasis_starts_when_icp_is_confirmed(changes, plans):
    assert _audiences(_snapshot(**changes)) == plans


def test_an_o26_6_code_alone_opens_the_confirm_task_at_registration():
    rows = run(diagnoses=[{"code": "O26.601"}])
    assert rules(rows, action="task") == ["diagnosis-confirmation/liver-code-at-registration"]
    assert not rules(rows, "cholestasis")


def test_a_transfer_with_o26_6_and_a_high_tba_starts_the_plan_without_a_confirm_task():
    rows = run(diagnoses=[{"code": "O26.601"}], labs={"tba": 18})
    assert "cholestasis/welcome" in rules(rows)
    assert not rules(rows, "diagnosis-confirmation")


def test_reduced_fetal_movements_in_icp_bring_the_urgent_task_and_advice_at_once():
    when = at(ga_day(33), 22, 40)
    form = {
        "id": "f",
        "occurred_at": when,
        **_form("icp-itching", itching="mild", jaundice="no", fetal_movement="reduced"),
    }
    rows = run([form], until=ga_day(33), diagnoses=[{"code": "O26.601"}], labs={"tba": 18})
    moment = [r for r in rows if r.at == datetime.fromisoformat(when)]
    assert [(r.rule, r.action, r.params.get("priority"), r.params.get("content")) for r in moment] == [
        ("reduced-fetal-movement", "task", "urgent", None),
        ("reduced-fetal-movement", "push", None, "danger-signs"),
    ]


@pytest.mark.parametrize(("registered", "task_day"), [(ga_day(30), ga_day(34)), (ga_day(35), ga_day(35))])
def test_icp_has_a_delivery_timing_task_at_34_weeks_or_on_entry_after(registered, task_day):
    rows = run(enrolled=registered, until=ga_day(36), tags=["妊娠期肝内胆汁淤积症"])
    timing = [r for r in rows if r.rule == "delivery-timing"]
    assert [SETTINGS.window.local_date(r.at) for r in timing] == [task_day]
    assert timing[0].params["priority"] == "high"


# --- abnormal results without a code -------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "value", "tasks"),
    [
        ("ogtt_0h", 5.09, []),
        ("ogtt_0h", 5.1, ["diagnosis-confirmation/ogtt-fasting"]),
        ("ogtt_1h", 9.99, []),
        ("ogtt_1h", 10.0, ["diagnosis-confirmation/ogtt-1h"]),
        ("ogtt_2h", 8.49, []),
        ("ogtt_2h", 8.5, ["diagnosis-confirmation/ogtt-2h"]),
        ("tba", 9.9, []),
        ("tba", 10.0, ["diagnosis-confirmation/tba-without-diagnosis"]),
    ],
)
def test_a_result_at_a_diagnostic_threshold_without_a_code_asks_the_doctor(code, value, tasks):
    unit = "µmol/L" if code == "tba" else "mmol/L"
    when = at(ga_day(25))
    rows = run([{"id": "l", "occurred_at": when, **_lab(code, value, unit)}], until=ga_day(25))
    assert rules([r for r in rows if r.at == datetime.fromisoformat(when)], action="task") == tasks


@pytest.mark.parametrize("diagnosis", ["O24.401", "O24.101"])
def test_an_ogtt_result_after_a_diabetes_code_asks_nothing(diagnosis):
    when = at(ga_day(25))
    lab = {"id": "l", "occurred_at": when, **_lab("ogtt_2h", 9.0, "mmol/L")}
    rows = run([lab], until=ga_day(25), diagnoses=[{"code": diagnosis}])
    assert not rules(rows, "diagnosis-confirmation")


def test_the_confirm_tag_goes_when_the_plan_starts():
    lab = {"id": "l", "occurred_at": at(ga_day(25)), **_lab("ogtt_1h", 10.2, "mmol/L")}
    code = event(2, at(ga_day(25, 2)), "diagnosis.added", code="O24.401")
    rows = run([lab, code], until=ga_day(25, 2))
    assert [r.summary for r in rows if r.pathway == "diagnosis-confirmation" and r.action == "tag"] == [
        "+待确认妊娠期糖尿病",
        "-待确认妊娠期糖尿病",
    ]


def test_a_transfer_with_an_abnormal_ogtt_and_no_code_is_asked_about_at_registration():
    rows = run(enrolled=ga_day(26), labs={"ogtt_1h": 10.4})
    assert rules(rows, action="task") == ["diagnosis-confirmation/ogtt-at-registration"]


def test_each_bile_acid_result_without_a_diagnosis_opens_its_own_task():
    labs = [
        {"id": "a", "occurred_at": at(ga_day(30)), **_lab("tba", 12, "µmol/L")},
        {"id": "b", "occurred_at": at(ga_day(32)), **_lab("tba", 30, "µmol/L")},
    ]
    rows = run(labs, until=ga_day(32))
    assert rules(rows, action="task") == ["diagnosis-confirmation/tba-without-diagnosis"] * 2


# --- pre-existing diabetes -----------------------------------------------------------------


def test_gdm_is_not_pre_existing_diabetes():
    assert _audiences(_snapshot(icd10=frozenset({"O24.401"}))) == {"gdm"}


@pytest.mark.parametrize(("weeks", "days", "aspirin"), [(15, 6, True), (16, 0, False)])
def test_the_aspirin_task_is_for_women_who_enter_before_16_weeks(weeks, days, aspirin):
    rows = run(enrolled=ga_day(weeks, days), diagnoses=[{"code": "O24.101"}])
    assert ("pregestational-diabetes/aspirin-before-16" in rules(rows)) is aspirin


def test_pre_existing_diabetes_plan_ends_42_days_after_a_live_birth():
    delivery = event(1, at(ga_day(38)), "delivery", newborns=[{"outcome": "live"}])
    rows = run([delivery], until=ga_day(38) + timedelta(days=60), diagnoses=[{"code": "O24.001"}])
    after = [r for r in rows if r.pathway == "pregestational-diabetes" and r.at.date() >= ga_day(38)]
    assert [r.rule for r in after] == ["after-the-birth"]


def test_one_aspirin_task_when_the_code_and_the_registration_tag_both_say_diabetes():
    rows = run(diagnoses=[{"code": "O24.101"}], tags=["孕前糖尿病"])
    aspirin = [r for r in rows if r.action == "task" and "阿司匹林" in r.summary]
    assert [f"{r.pathway}/{r.rule}" for r in aspirin] == ["registration-follow-up/aspirin-at-registration"]


def test_a_low_glucose_in_pre_existing_diabetes_sends_the_advice_at_once():
    when = at(ga_day(14, 3), 22, 30)
    log = {
        "id": "g",
        "occurred_at": when,
        **_form(
            "gdm-glucose-log",
            measured_on=ga_day(14, 3).isoformat(),
            fasting_glucose=3.1,
            low_glucose_symptoms="no",
        ),
    }
    rows = run([log], until=ga_day(14, 3), diagnoses=[{"code": "O24.101"}])
    moment = [r for r in rows if r.at == datetime.fromisoformat(when)]
    assert [(r.rule, r.action, r.params.get("content")) for r in moment] == [
        ("low-glucose", "task", None),
        ("low-glucose", "push", "gdm-low-glucose"),
    ]
