"""A chain's steps and a rule's firings: what ``runtime.evaluate`` works through, and why a
rule fired in words (the dry-run's "why" column, the staff's why-words)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from carepath.engine.facts import Event
from carepath.engine.spec import At, Every, OnEnrolled, OnEvent, Rule


@dataclass
class Step:
    """One trigger in a chain: the external trigger (depth 0) or an internal event."""

    event: Event | None
    depth: int
    occurrence: str
    chain: tuple[str, ...]  # the rules that raised this step, for the depth-limit error
    enrolment_id: str | None = None  # for an internal "enrolled" event
    repeat: bool = False  # the event says again what her facts held: no event rule fires


@dataclass(frozen=True)
class Firing:
    """A rule's trigger fired: for which occurrence (part of the dedupe key), when, and why."""

    rule: Rule
    occurrence: str
    at: datetime
    event: Event | None = None  # the triggering event of an on-event rule (its times, item 2)

    @property
    def why(self) -> str:
        return describe_trigger(self.rule, self.occurrence)


def describe_trigger(rule: Rule, occurrence: str) -> str:
    """Why a rule fired, in words, for the dry-run's "why" column."""
    trigger = rule.trigger
    if isinstance(trigger, OnEnrolled):
        why = "enrolled"
    elif isinstance(trigger, OnEvent):
        filters = ", ".join(f"{k}={v}" for k, v in trigger.filters)
        why = f"event {trigger.type}" + (f" ({filters})" if filters else "")
    elif isinstance(trigger, At):
        why = f"at {trigger.point.describe()}"
    else:
        assert isinstance(trigger, Every)
        why = f"every {trigger.interval.days}d from {trigger.start.describe()} ({occurrence})"
    if rule.when is not None:
        why += "; condition held"
    return why
