"""Forms load, validate and score as their YAML says (EPDS band edges included)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from carepath.engine.forms import Form, load_forms, parse_form, score, validate_answers
from carepath.errors import CompileError

REQUIRED_FORMS = {
    "gdm-glucose-log",
    "bp-log",
    "epds",
    "course-exam",
    "course-satisfaction",
    "registration-risk-screen",
}


@pytest.fixture(scope="module")
def forms() -> dict[str, Form]:
    return load_forms()


def epds_answers(scores: list[int], forms: dict[str, Form]) -> dict[str, object]:
    """Pick, for each item, the choice that earns the wanted score."""
    epds = forms["epds"]
    answers: dict[str, object] = {}
    for item, wanted in zip(epds.items, scores, strict=True):
        answers[item.id] = next(c.value for c in item.choices if c.score == wanted)
    return answers


def test_builtin_library_has_the_required_forms(forms: dict[str, Form]) -> None:
    assert set(forms) >= REQUIRED_FORMS


def test_every_form_is_still_a_draft(forms: dict[str, Form]) -> None:
    assert {form.review_status for form in forms.values()} == {"draft"}


def test_epds_total_of_12_is_below_the_cut_off_and_in_the_follow_up_band(forms: dict[str, Form]) -> None:
    result = score(forms["epds"], epds_answers([3, 3, 3, 3, 0, 0, 0, 0, 0, 0], forms))
    assert result.total == 12
    assert result.band == "10-to-12"
    assert "epds-13-or-more" not in result.flags
    assert "epds-10-to-12" in result.flags


@pytest.mark.parametrize(
    ("scores", "band"), [([3, 3, 3, 1] + [0] * 6, "10-to-12"), ([3, 3, 3] + [0] * 7, "below-10")]
)
def test_epds_10_is_followed_up_and_9_is_not(forms: dict[str, Form], scores: list[int], band: str) -> None:
    # issue 17 item 10: Lee 1998's Chinese postnatal validation put the cut-off at 9/10 (recalled)
    result = score(forms["epds"], epds_answers(scores, forms))
    assert result.band == band
    assert ("epds-10-to-12" in result.flags) is (band == "10-to-12")


def test_epds_total_of_13_is_flagged(forms: dict[str, Form]) -> None:
    result = score(forms["epds"], epds_answers([3, 3, 3, 3, 1, 0, 0, 0, 0, 0], forms))
    assert result.total == 13
    assert result.band == "13-or-more"
    assert "epds-13-or-more" in result.flags


def test_epds_reverse_scored_items_give_three_for_their_first_answer(
    forms: dict[str, Form],
) -> None:
    first_answers = {item.id: item.choices[0].value for item in forms["epds"].items}
    result = score(forms["epds"], first_answers)
    # items 1, 2 and 4 score 0 for their first answer; 3 and 5-10 are reverse-scored
    assert result.total == 3 * 7


@pytest.mark.parametrize(("item_score", "flagged"), [(0, False), (1, True), (3, True)])
def test_epds_item_10_flags_self_harm_on_any_positive_answer(
    forms: dict[str, Form], item_score: int, flagged: bool
) -> None:
    result = score(forms["epds"], epds_answers([0] * 9 + [item_score], forms))
    assert ("self-harm" in result.flags) is flagged
    assert result.band == "below-10"


def test_epds_gives_no_band_until_every_item_is_answered(forms: dict[str, Form]) -> None:
    answers = epds_answers([0] * 10, forms)
    del answers["q7"]
    result = score(forms["epds"], answers)
    assert result.band is None
    assert not result.complete


def test_epds_total_is_a_number_fact_for_pathways(forms: dict[str, Form]) -> None:
    epds = forms["epds"]
    assert "score" in epds.item_ids
    assert epds.item_type("score") == "number"
    assert epds.item_type("q10") == "string"
    with pytest.raises(KeyError):
        epds.item_type("q11")


def test_glucose_log_items_are_numbers_in_mmol_per_litre(forms: dict[str, Form]) -> None:
    log = forms["gdm-glucose-log"]
    for item_id in ("fasting_glucose", "postprandial_1h", "postprandial_2h"):
        item = log.item(item_id)
        assert item is not None
        assert (log.item_type(item_id), item.unit) == ("number", "mmol/L")


@pytest.mark.parametrize(
    ("value", "valid"), [(0.5, False), (1.0, True), (5.29, True), (35.0, True), (35.1, False)]
)
def test_glucose_log_rejects_values_outside_its_range(
    forms: dict[str, Form], value: float, valid: bool
) -> None:
    answers = {"measured_on": "2026-07-01", "fasting_glucose": value, "low_glucose_symptoms": "no"}
    errors = validate_answers(forms["gdm-glucose-log"], answers)
    assert (errors == []) is valid


def test_glucose_log_rejects_text_missing_items_and_unknown_items(forms: dict[str, Form]) -> None:
    errors = validate_answers(
        forms["gdm-glucose-log"], {"measured_on": "2026-02-30", "fasting_glucose": "5.1", "x": 1}
    )
    joined = "\n".join(errors)
    assert "x: not an item" in joined
    assert "measured_on: a date" in joined
    assert "fasting_glucose: a number is required" in joined
    assert "low_glucose_symptoms: required" in joined


@pytest.mark.parametrize(("fasting", "flagged"), [(5.29, False), (5.3, True), (3.3, False), (3.29, None)])
def test_glucose_log_flags_fasting_from_5_3_and_low_below_3_3(
    forms: dict[str, Form], fasting: float, flagged: bool | None
) -> None:
    result = score(forms["gdm-glucose-log"], {"fasting_glucose": fasting})
    assert ("fasting-above-target" in result.flags) is bool(flagged)
    assert ("glucose-low" in result.flags) is (flagged is None)


@pytest.mark.parametrize(
    ("systolic", "diastolic", "expected"),
    [(139, 89, set()), (140, 80, {"bp-raised"}), (150, 110, {"bp-raised", "bp-severe"})],
)
def test_bp_log_flags_raised_and_severe_pressure(
    forms: dict[str, Form], systolic: int, diastolic: int, expected: set[str]
) -> None:
    result = score(forms["bp-log"], {"systolic": systolic, "diastolic": diastolic})
    assert set(result.flags) == expected


def test_bp_log_flags_headache_as_a_danger_symptom(forms: dict[str, Form]) -> None:
    result = score(forms["bp-log"], {"symptoms": ["headache"]})
    assert result.flags == ("danger-symptom",)


def test_course_exam_counts_right_answers_and_needs_every_choice_of_multiple(
    forms: dict[str, Form],
) -> None:
    exam = forms["course-exam"]
    right = {item.id: list(item.answer or ()) for item in exam.items}
    answers: dict[str, object] = {k: (v if exam.item_type(k) == "list" else v[0]) for k, v in right.items()}
    assert score(exam, answers).total == 10
    answers["q3"] = ["a", "b"]
    result = score(exam, answers)
    assert result.total == 9
    assert result.band == "excellent"


def test_registration_screen_turns_previous_caesarean_into_scarred_uterus_tag(
    forms: dict[str, Form],
) -> None:
    result = score(
        forms["registration-risk-screen"],
        {"previous_caesarean": "once", "conception": "art", "history": ["none"], "poor_outcomes": ["none"]},
    )
    assert result.tags == ("瘢痕子宫", "辅助生殖")


def test_satisfaction_survey_sums_only_its_rating_items(forms: dict[str, Form]) -> None:
    answers = {"overall": "5", "usefulness": "4", "clarity": "3", "schedule": "2"}
    result = score(forms["course-satisfaction"], {**answers, "recommend": "yes"})
    assert (result.total, result.band) == (14, "fair")


def test_exam_item_whose_answer_is_not_a_choice_is_refused(tmp_path: Path) -> None:
    text = """\
form: broken-exam
title: 测验
summary: 小测验
kind: exam
review: {status: draft}
items:
  - id: q1
    label: 问题
    type: single
    required: true
    answer: z
    choices:
      - {value: a, label: 甲}
      - {value: b, label: 乙}
scoring: {method: correct}
"""
    with pytest.raises(CompileError) as caught:
        parse_form(text, tmp_path / "broken-exam.yaml")
    problem = caught.value.problems[0]
    assert (problem.code, problem.location.line) == ("bad-answer", 11)


def test_number_item_without_a_range_fails_the_schema_at_its_line(tmp_path: Path) -> None:
    text = """\
form: bad
title: 表
summary: 问卷
kind: questionnaire
review: {status: draft}
items:
  - id: weight
    label: 体重
    type: number
    unit: kg
    required: true
"""
    with pytest.raises(CompileError) as caught:
        parse_form(text, tmp_path / "bad.yaml")
    problem = caught.value.problems[0]
    assert problem.code == "form-schema"
    assert problem.location.line == 7


def test_none_of_these_cannot_be_chosen_with_a_symptom(forms: dict[str, Form]) -> None:
    answers = {
        "measured_on": "2026-07-01",
        "time_of_day": "morning",
        "systolic": 120,
        "diastolic": 80,
        "symptoms": ["none", "headache"],
    }
    errors = validate_answers(forms["bp-log"], answers)
    assert errors == ["symptoms: 'none' cannot be chosen with other answers"]
    assert validate_answers(forms["bp-log"], {**answers, "symptoms": ["none"]}) == []


EPDS = load_forms()["epds"]


@given(st.lists(st.integers(min_value=0, max_value=3), min_size=10, max_size=10))
def test_epds_band_follows_the_total_for_any_complete_answer(scores: list[int]) -> None:
    answers = {
        item.id: next(c.value for c in item.choices if c.score == wanted)
        for item, wanted in zip(EPDS.items, scores, strict=True)
    }
    result = score(EPDS, answers)
    assert result.total == sum(scores)
    assert result.complete
    assert ("epds-13-or-more" in result.flags) is (sum(scores) >= 13)
    assert ("self-harm" in result.flags) is (scores[9] > 0)


def test_item_types_give_the_compiler_every_item_but_score(forms: dict[str, Form]) -> None:
    types = forms["bp-log"].item_types
    assert types["systolic"] == "number"
    assert types["symptoms"] == "list"
    assert types["measured_on"] == "date"
    assert "score" not in types


def test_runtime_scorer_gives_the_total_of_a_complete_submission(forms: dict[str, Form]) -> None:
    from carepath.engine.forms import make_scorer

    scorer = make_scorer(forms)
    answers = epds_answers([3, 3, 3, 3, 1, 0, 0, 0, 0, 0], forms)
    assert scorer("epds", answers) == 13
    del answers["q1"]
    assert scorer("epds", answers) is None
    assert scorer("bp-log", {"systolic": 150}) is None  # not a scored form
    assert scorer("no-such-form", {}) is None
