"""Gestational weight gain against the WS/T 801-2022 band for her pre-pregnancy BMI class.

The ``weight_gain_status`` fact (issue 16 item 9): ``below``, ``within`` or ``above`` the
expected gain at her gestational age, for singletons only (WS/T 801-2022 covers singletons;
twins and more get no status, the fact is absent). The gain is her latest measured weight
(the ``weight_kg`` lab, ``pathways/labs.yaml``) minus her pre-pregnancy weight.

The band at a gestational age is the team's reading of the table, NOT a figure from the
standard's text: derived by the team from the table in docs/domain.md §5; check against the
standard before clinical use. Before 13+0 completed weeks the expected gain is [0, 2.0] kg
(the table's "0–2.0 kg in the first trimester"); from 13+0 on it is
[0 + low × w, 2.0 + high × w] with w = (days since 13+0) / 7 and low–high the mid–late weekly
range of her BMI class. Band edges and the gain are compared in whole grams, so that a gain
of 3.9 kg at a lower edge of 0.26 × 15 kg is on the edge, not below it by a rounding error.
"""

from __future__ import annotations

from types import MappingProxyType

#: The WS/T 801-2022 mid–late weekly gain range (kg per week, low and high) per pre-pregnancy
#: BMI class (``facts.bmi_class``): docs/domain.md §5, the "WS/T weekly, mid–late" column. [WST801]
WEEKLY_RANGE_KG = MappingProxyType(
    {
        "underweight": (0.37, 0.56),
        "normal": (0.26, 0.48),
        "overweight": (0.22, 0.37),
        "obese": (0.15, 0.30),
    }
)
#: "0–2.0 kg in the first trimester" (docs/domain.md §5). [WST801]
FIRST_TRIMESTER_KG = (0.0, 2.0)
#: 13+0 completed weeks, in days: the band starts to grow by the weekly range from here.
MID_PREGNANCY_FROM_DAYS = 13 * 7
#: The fact's values, in order.
STATUSES = ("below", "within", "above")


def _grams(kg: float) -> int:
    return round(kg * 1000)


def band(bmi_class: str, gestational_days: int) -> tuple[float, float]:
    """The expected gain (kg, low and high, both inclusive) at ``gestational_days`` for a
    woman of ``bmi_class``; see the module docstring (the team's reading of the table)."""
    low_first, high_first = FIRST_TRIMESTER_KG
    weeks = max(gestational_days - MID_PREGNANCY_FROM_DAYS, 0) / 7
    low_weekly, high_weekly = WEEKLY_RANGE_KG[bmi_class]
    return (
        _grams(low_first + low_weekly * weeks) / 1000,
        _grams(high_first + high_weekly * weeks) / 1000,
    )


def status(
    *,
    bmi_class: str | None,
    gestational_days: int | None,
    pre_pregnancy_kg: float | None,
    weight_kg: float | None,
    plurality: int | None,
    pregnant: bool,
) -> str | None:
    """``below``, ``within`` or ``above`` her band; None when an input is missing, for twins
    and more (``plurality`` > 1) and once she is no longer pregnant (delivered or ended).

    An unknown plurality counts as missing: the band is for singletons only, and nothing says
    she carries one baby.
    """
    if not pregnant or plurality != 1:
        return None
    if bmi_class is None or gestational_days is None or pre_pregnancy_kg is None or weight_kg is None:
        return None
    low, high = band(bmi_class, gestational_days)
    gain = _grams(weight_kg - pre_pregnancy_kg)
    if gain < _grams(low):
        return "below"
    if gain > _grams(high):
        return "above"
    return "within"
