"""Her calendar: the anchors, timetables and wake-up days of one pregnancy's enrolments, and
the part of her snapshot the calendar does not move, worked out once and kept from one
evaluation to the next.

Between two evaluations that only move the clock, nothing these depend on changes (her EDD,
her delivery date, the day each enrolment began, the pathway version), yet recomputing them
at every tick — the timetable lookups and ``_timed_firings`` — was half of a cohort
simulation (issue 22). A dry-run or a simulation hands ``evaluate()`` one calendar per
pregnancy; an evaluation without one starts an empty calendar of its own.

Every entry keeps what it was worked out from and is used only while all of that still
holds, so a stale calendar (her redating, a calendar handed the wrong pregnancy) gives the
same outcome as none: it is a cache, never an input. Nothing here reads a clock.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from carepath.engine.facts import Facts, lasting_view
from carepath.engine.timing import Anchors, SendWindow, Timetable
from carepath.engine.wakeups import Boundaries, wakeup_days

#: Enrolments and conditions one calendar keeps (a pregnancy has a few dozen at most; the
#: bound only keeps a calendar misused for many pregnancies from growing without limit).
MAX_ENTRIES = 512


@dataclass
class Planned:
    """One enrolment's anchors and timetable, and what the last evaluation found next."""

    source: tuple[object, ...]  # (loaded pathway, EDD, delivery date, started at, window)
    anchors: Anchors
    timetable: Timetable | None = None
    #: The moment ``upcoming`` was found after (the last evaluation's ``now``), and the first
    #: occurrence after it: while ``upcoming`` is ahead, nothing of this enrolment falls due.
    looked_at: datetime | None = None
    upcoming: datetime | None = None


class HerCalendar:
    """The time arithmetic of one pregnancy's enrolments, kept between her evaluations."""

    def __init__(self) -> None:
        self._planned: dict[str, Planned] = {}
        self._days: dict[tuple[object, ...], tuple[tuple[object, ...], tuple[date, ...]]] = {}
        self._lasting: tuple[Facts, dict[str, Any]] | None = None

    def lasting(self, facts: Facts) -> dict[str, Any]:
        """The part of her snapshot the calendar does not move (``facts.lasting_view``), kept
        while her facts are the same object: a tick changes none of them."""
        kept = self._lasting
        if kept is None or kept[0] is not facts:
            kept = self._lasting = (facts, lasting_view(facts))
        return kept[1]

    def planned(
        self,
        enrolment_id: str,
        source: tuple[object, ...],
        anchors: Callable[[], Anchors],
    ) -> Planned:
        """The enrolment's entry for ``source`` (``anchors()`` builds them on a miss)."""
        found = self._planned.get(enrolment_id)
        if found is not None and _same(found.source, source):
            return found
        if len(self._planned) >= MAX_ENTRIES:
            self._planned.clear()
        entry = self._planned[enrolment_id] = Planned(source, anchors())
        return entry

    def first_day_after(
        self,
        key: tuple[object, ...],
        bounds: tuple[Boundaries, ...],
        anchors: Anchors,
        dates: Mapping[str, date | None],
        today: date,
    ) -> date | None:
        """The first day after ``today`` on which a condition with one of these boundaries may
        flip (``wakeups.wakeup_days``); the days themselves are worked out once per anchors and
        date facts, then searched."""
        source = (bounds, anchors.edd, anchors.delivery_date, anchors.enrolled_on, *dates.values())
        found = self._days.get(key)
        if found is None or found[0] != source:  # the same boundaries are the same objects
            if len(self._days) >= MAX_ENTRIES:
                self._days.clear()
            # Every day one of them may flip on (``wakeup_days`` after the first possible day).
            every = sorted(day for each in bounds for day in wakeup_days(each, anchors, date.min, dates))
            found = (source, tuple(every))
            self._days[key] = found
        days = found[1]
        index = bisect_right(days, today)
        return days[index] if index < len(days) else None


def _same(kept: tuple[object, ...], source: tuple[object, ...]) -> bool:
    """The loaded pathway by identity (a library builds each version once), the rest by value."""
    return kept[0] is source[0] and kept[1:] == source[1:]


def planned_source(
    loaded: object, edd: date | None, delivered: date | None, started_at: datetime, window: SendWindow
) -> tuple[object, ...]:
    """What an enrolment's anchors and timetable are worked out from."""
    return (loaded, edd, delivered, started_at, window)
