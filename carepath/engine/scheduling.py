"""When an enrolment's actions take effect: the time arithmetic of ``evaluate()``.

Which timed occurrences fire at an evaluation (after each rule's catch-up policy), and when a
deliverable takes effect (its schedule computed, clamped to its bound, then placed in the
hospital's send window). Nothing here reads a clock: ``now`` and ``today`` are handed in.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any

from carepath.engine.spec import Action, Point, Rule
from carepath.engine.timing import Anchors, SendWindow, point_date

#: Actions that reach her phone: the engine places their notices in the send window.
TO_HER = frozenset({"push", "questionnaire", "remind"})


def due_occurrences(
    occurrences: Sequence[tuple[datetime, Rule]], enrolled_on: date, now: datetime, window: SendWindow
) -> list[tuple[Rule, datetime]]:
    """The occurrences that fire at ``now``, rule by rule: those on time (not before the day
    she enrolled, and before their day's window closes) and, as each rule's catch-up policy
    says, all or only the latest of those missed within its catch-up period."""
    due_by_rule: dict[str, list[datetime]] = {}
    rules: dict[str, Rule] = {}
    for moment, rule in occurrences:
        due_by_rule.setdefault(rule.id, []).append(moment)
        rules[rule.id] = rule
    firing: list[tuple[Rule, datetime]] = []
    for rule_id, due in due_by_rule.items():
        rule = rules[rule_id]
        on_time = [t for t in due if window.local_date(t) >= enrolled_on and now <= _closing(window, t)]
        within = rule.catch_up_within or timedelta(weeks=1)
        missed = [t for t in due if t not in on_time and now - t <= within]
        chosen = list(on_time)
        if rule.catch_up == "all":
            chosen = sorted(missed + on_time)
        elif rule.catch_up == "latest" and not on_time and missed:
            chosen = [missed[-1]]
        firing += [(rule, t) for t in chosen]
    return firing


def _closing(window: SendWindow, moment: datetime) -> datetime:
    return window.closing(window.local_date(moment))


def event_moment(point: Point, event_data: Mapping[str, Any] | None) -> datetime | None:
    """An ``event_time`` point's moment: the triggering event's time plus the offset, to the
    minute (None when the event does not carry it: the action is dropped, as for a point
    whose anchor is unknown). The compiler has checked that the event type carries it."""
    text = (event_data or {}).get(point.field)
    try:
        moment = datetime.fromisoformat(text) if isinstance(text, str) else None
    except ValueError:
        return None
    if moment is None or moment.tzinfo is None:
        return None
    return moment + point.offset


def is_urgent(action: Action) -> bool:
    """An urgent message to her (issue 16 item 1): at its trigger's time, at any hour."""
    return action.params.get("urgent") is True


def takes_effect(
    action: Action,
    anchors: Anchors,
    now: datetime,
    today: date,
    window: SendWindow,
    *,
    event_data: Mapping[str, Any] | None = None,
    placed: bool = True,
) -> datetime | None:
    """When a deliverable takes effect: computed, clamped, then placed in the window (None:
    its point is unknown yet, or its bound has passed, and the action is dropped).
    ``event_data`` is the triggering event's data, for ``event_time`` points. An urgent
    message is never placed; ``placed=False`` gives the moment a message fires, when her
    inbox copy is filed (only the external notice waits for the window)."""
    schedule = action.schedule
    moment = now
    clamp_day: date | None = None
    latest: datetime | None = None  # an event time's exact bound (item 2)
    if schedule is not None:
        if schedule.after is not None:
            moment = now + schedule.after
        elif schedule.at is not None and schedule.at.anchor == "event_time":
            at = event_moment(schedule.at, event_data)
            if at is None:
                return None
            moment = max(at, now)
        elif schedule.at is not None:
            day = point_date(schedule.at, anchors)
            if day is None:
                return None
            moment = max(window.opening(day), now)
        if schedule.not_after is not None and schedule.not_after.anchor == "event_time":
            # The event's own time bounds to the minute: a reminder that the send window
            # would move past the class's start is dropped, not sent late.
            latest = event_moment(schedule.not_after, event_data)
            if latest is None or latest < now:
                return None
            clamp_day = window.local_date(latest)
            moment = min(moment, latest)
        elif schedule.not_after is not None:
            clamp_day = point_date(schedule.not_after, anchors)
            if clamp_day is None or clamp_day < today:
                return None  # the bound has passed: the action is dropped
            bound = max(window.opening(clamp_day), now)
            moment = min(moment, bound)
    if placed and action.kind in TO_HER and not is_urgent(action):
        moment = window.place(moment, clamp_day)
    return None if latest is not None and moment > latest else moment
