"""Time since a date fact (issue 16 item 9): calendar months clamp to the month's end, and the
months elapsed compare with a whole number of months exactly as the calendar dates do."""

from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from carepath.engine.elapsed import add_months, elapsed, months_elapsed, parse_calendar_duration

DAYS = st.dates(min_value=date(1950, 1, 1), max_value=date(2060, 12, 31))


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        (date(2025, 8, 31), 6, date(2026, 2, 28)),
        (date(2024, 2, 29), 12, date(2025, 2, 28)),
        (date(2024, 2, 29), 48, date(2028, 2, 29)),
        (date(2026, 1, 31), 1, date(2026, 2, 28)),
        (date(2026, 1, 31), 2, date(2026, 3, 31)),
        (date(2026, 3, 15), 18, date(2027, 9, 15)),
        (date(2026, 3, 15), -3, date(2025, 12, 15)),
    ],
)
def test_adding_months_clamps_to_the_end_of_a_shorter_month(start: date, months: int, expected: date) -> None:
    assert add_months(start, months) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [("10d", (10, "days")), ("6w", (42, "days")), ("18mo", (18, "months")), ("2y", (24, "months"))],
)
def test_durations_become_days_or_months(text: str, expected: tuple[int, str]) -> None:
    assert parse_calendar_duration(text) == expected


@pytest.mark.parametrize("text", ["18m", "12h", "-3d", "1.5y", "mo", ""])
def test_other_durations_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_calendar_duration(text)


def test_months_elapsed_is_whole_on_the_day_and_between_on_the_others() -> None:
    start = date(2025, 8, 31)
    assert months_elapsed(start, date(2026, 2, 28)) == 6
    assert 5 < months_elapsed(start, date(2026, 2, 27)) < 6
    assert 6 < months_elapsed(start, date(2026, 3, 1)) < 7
    assert months_elapsed(start, start) == 0
    assert months_elapsed(start, date(2025, 8, 30)) < 0


@settings(max_examples=100, deadline=None)
@given(DAYS, DAYS, st.integers(0, 600))
def test_comparing_months_elapsed_is_comparing_calendar_dates(start: date, today: date, months: int) -> None:
    reached = add_months(start, months)
    value = months_elapsed(start, today)
    assert (value < months) == (today < reached)
    assert (value <= months) == (today <= reached)
    assert (value >= months) == (today >= reached)
    assert (value > months) == (today > reached)


def test_the_snapshot_entry_holds_days_and_months_of_known_dates_only() -> None:
    today = date(2026, 7, 10)
    found = elapsed({"lmp": date(2026, 1, 5), "delivery_date": None}, today)
    assert set(found) == {"lmp"}
    assert found["lmp"]["days"] == (today - date(2026, 1, 5)).days == 186
    assert 6 < found["lmp"]["months"] < 7
    assert elapsed({"lmp": today + timedelta(days=3)}, today)["lmp"]["days"] == -3
