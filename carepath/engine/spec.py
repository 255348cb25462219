"""Immutable spec objects: what a compiled pathway is.

The compiler produces these once per pathway version; every evaluation shares them. Per-patient
state lives elsewhere and refers to pathways and rules by id. Nothing here holds user text as
code: conditions are typed AST nodes whose values were checked by the compiler.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from types import MappingProxyType
from typing import Literal

Scalar = str | int | float | bool
PointAnchor = Literal["gestational_age", "edd", "delivery_date", "enrolled", "event_time"]
CatchUp = Literal["skip", "latest", "all"]

#: The five-colour grade, lowest first; purple is a separate flag that stands beside it.
RISK_COLOURS: tuple[str, ...] = ("green", "yellow", "orange", "red")
ACTION_KINDS: tuple[str, ...] = ("push", "questionnaire", "remind", "task", "tag", "risk", "enroll")
#: Actions that reach her or staff and can be scheduled; the rest change facts at once.
DELIVERABLE_KINDS: frozenset[str] = frozenset({"push", "questionnaire", "remind", "task"})


@dataclass(frozen=True)
class Point:
    """A moment in her pregnancy: ``gestational_age`` + offset days, or an anchor + offset.

    ``event_time`` (issue 16 item 2) is a time the triggering event carries: ``field`` names it
    in the event's ``data`` (``starts_at``); only a scheduled action of an ``on: {event: …}``
    rule may use it, and its moment is that time plus the offset, to the minute.
    """

    anchor: PointAnchor
    offset: timedelta
    field: str = ""

    def describe(self) -> str:
        if self.anchor == "gestational_age":
            days = self.offset.days
            return f"GA {days // 7}+{days % 7}"
        if self.anchor == "event_time":
            hours = int(self.offset.total_seconds()) // 3600
            sign = "+" if hours >= 0 else "-"
            amount = f"{abs(hours) // 24}d" if hours % 24 == 0 else f"{abs(hours)}h"
            return f"event {self.field} {sign}{amount}"
        sign = "+" if self.offset >= timedelta(0) else "-"
        return f"{self.anchor} {sign}{abs(self.offset.days)}d"


# --- triggers -------------------------------------------------------------------------------


@dataclass(frozen=True)
class OnEnrolled:
    """Fires when she enters this pathway."""


@dataclass(frozen=True)
class OnEvent:
    """Fires on an event of ``type`` whose data has the ``filters`` values."""

    type: str
    filters: tuple[tuple[str, Scalar], ...] = ()


@dataclass(frozen=True)
class At:
    """Fires once, at the send window's opening on the point's day."""

    point: Point


@dataclass(frozen=True)
class Every:
    """Fires at ``start``, then every ``interval``, while before ``until`` (exclusive)."""

    interval: timedelta
    start: Point
    until: Point | None = None


Trigger = OnEnrolled | OnEvent | At | Every


# --- conditions -----------------------------------------------------------------------------


@dataclass(frozen=True)
class AllOf:
    items: tuple[Condition, ...]


@dataclass(frozen=True)
class AnyOf:
    items: tuple[Condition, ...]


@dataclass(frozen=True)
class Not:
    item: Condition


@dataclass(frozen=True)
class Compare:
    """``fact op value``; ``key`` selects inside keyed facts (lab code, form+item, event field).

    Facts: ``gestational_days``, ``gestational_week``, ``trimester``, ``age_at_edd``,
    ``bmi_pre``, ``bmi_class``, ``weight_gain_status``, ``gravida``, ``para``, ``plurality``,
    ``days_since_delivery``, ``status``, ``dating_method``, ``risk_level`` (index in RISK_COLOURS),
    ``purple``,
    ``lab`` (key: code), ``answer`` (key: form, item), ``event`` (key: dotted field path),
    ``since`` (key: date fact, ``days`` or ``months``; engine/elapsed.py).
    ``value`` is a scalar, or a tuple for ``in`` and ``between``.
    """

    fact: str
    op: str
    value: Scalar | tuple[Scalar, ...]
    key: tuple[str, ...] = ()


@dataclass(frozen=True)
class CodePattern:
    """An ICD-10 prefix (``O24.4``) or a category range (``O10``..``O16``, inclusive)."""

    prefix: str = ""
    low: str = ""
    high: str = ""

    def matches(self, code: str) -> bool:
        if self.prefix:
            return code.startswith(self.prefix)
        return self.low <= code[:3] <= self.high


@dataclass(frozen=True)
class HasCode:
    """True when any of her ICD-10 codes matches any pattern."""

    patterns: tuple[CodePattern, ...]


@dataclass(frozen=True)
class HasTag:
    """True when she carries any of these tags."""

    tags: frozenset[str]


@dataclass(frozen=True)
class HasVisit:
    """True when any of these visit kinds was completed in this pregnancy."""

    kinds: frozenset[str]


@dataclass(frozen=True)
class HasMedication:
    """True when any of these medications is active (prescribed and not stopped; issue 16 item 9)."""

    codes: frozenset[str]


Condition = AllOf | AnyOf | Not | Compare | HasCode | HasTag | HasVisit | HasMedication


# --- actions and rules ----------------------------------------------------------------------


@dataclass(frozen=True)
class Schedule:
    """When a deliverable action runs instead of now; all fields optional."""

    after: timedelta | None = None
    at: Point | None = None
    not_after: Point | None = None
    slot: str | None = None


@dataclass(frozen=True)
class Action:
    """One entry of a rule's ``do``; ``index`` is its position, part of the dedupe key."""

    kind: str
    index: int
    params: Mapping[str, object] = field(default_factory=lambda: MappingProxyType({}))
    schedule: Schedule | None = None
    channels: tuple[str, ...] = ()


@dataclass(frozen=True)
class Rule:
    id: str
    trigger: Trigger
    actions: tuple[Action, ...]
    when: Condition | None = None
    catch_up: CatchUp = "skip"
    catch_up_within: timedelta | None = None
    title: str = ""
    line: int = 0


@dataclass(frozen=True)
class Pathway:
    """A compiled pathway version; ``version`` is the content hash of its canonical form."""

    id: str
    title: str
    version: str
    rules: tuple[Rule, ...]
    description: str = ""
    tags: frozenset[str] = frozenset()
    audience: Condition | None = None  # None: every pregnancy
    exit: Condition | None = None
    source: str = ""

    def rule(self, rule_id: str) -> Rule:
        for rule in self.rules:
            if rule.id == rule_id:
                return rule
        raise KeyError(rule_id)


_DURATION_UNITS = {"h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1)}


def parse_duration(text: str) -> timedelta:
    """``"3d"`` -> 3 days, ``"-14d"``, ``"12h"``, ``"2w"``. The schema has checked the shape."""
    text = text.strip()
    unit = _DURATION_UNITS.get(text[-1:])
    if unit is None:
        raise ValueError(f"{text!r} is not a duration such as '3d', '2w' or '12h'")
    return int(text[:-1]) * unit


def walk(condition: Condition | None) -> list[Condition]:
    """Every node of a condition tree, parents before children."""
    if condition is None:
        return []
    nodes: list[Condition] = [condition]
    if isinstance(condition, AllOf | AnyOf):
        for item in condition.items:
            nodes += walk(item)
    elif isinstance(condition, Not):
        nodes += walk(condition.item)
    return nodes
