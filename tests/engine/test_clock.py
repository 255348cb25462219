"""Dating a pregnancy: Naegele, ACOG CO 700 redating, IVF, documented EDD, precedence."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from carepath.engine.clock import (
    MAX_GESTATIONAL_DAYS,
    Dating,
    date_by_ivf,
    date_pregnancy,
    gestational_age,
    gestational_days,
    ivf_edd,
    naegele_edd,
    parse_gestational_age,
    redating_band,
    suboptimally_dated,
    trimester,
    ultrasound_edd,
)
from carepath.errors import DatingError

LMP = date(2025, 1, 1)


def ga(text: str) -> int:
    return parse_gestational_age(text)


def date_with_scan(ga_by_lmp: int, difference: int) -> Dating:
    """Dating by LMP (28-day cycle) and a scan at ``ga_by_lmp`` measuring ``difference`` days
    more than dates."""
    return date_pregnancy(
        lmp=LMP,
        scan_date=LMP + timedelta(days=ga_by_lmp),
        scan_ga_days=ga_by_lmp + difference,
    )


def acog_limit(ga_by_lmp: int) -> int:
    """The ACOG CO 700 table as docs/domain.md §1 writes it, kept independent of the engine's table."""
    if ga_by_lmp <= ga("8+6"):
        return 5
    if ga_by_lmp <= ga("15+6"):
        return 7
    if ga_by_lmp <= ga("21+6"):
        return 10
    if ga_by_lmp <= ga("27+6"):
        return 14
    return 21


# --- docs/domain.md §1 vectors -------------------------------------------------------------


def test_lmp_2025_01_01_gives_edd_2025_10_08() -> None:
    dating = date_pregnancy(lmp=LMP)
    assert dating.edd == date(2025, 10, 8)
    assert dating.method == "lmp"
    assert not dating.redated


def test_ga_on_2025_06_20_is_24_plus_2() -> None:
    edd = date_pregnancy(lmp=LMP).edd
    assert gestational_age(edd, date(2025, 6, 20)) == "24+2"
    assert gestational_days(edd, date(2025, 6, 20)) == 170


def test_day_5_transfer_on_2025_03_10_gives_edd_2025_11_26() -> None:
    dating = date_pregnancy(transfer_date=date(2025, 3, 10), embryo_day=5)
    assert dating.edd == date(2025, 11, 26)
    assert dating.method == "ivf"


def test_day_3_transfer_adds_263_days() -> None:
    assert ivf_edd(date(2025, 3, 10), 3) == date(2025, 3, 10) + timedelta(days=263)


def test_naegele_adds_280_days_not_the_calendar_rule() -> None:
    # The calendar form (+1 y -3 m +7 d) would give 2024-09-06.
    assert naegele_edd(date(2023, 11, 30)) == date(2024, 9, 5)


def test_35_day_cycle_moves_edd_seven_days_later() -> None:
    assert naegele_edd(LMP, 35) == date(2025, 10, 15)
    assert "35-day cycle" in date_pregnancy(lmp=LMP, cycle_length=35).reason


def test_short_cycle_moves_edd_earlier() -> None:
    assert naegele_edd(LMP, 21) == date(2025, 10, 1)


@pytest.mark.parametrize("cycle", [20, 45])
def test_cycle_length_limits_are_accepted(cycle: int) -> None:
    assert naegele_edd(LMP, cycle) == LMP + timedelta(days=280 + cycle - 28)


@pytest.mark.parametrize("cycle", [0, 19, 46, 90])
def test_implausible_cycle_length_is_rejected(cycle: int) -> None:
    with pytest.raises(DatingError) as caught:
        date_pregnancy(lmp=LMP, cycle_length=cycle)
    assert caught.value.code == "bad-cycle-length"


# --- ACOG CO 700 redating --------------------------------------------------------------------


@pytest.mark.parametrize("difference", [5, -5])
def test_exactly_5_days_at_8_plus_6_keeps_lmp(difference: int) -> None:
    dating = date_with_scan(ga("8+6"), difference)
    assert not dating.redated
    assert dating.method == "lmp"
    assert dating.edd == date(2025, 10, 8)
    assert dating.difference_days == difference


@pytest.mark.parametrize("difference", [6, -6])
def test_6_days_at_8_plus_6_redates_to_ultrasound(difference: int) -> None:
    dating = date_with_scan(ga("8+6"), difference)
    assert dating.redated
    assert dating.method == "ultrasound"
    # Measuring larger than dates brings the EDD forward, smaller pushes it back.
    assert dating.edd == date(2025, 10, 8) - timedelta(days=difference)
    assert dating.lmp_edd == date(2025, 10, 8)
    assert dating.ultrasound_edd == dating.edd


@pytest.mark.parametrize(
    ("earlier", "later", "difference", "redated_earlier", "redated_later"),
    [
        ("8+6", "9+0", 6, True, False),  # limit 5 -> 7
        ("13+6", "14+0", 8, True, True),  # limit 7 on both sides
        ("13+6", "14+0", 7, False, False),
        ("15+6", "16+0", 8, True, False),  # limit 7 -> 10
        ("21+6", "22+0", 11, True, False),  # limit 10 -> 14
        ("27+6", "28+0", 15, True, False),  # limit 14 -> 21
    ],
)
def test_band_edge_uses_the_limit_of_the_ga_by_lmp_on_the_scan_date(
    earlier: str, later: str, difference: int, redated_earlier: bool, redated_later: bool
) -> None:
    for sign in (1, -1):
        before = date_with_scan(ga(earlier), sign * difference)
        after = date_with_scan(ga(later), sign * difference)
        assert before.redated is redated_earlier
        assert after.redated is redated_later
        assert before.band is not None and after.band is not None
        assert ga(earlier) <= before.band.last_day < after.band.first_day <= ga(later)


def _band_boundary_cases() -> list[tuple[int, int, bool]]:
    edges = ["0+0", "8+6", "9+0", "13+6", "14+0", "15+6", "16+0", "21+6", "22+0", "27+6",
             "28+0", "44+6"]  # fmt: skip
    cases = []
    for edge in edges:
        ga_by_lmp = ga(edge)
        limit = acog_limit(ga_by_lmp)
        for difference, redated in ((limit, False), (limit + 1, True)):
            for signed in (difference, -difference):
                if 0 <= ga_by_lmp + signed <= MAX_GESTATIONAL_DAYS:
                    cases.append((ga_by_lmp, signed, redated))
    return cases


@pytest.mark.parametrize(("ga_by_lmp", "difference", "redated"), _band_boundary_cases())
def test_every_band_edge_redates_only_beyond_its_limit(
    ga_by_lmp: int, difference: int, redated: bool
) -> None:
    dating = date_with_scan(ga_by_lmp, difference)
    assert dating.redated is redated
    assert dating.edd == (dating.ultrasound_edd if redated else dating.lmp_edd)
    assert dating.band is not None and dating.band.limit_days == acog_limit(ga_by_lmp)


def test_redating_reason_names_the_band_and_the_limit() -> None:
    dating = date_with_scan(ga("20+0"), -12)
    assert dating.redated
    assert "-12 d" in dating.reason and "10 d" in dating.reason and "16+0–21+6" in dating.reason


def test_band_uses_cycle_adjusted_ga_by_lmp() -> None:
    # 35-day cycle: 9+3 after the LMP is 8+3 by cycle-adjusted dates, so the 5-day limit holds.
    scan_date = LMP + timedelta(days=ga("9+3"))
    dating = date_pregnancy(lmp=LMP, cycle_length=35, scan_date=scan_date, scan_ga_days=ga("8+3") + 6)
    assert dating.band is not None and dating.band.label == "≤8+6"
    assert dating.redated


def test_ultrasound_alone_dates_the_pregnancy() -> None:
    dating = date_pregnancy(scan_date=date(2025, 3, 1), scan_ga_days=ga("8+2"))
    assert dating.method == "ultrasound"
    assert not dating.redated
    assert dating.edd == date(2025, 3, 1) + timedelta(days=280 - 58)


@pytest.mark.parametrize("scan_ga", [-1, MAX_GESTATIONAL_DAYS + 1])
def test_ultrasound_ga_outside_0_to_44_plus_6_is_rejected(scan_ga: int) -> None:
    with pytest.raises(DatingError) as caught:
        ultrasound_edd(date(2025, 3, 1), scan_ga)
    assert caught.value.code == "bad-gestational-age"


@pytest.mark.parametrize("ga_by_lmp", [-1, MAX_GESTATIONAL_DAYS + 1])
def test_scan_before_lmp_or_beyond_44_plus_6_by_lmp_is_rejected(ga_by_lmp: int) -> None:
    with pytest.raises(DatingError) as caught:
        date_pregnancy(lmp=LMP, scan_date=LMP + timedelta(days=ga_by_lmp), scan_ga_days=70)
    assert caught.value.code == "bad-scan-date"


def test_redating_band_at_extremes() -> None:
    assert redating_band(0).limit_days == 5
    assert redating_band(MAX_GESTATIONAL_DAYS).limit_days == 21


# --- IVF -----------------------------------------------------------------------------------


def test_ivf_is_never_redated_by_a_discordant_ultrasound() -> None:
    transfer = date(2025, 3, 10)
    scan_date = date(2025, 5, 1)
    dating = date_by_ivf(transfer, 5, scan_date, ga("7+0"))  # 10+1 by IVF dates: 22 days off
    assert dating.edd == date(2025, 11, 26)
    assert dating.method == "ivf"
    assert not dating.redated
    assert dating.difference_days == -ga("3+1")


def test_ivf_outranks_lmp_and_ultrasound() -> None:
    dating = date_pregnancy(
        lmp=LMP, transfer_date=date(2025, 3, 10), embryo_day=5,
        scan_date=date(2025, 5, 1), scan_ga_days=ga("12+0"),
    )  # fmt: skip
    assert (dating.method, dating.edd, dating.redated) == ("ivf", date(2025, 11, 26), False)


@pytest.mark.parametrize("embryo_day", [0, 2, 4, 6])
def test_embryo_day_other_than_3_or_5_is_rejected(embryo_day: int) -> None:
    with pytest.raises(DatingError) as caught:
        date_pregnancy(transfer_date=date(2025, 3, 10), embryo_day=embryo_day)
    assert caught.value.code == "bad-embryo-day"


# --- Documented EDD and precedence ---------------------------------------------------------


def test_documented_edd_alone() -> None:
    dating = date_pregnancy(edd=date(2025, 10, 8))
    assert (dating.edd, dating.method, dating.derived) == (date(2025, 10, 8), "edd", None)
    assert dating.implied_lmp == LMP


def test_documented_edd_outranks_the_other_inputs_and_keeps_their_dating() -> None:
    dating = date_pregnancy(lmp=LMP, edd=date(2025, 10, 1))
    assert dating.method == "edd"
    assert dating.edd == date(2025, 10, 1)
    assert dating.derived is not None and dating.derived.edd == date(2025, 10, 8)
    assert "-7 d" in dating.reason


def test_documented_edd_outranks_ivf() -> None:
    dating = date_pregnancy(transfer_date=date(2025, 3, 10), embryo_day=5, edd=date(2025, 11, 20))
    assert dating.edd == date(2025, 11, 20)
    assert dating.derived is not None and dating.derived.method == "ivf"


def test_documented_edd_still_rejects_bad_other_inputs() -> None:
    with pytest.raises(DatingError) as caught:
        date_pregnancy(lmp=LMP, cycle_length=60, edd=date(2025, 10, 8))
    assert caught.value.code == "bad-cycle-length"


def test_nothing_to_date_by_is_no_dating() -> None:
    with pytest.raises(DatingError) as caught:
        date_pregnancy()
    assert caught.value.code == "no-dating"


@pytest.mark.parametrize(
    "inputs",
    [
        {"scan_date": date(2025, 3, 1)},
        {"scan_ga_days": 70},
        {"transfer_date": date(2025, 3, 10)},
        {"embryo_day": 5},
        {"cycle_length": 30},
    ],
)
def test_half_given_inputs_are_incomplete_dating(inputs: dict[str, Any]) -> None:
    with pytest.raises(DatingError) as caught:
        date_pregnancy(**inputs)
    assert caught.value.code == "incomplete-dating"


# --- Trimesters and notation ---------------------------------------------------------------


@pytest.mark.parametrize(("text", "expected"), [("13+6", 1), ("14+0", 2), ("27+6", 2), ("28+0", 3)])
def test_trimester_cut_offs(text: str, expected: int) -> None:
    edd = date(2025, 10, 8)
    on = edd - timedelta(days=280 - ga(text))
    assert gestational_age(edd, on) == text
    assert trimester(gestational_days(edd, on)) == expected


@pytest.mark.parametrize("text", ["45+9", "45+0", "24+7", "24"])
def test_impossible_gestational_age_text_is_rejected(text: str) -> None:
    with pytest.raises(DatingError) as caught:
        parse_gestational_age(text)
    assert caught.value.code == "bad-gestational-age"


# --- Properties ----------------------------------------------------------------------------

any_date = st.dates(min_value=date(1990, 1, 1), max_value=date(2060, 12, 31))
any_ga = st.integers(min_value=0, max_value=MAX_GESTATIONAL_DAYS)


@given(edd=any_date, on=any_date)
def test_gestational_age_grows_exactly_one_day_per_day(edd: date, on: date) -> None:
    assert gestational_days(edd, on + timedelta(days=1)) == gestational_days(edd, on) + 1


@given(edd=any_date)
def test_edd_round_trips_through_its_implied_lmp(edd: date) -> None:
    assert gestational_days(edd, edd) == 280
    dating = date_pregnancy(edd=edd)
    assert date_pregnancy(lmp=dating.implied_lmp).edd == edd


@given(edd=any_date, scan_ga=any_ga)
def test_ultrasound_agreeing_with_an_edd_gives_it_back(edd: date, scan_ga: int) -> None:
    scan_date = edd - timedelta(days=280 - scan_ga)
    assert date_pregnancy(scan_date=scan_date, scan_ga_days=scan_ga).edd == edd


@given(
    lmp=any_date,
    cycle=st.integers(min_value=20, max_value=45),
    ga_by_lmp=any_ga,
    scan_ga=any_ga,
)
def test_redating_decision_follows_the_acog_table(
    lmp: date, cycle: int, ga_by_lmp: int, scan_ga: int
) -> None:
    # GA by LMP on the scan date is cycle-adjusted: a longer cycle means a later conception.
    scan_date = lmp + timedelta(days=ga_by_lmp + cycle - 28)
    dating = date_pregnancy(lmp=lmp, cycle_length=cycle, scan_date=scan_date, scan_ga_days=scan_ga)
    should_redate = abs(scan_ga - ga_by_lmp) > acog_limit(ga_by_lmp)
    assert dating.redated is should_redate
    assert dating.method == ("ultrasound" if should_redate else "lmp")
    lmp_edd = lmp + timedelta(days=280 + cycle - 28)
    us_edd = scan_date + timedelta(days=280 - scan_ga)
    assert dating.edd == (us_edd if should_redate else lmp_edd)
    assert dating.difference_days == scan_ga - ga_by_lmp


@given(
    transfer=any_date,
    embryo_day=st.sampled_from([3, 5]),
    days_after=st.integers(min_value=0, max_value=290),
    scan_ga=any_ga,
)
def test_ivf_dating_ignores_any_ultrasound(
    transfer: date, embryo_day: int, days_after: int, scan_ga: int
) -> None:
    scan_date = transfer + timedelta(days=days_after)
    dating = date_pregnancy(
        transfer_date=transfer, embryo_day=embryo_day, scan_date=scan_date, scan_ga_days=scan_ga
    )
    assert dating.edd == transfer + timedelta(days=266 - embryo_day)
    assert not dating.redated


# --- issue 17 item 12: suboptimally dated (ACOG CO 700: no scan confirming or revising the EDD
# before 22+0) ----------------------------------------------------------------------------------

SUBOPTIMAL_LMP = date(2026, 1, 5)


def _scan_at(ga_by_lmp: int, measured: int) -> tuple[Dating, int]:
    scan_date = SUBOPTIMAL_LMP + timedelta(days=ga_by_lmp)
    return date_pregnancy(lmp=SUBOPTIMAL_LMP, scan_date=scan_date, scan_ga_days=measured), measured


@pytest.mark.parametrize(
    ("ga_by_lmp", "measured", "flagged"),
    [
        (30 * 7, 26 * 7, True),  # third trimester, 28 d smaller: redated and flagged
        (30 * 7, 30 * 7 - 21, True),  # exactly 21 d: LMP kept, still a first scan after 22+0
        (22 * 7, 22 * 7, True),  # the first day ACOG calls suboptimal
        (21 * 7 + 6, 21 * 7 + 6 - 11, False),  # 21+6: redated (>10 d) but dated in time
        (12 * 7, 12 * 7, False),  # a first-trimester CRL
    ],
)
def test_a_first_scan_from_22_plus_0_by_lmp_is_suboptimal_dating(
    ga_by_lmp: int, measured: int, flagged: bool
) -> None:
    dating, scan_ga = _scan_at(ga_by_lmp, measured)
    assert suboptimally_dated(dating, scan_ga) is flagged


def test_an_ultrasound_alone_is_judged_by_the_ga_it_measured() -> None:
    late = date_pregnancy(scan_date=date(2026, 8, 3), scan_ga_days=26 * 7)
    early = date_pregnancy(scan_date=date(2026, 3, 2), scan_ga_days=9 * 7)
    assert suboptimally_dated(late, 26 * 7) is True
    assert suboptimally_dated(early, 9 * 7) is False


def test_ivf_a_documented_edd_and_an_lmp_without_a_scan_are_never_flagged() -> None:
    ivf = date_pregnancy(
        transfer_date=date(2026, 1, 20), embryo_day=5, scan_date=date(2026, 8, 3), scan_ga_days=24 * 7
    )
    documented = date_pregnancy(
        edd=date(2026, 10, 12), lmp=SUBOPTIMAL_LMP, scan_date=date(2026, 8, 3), scan_ga_days=26 * 7
    )
    assert suboptimally_dated(ivf, 24 * 7) is False
    assert suboptimally_dated(documented, 26 * 7) is False
    assert suboptimally_dated(date_pregnancy(lmp=SUBOPTIMAL_LMP), None) is False
