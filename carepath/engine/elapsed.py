"""Time since a date fact, for ``since`` leaves (``since: {fact: delivery_date, lt: 18mo}``).

A ``since`` leaf compares the time from one of her date facts to today with a duration in days
(``d``), weeks (``w``, 7 days), calendar months (``mo``) or years (``y``, 12 calendar months).
Month arithmetic is the calendar's, with the day clamped to the end of a shorter month (as
dateutil's ``relativedelta`` does): 2025-08-31 + 6 months is 2026-02-28, 2024-02-29 + 1 year is
2025-02-28. "Less than 18 months since D" means today is before D + 18 months; "at least" means
on or after it; ``lte`` and ``gt`` put that day itself on the other side.

So that both matchers compare plain numbers, the snapshot carries, per date fact, the days
elapsed (a whole number) and the months elapsed: the whole months completed (the largest ``m``
with D + m months on or before today) plus the fraction of the next month gone by, in days.
That number equals ``m`` exactly on the day D + m months and lies strictly between whole
numbers on the days between, so ``<``, ``<=``, ``>`` and ``>=`` against whole months give the
calendar answer above. A date in the future gives negative values.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable, Iterator, Mapping
from datetime import date
from types import MappingProxyType

#: The date facts a ``since`` leaf may name. ``edd`` is the dating's EDD; the others are as
#: registered or reported (``delivery_date`` by the delivery event).
DATE_FACTS = ("lmp", "edd", "delivery_date", "birth_date")
#: The ``since`` key of the snapshot: fact -> {"days": int, "months": float}.
SNAPSHOT_KEY = "since"

_DURATION = re.compile(r"^(0|[1-9][0-9]{0,3})(d|w|mo|y)$")


def add_months(day: date, months: int) -> date:
    """``day`` plus ``months`` calendar months, the day clamped to the end of the month."""
    index = day.year * 12 + (day.month - 1) + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last))


def months_elapsed(start: date, today: date) -> float:
    """Calendar months from ``start`` to ``today`` (see the module docstring); negative before."""
    if today < start:
        return -months_elapsed(today, start)
    whole = (today.year - start.year) * 12 + today.month - start.month
    if add_months(start, whole) > today:
        whole -= 1
    reached = add_months(start, whole)
    following = add_months(start, whole + 1)
    return whole + (today - reached).days / (following - reached).days


def parse_calendar_duration(text: str) -> tuple[int, str]:
    """``"18mo"`` -> (18, "months"), ``"2y"`` -> (24, "months"), ``"6w"`` -> (42, "days"),
    ``"10d"`` -> (10, "days"). Raises ValueError for anything else (the schema checks first)."""
    match = _DURATION.match(text.strip())
    if match is None:
        raise ValueError(f"{text!r} is not a duration such as '10d', '6w', '18mo' or '2y'")
    amount, unit = int(match.group(1)), match.group(2)
    if unit == "d":
        return amount, "days"
    if unit == "w":
        return amount * 7, "days"
    if unit == "mo":
        return amount, "months"
    return amount * 12, "months"


def shifted(day: date, amount: int, unit: str) -> date:
    """``day`` plus ``amount`` days or months (``unit`` as ``parse_calendar_duration`` says)."""
    if unit == "months":
        return add_months(day, amount)
    return date.fromordinal(day.toordinal() + amount)


class Elapsed(Mapping[str, Mapping[str, float]]):
    """The snapshot's ``since`` entry: per known date fact, days and months elapsed to today.

    Worked out for a fact only when a leaf reads it: most pathways name no ``since`` leaf, and
    the month arithmetic of every date fact at every evaluation was a tenth of a cohort
    simulation (issue 22). Read-only, like the rest of the snapshot.
    """

    __slots__ = ("_dates", "_known", "_today", "_worked_out")

    def __init__(self, dates: Callable[[], Mapping[str, date | None]], today: date) -> None:
        self._dates = dates
        self._known: dict[str, date] | None = None
        self._today = today
        self._worked_out: dict[str, Mapping[str, float]] = {}

    def _facts(self) -> dict[str, date]:
        known = self._known
        if known is None:
            known = self._known = {fact: day for fact, day in self._dates().items() if day is not None}
        return known

    def __getitem__(self, fact: str) -> Mapping[str, float]:
        found = self._worked_out.get(fact)
        if found is None:
            day, today = self._facts()[fact], self._today
            found = MappingProxyType({"days": (today - day).days, "months": months_elapsed(day, today)})
            self._worked_out[fact] = found
        return found

    def __iter__(self) -> Iterator[str]:
        return iter(self._facts())

    def __len__(self) -> int:
        return len(self._facts())

    def __repr__(self) -> str:
        return f"Elapsed({dict(self)!r})"


def elapsed(dates: Mapping[str, date | None], today: date) -> Mapping[str, Mapping[str, float]]:
    """The snapshot's ``since`` entry for these date facts (see ``Elapsed``)."""
    return Elapsed(lambda: dates, today)
