"""When a time-dependent condition may next change its value.

Audiences and exits can name facts that move with the calendar (gestational age, days since
delivery). The engine wakes a pregnancy on the days those facts cross a threshold the
condition names, so an exit such as ``days_since_delivery: {gte: 84}`` happens on its day
without any event.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta

from carepath.engine.elapsed import shifted
from carepath.engine.spec import Compare, Condition, walk
from carepath.engine.timing import Anchors

_TRIMESTER_STARTS = {1: 0, 2: 14 * 7, 3: 28 * 7}


def _numbers(node: Compare) -> list[float]:
    values = node.value if isinstance(node.value, tuple) else (node.value,)
    return [v for v in values if isinstance(v, int | float) and not isinstance(v, bool)]


@dataclass(frozen=True)
class Boundaries:
    """The day offsets, from GA 0+0 and from delivery, at which a condition may flip, and the
    durations after a date fact its ``since`` leaves name (fact, ``days``/``months``, amount)."""

    from_ga_zero: tuple[int, ...] = ()
    from_delivery: tuple[int, ...] = ()
    from_dates: tuple[tuple[str, str, int], ...] = ()

    def __bool__(self) -> bool:
        """True when the condition depends on the calendar at all."""
        return bool(self.from_ga_zero or self.from_delivery or self.from_dates)


def boundaries(condition: Condition | None) -> Boundaries:
    """Found once per condition: only facts that move with the calendar count."""
    ga: set[int] = set()
    delivery: set[int] = set()
    dates: set[tuple[str, str, int]] = set()
    for node in walk(condition):
        if not isinstance(node, Compare):
            continue
        for value in _numbers(node):
            v = int(value)
            if node.fact == "gestational_days":
                ga.update((v, v + 1))
            elif node.fact == "gestational_week":
                ga.update((v * 7, (v + 1) * 7))
            elif node.fact == "trimester":
                ga.update((_TRIMESTER_STARTS.get(v, 0), _TRIMESTER_STARTS.get(v + 1, 0)))
            elif node.fact == "days_since_delivery":
                delivery.update((v, v + 1))
            elif node.fact == "since":
                fact, unit = node.key
                dates.add((fact, unit, v))
    return Boundaries(tuple(sorted(ga)), tuple(sorted(delivery)), tuple(sorted(dates)))


def wakeup_days(
    bounds: Boundaries, anchors: Anchors, today: date, dates: Mapping[str, date | None] | None = None
) -> list[date]:
    """Days after ``today`` on which a condition with these boundaries may flip; ``dates``: her
    date facts, for ``since`` leaves (which flip on the day the duration is reached and the next)."""
    days = []
    for fact, unit, amount in bounds.from_dates:
        start = (dates or {}).get(fact)
        if start is not None:
            reached = shifted(start, amount, unit)
            days += [reached, reached + timedelta(days=1)]
    if bounds.from_ga_zero and anchors.ga_zero is not None:
        days += [anchors.ga_zero + timedelta(days=o) for o in bounds.from_ga_zero]
    if bounds.from_delivery and anchors.delivery_date is not None:
        days += [anchors.delivery_date + timedelta(days=o) for o in bounds.from_delivery]
    return sorted(day for day in days if day > today)
