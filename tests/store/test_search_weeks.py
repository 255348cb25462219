"""The week range of find-a-woman is an EDD range (``search.edd_range``): a woman is selected by
the EDD comparison exactly when her completed week today, as the clock computes it from her EDD,
lies in the range — for any day, any range and any EDD (a property, not a few examples)."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given
from hypothesis import strategies as st

from carepath.engine.clock import gestational_days
from carepath.store.search import edd_range

days = st.dates(min_value=date(2020, 1, 1), max_value=date(2035, 12, 31))
weeks = st.one_of(st.none(), st.integers(min_value=0, max_value=45))


@given(today=days, offset=st.integers(min_value=-400, max_value=400), week_from=weeks, week_to=weeks)
def test_the_edd_range_selects_exactly_the_women_whose_week_lies_in_the_range(
    today: date, offset: int, week_from: int | None, week_to: int | None
) -> None:
    edd = today + timedelta(days=offset)
    low, high = edd_range(today, week_from, week_to)
    selected = (low is None or edd >= low) and (high is None or edd <= high)
    ga = gestational_days(edd, today)
    week = ga // 7
    expected = (week_from is None or week >= week_from) and (week_to is None or week <= week_to)
    assert selected == expected, (today, edd, ga, week_from, week_to)
