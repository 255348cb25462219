"""weight_gain_status (issue 16 item 9): the band per BMI class at the boundary weeks, and when
the status is absent. Every figure below was worked out by hand from docs/domain.md §5 (WS/T
801-2022 columns): before 13+0 the band is 0–2.0 kg; from 13+0 it is [low × w, 2.0 + high × w],
w = days since 13+0 / 7, with the class's weekly range low–high. 28+0 is w = 15."""

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from carepath.engine.facts import Facts, snapshot
from carepath.engine.weight_gain import band, status

GA_12_6, GA_13_0, GA_28_0 = 12 * 7 + 6, 13 * 7, 28 * 7


@pytest.mark.parametrize(
    ("bmi_class", "at_28_0"),
    [
        ("underweight", (5.55, 10.4)),  # 0.37 × 15 = 5.55; 2.0 + 0.56 × 15 = 10.4
        ("normal", (3.9, 9.2)),  # 0.26 × 15 = 3.9; 2.0 + 0.48 × 15 = 9.2
        ("overweight", (3.3, 7.55)),  # 0.22 × 15 = 3.3; 2.0 + 0.37 × 15 = 7.55
        ("obese", (2.25, 6.5)),  # 0.15 × 15 = 2.25; 2.0 + 0.30 × 15 = 6.5
    ],
)
def test_the_band_at_the_boundary_weeks(bmi_class: str, at_28_0: tuple[float, float]) -> None:
    assert band(bmi_class, GA_12_6) == (0.0, 2.0)
    assert band(bmi_class, GA_13_0) == (0.0, 2.0)
    assert band(bmi_class, GA_28_0) == at_28_0


def _status(gain: float, ga: int, **changes: object) -> str | None:
    inputs: dict[str, object] = {
        "bmi_class": "normal",
        "gestational_days": ga,
        "pre_pregnancy_kg": 55.0,
        "weight_kg": 55.0 + gain,
        "plurality": 1,
        "pregnant": True,
    }
    return status(**{**inputs, **changes})  # type: ignore[arg-type]


def test_the_edges_of_the_band_are_within() -> None:
    # normal, 28+0: 3.9–9.2 kg; a gain on either edge is within, 0.1 kg past it is not
    assert _status(3.8, GA_28_0) == "below"
    assert _status(3.9, GA_28_0) == "within"
    assert _status(9.2, GA_28_0) == "within"
    assert _status(9.3, GA_28_0) == "above"
    # 12+6: 0–2.0 kg; a loss is below
    assert _status(2.1, GA_12_6) == "above"
    assert _status(2.0, GA_12_6) == "within"
    assert _status(-0.5, GA_12_6) == "below"


def test_twins_a_missing_input_and_after_the_birth_have_no_status() -> None:
    assert _status(9.3, GA_28_0, plurality=2) is None
    assert _status(9.3, GA_28_0, plurality=3) is None
    assert _status(9.3, GA_28_0, plurality=None) is None  # singletons only: unknown is not one
    assert _status(9.3, GA_28_0, weight_kg=None) is None
    assert _status(9.3, GA_28_0, pre_pregnancy_kg=None) is None
    assert _status(9.3, GA_28_0, bmi_class=None) is None
    assert _status(9.3, GA_28_0, gestational_days=None) is None
    assert _status(9.3, GA_28_0, pregnant=False) is None


LMP = date(2026, 1, 5)
AT = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
# 160 cm, 55 kg: BMI 21.5, normal; the latest weight_kg lab 64.3 kg, gain 9.3 kg
FACTS = Facts(
    pregnancy_id="p",
    enrolled_at=AT,
    lmp=LMP,
    height_cm=160,
    weight_kg=55,
    plurality=1,
    labs={"weight_kg": 64.3},
)


def test_the_snapshot_reads_the_latest_weight_lab_against_her_band() -> None:
    at_28_0 = LMP + timedelta(days=GA_28_0)
    assert snapshot(FACTS, at_28_0)["weight_gain_status"] == "above"
    assert snapshot(replace(FACTS, labs={"weight_kg": 64.2}), at_28_0)["weight_gain_status"] == "within"


def test_the_snapshot_has_no_status_for_twins_without_a_weight_or_after_the_birth() -> None:
    at_28_0 = LMP + timedelta(days=GA_28_0)
    assert snapshot(replace(FACTS, plurality=2), at_28_0)["weight_gain_status"] is None
    assert snapshot(replace(FACTS, labs={}), at_28_0)["weight_gain_status"] is None
    assert snapshot(replace(FACTS, weight_kg=None), at_28_0)["weight_gain_status"] is None
    delivered = replace(FACTS, status="delivered", delivery_date=at_28_0)
    assert snapshot(delivered, at_28_0)["weight_gain_status"] is None
