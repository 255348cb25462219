"""Time in the engine: the hospital's send window, points in a pregnancy, occurrences.

Everything here is arithmetic on dates the caller hands in; nothing reads a clock. Datetimes
are timezone-aware; calendar days are the hospital's local days.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import cached_property
from zoneinfo import ZoneInfo

from carepath.engine.clock import TERM_DAYS
from carepath.engine.spec import At, Every, Point, Rule


@dataclass(frozen=True)
class SendWindow:
    """One per hospital: external messages go out between ``opens`` and ``closes`` local time."""

    timezone: str = "Asia/Shanghai"
    opens: time = time(9, 0)
    closes: time = time(20, 0)

    @cached_property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def local_date(self, moment: datetime) -> date:
        return moment.astimezone(self.zone).date()

    def opening(self, day: date) -> datetime:
        return datetime.combine(day, self.opens, self.zone)

    def closing(self, day: date) -> datetime:
        return datetime.combine(day, self.closes, self.zone)

    def place(self, moment: datetime, latest_day: date | None = None) -> datetime:
        """``moment`` moved into the window: forward to the next opening, never past
        ``latest_day`` (a clamp's day), where it is held at that day's closing."""
        day = self.local_date(moment)
        if moment < self.opening(day):
            placed = self.opening(day)
        elif moment <= self.closing(day):
            placed = moment
        else:
            placed = self.opening(day + timedelta(days=1))
        if latest_day is not None and self.local_date(placed) > latest_day:
            return max(min(moment, self.closing(latest_day)), self.opening(latest_day))
        return placed


@dataclass(frozen=True)
class Anchors:
    """The dates points are measured from, for one pregnancy and one enrolment."""

    edd: date | None
    delivery_date: date | None
    enrolled_on: date

    @cached_property
    def ga_zero(self) -> date | None:
        """The day GA 0+0 falls on (the LMP of a 28-day cycle that gives this EDD)."""
        return self.edd - timedelta(days=TERM_DAYS) if self.edd else None


def point_date(point: Point, anchors: Anchors) -> date | None:
    """The local day ``point`` falls on, or None when its anchor is unknown (no EDD yet).

    An ``event_time`` point has no day of its own: its moment is the triggering event's
    (``scheduling.event_moment``)."""
    if point.anchor == "event_time":
        return None
    if point.anchor == "gestational_age":
        base = anchors.ga_zero
    elif point.anchor == "edd":
        base = anchors.edd
    elif point.anchor == "delivery_date":
        base = anchors.delivery_date
    else:
        base = anchors.enrolled_on
    if base is None:
        return None
    return (datetime.combine(base, time()) + point.offset).date()


#: No pregnancy and puerperium needs a series longer than this; it bounds every loop.
MAX_OCCURRENCES = 200


def occurrence_days(rule: Rule, anchors: Anchors, through: date) -> list[date]:
    """Days a timed rule fires on, from its first up to and including ``through``."""
    trigger = rule.trigger
    if isinstance(trigger, At):
        day = point_date(trigger.point, anchors)
        return [day] if day is not None and day <= through else []
    if not isinstance(trigger, Every):
        return []
    start = point_date(trigger.start, anchors)
    if start is None:
        return []
    until = point_date(trigger.until, anchors) if trigger.until else None
    if trigger.until is not None and until is None:
        return []
    step = max(trigger.interval.days, 1)
    days: list[date] = []
    day = start
    while day <= through and (until is None or day < until) and len(days) < MAX_OCCURRENCES:
        days.append(day)
        day += timedelta(days=step)
    return days


@dataclass(frozen=True)
class Timetable:
    """Every occurrence of a pathway's timed rules for one set of anchors, sorted by time.

    Built once per pathway version and anchors (they change only when she is redated,
    delivers or re-enrols), then searched by bisection on every evaluation.
    """

    times: tuple[datetime, ...]
    rules: tuple[Rule, ...]

    def between(self, after: datetime | None, through: datetime) -> list[tuple[datetime, Rule]]:
        """Occurrences with ``after < t <= through`` (all up to ``through`` when after is None)."""
        low = 0 if after is None else bisect_right(self.times, after)
        high = bisect_right(self.times, through)
        return list(zip(self.times[low:high], self.rules[low:high], strict=True))

    def next_after(self, moment: datetime) -> datetime | None:
        index = bisect_right(self.times, moment)
        return self.times[index] if index < len(self.times) else None


#: How far ahead a series without ``until`` is laid out: a year past the EDD covers any
#: pregnancy and puerperium (and MAX_OCCURRENCES bounds each rule anyway).
HORIZON = timedelta(days=365)


def timetable(rules: tuple[Rule, ...], anchors: Anchors, window: SendWindow) -> Timetable:
    """The occurrences of ``rules`` at the window's opening on each of their days."""
    through = (anchors.edd or anchors.enrolled_on) + HORIZON
    entries = sorted(
        (
            (window.opening(day), index)
            for index, rule in enumerate(rules)
            for day in occurrence_days(rule, anchors, through)
        ),
        key=lambda entry: entry,
    )
    return Timetable(tuple(t for t, _ in entries), tuple(rules[i] for _, i in entries))
