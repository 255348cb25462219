"""When a time-dependent condition may next change its value.

Audiences and exits can name facts that move with the calendar (gestational age, days since
delivery). The engine wakes a pregnancy on the days those facts cross a threshold the
condition names, so an exit such as ``days_since_delivery: {gte: 84}`` happens on its day
without any event.
"""

from __future__ import annotations

from datetime import date, timedelta

from carepath.engine.spec import Compare, Condition, walk
from carepath.engine.timing import Anchors

_TRIMESTER_STARTS = {1: 0, 2: 14 * 7, 3: 28 * 7}


def _numbers(node: Compare) -> list[float]:
    values = node.value if isinstance(node.value, tuple) else (node.value,)
    return [v for v in values if isinstance(v, int | float) and not isinstance(v, bool)]


def condition_wakeup_days(condition: Condition | None, anchors: Anchors, today: date) -> list[date]:
    """Days after ``today`` on which some time-dependent leaf of ``condition`` may flip."""
    days: set[date] = set()
    for node in walk(condition):
        if not isinstance(node, Compare):
            continue
        offsets: list[int] = []
        base: date | None = None
        if node.fact in ("gestational_days", "gestational_week", "trimester"):
            base = anchors.ga_zero
            for value in _numbers(node):
                if node.fact == "gestational_days":
                    offsets += [int(value), int(value) + 1]
                elif node.fact == "gestational_week":
                    offsets += [int(value) * 7, (int(value) + 1) * 7]
                else:
                    offsets += [
                        _TRIMESTER_STARTS.get(int(value), 0),
                        _TRIMESTER_STARTS.get(int(value) + 1, 0),
                    ]
        elif node.fact == "days_since_delivery":
            base = anchors.delivery_date
            offsets = [d for v in _numbers(node) for d in (int(v), int(v) + 1)]
        if base is None:
            continue
        days.update(base + timedelta(days=offset) for offset in offsets)
    return sorted(day for day in days if day > today)
