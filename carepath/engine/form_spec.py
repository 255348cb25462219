"""The parsed shape of a form: items, choices, flag rules, bands. Immutable and shared."""

from __future__ import annotations

import operator
from collections.abc import Mapping
from dataclasses import dataclass

#: The fact name of a scored form's total.
SCORE_ITEM = "score"

#: The value type each item type gives its fact, as the pathway compiler sees it.
VALUE_TYPES: Mapping[str, str] = {
    "single": "string",
    "multiple": "list",
    "number": "number",
    "text": "string",
    "date": "date",
}


@dataclass(frozen=True)
class Choice:
    value: str
    label: str
    score: float | None = None
    tags: tuple[str, ...] = ()
    exclusive: bool = False


@dataclass(frozen=True)
class FlagRule:
    """Raise ``flag`` when every condition given holds for one item's answer."""

    flag: str
    label: str = ""
    gte: float | None = None
    gt: float | None = None
    lte: float | None = None
    lt: float | None = None
    score_gte: float | None = None
    values: tuple[str, ...] = ()

    def holds(self, value: object, score: float | None) -> bool:
        number = float(value) if isinstance(value, int | float) and is_number(value) else None
        checks: list[bool] = [
            number is not None and compare(number, bound)
            for bound, compare in (
                (self.gte, operator.ge),
                (self.gt, operator.gt),
                (self.lte, operator.le),
                (self.lt, operator.lt),
            )
            if bound is not None
        ]
        if self.score_gte is not None:
            checks.append(score is not None and score >= self.score_gte)
        if self.values:
            chosen = set(value) if isinstance(value, list) else {value}
            checks.append(bool(chosen & set(self.values)))
        return bool(checks) and all(checks)


@dataclass(frozen=True)
class FormItem:
    id: str
    label: str
    type: str
    required: bool
    choices: tuple[Choice, ...] = ()
    unit: str | None = None
    range: tuple[float, float] | None = None
    answer: tuple[str, ...] | None = None
    points: float = 1
    flags: tuple[FlagRule, ...] = ()

    def choice(self, value: object) -> Choice | None:
        return next((c for c in self.choices if c.value == value), None)


@dataclass(frozen=True)
class Band:
    id: str
    min: float
    max: float
    label: str
    flag: str | None = None


@dataclass(frozen=True)
class Scoring:
    method: str
    items: tuple[str, ...]
    bands: tuple[Band, ...] = ()


@dataclass(frozen=True)
class Form:
    """One parsed form; immutable and shared by every patient it is sent to."""

    id: str
    title: str
    kind: str
    items: tuple[FormItem, ...]
    summary: str = ""
    summary_line: int = 1
    scoring: Scoring | None = None
    description: str = ""
    note: str = ""
    citation: tuple[str, ...] = ()
    review_status: str = "draft"
    path: str = ""
    #: Its review marks it safety advice: a pathway may send it as ``urgent``.
    safety_advice: bool = False

    @property
    def item_ids(self) -> tuple[str, ...]:
        """Every name an ``answer`` leaf may use: the items, then ``score`` if scored."""
        ids = tuple(item.id for item in self.items)
        return (*ids, SCORE_ITEM) if self.scoring is not None else ids

    @property
    def item_types(self) -> Mapping[str, str]:
        """Item id -> value type, for the compiler's catalogue (``score`` is implied)."""
        return {item.id: VALUE_TYPES[item.type] for item in self.items}

    def item(self, item_id: str) -> FormItem | None:
        return next((item for item in self.items if item.id == item_id), None)

    def item_type(self, item_id: str) -> str:
        """'number', 'string', 'list' or 'date'; KeyError for a name the form lacks."""
        if item_id == SCORE_ITEM and self.scoring is not None:
            return "number"
        item = self.item(item_id)
        if item is None:
            raise KeyError(f"form {self.id!r} has no item {item_id!r}")
        return VALUE_TYPES[item.type]


@dataclass(frozen=True)
class ScoreResult:
    """Total (None for an unscored form), band, flags raised and tags her answers give."""

    total: float | None
    band: str | None
    band_label: str | None
    flags: tuple[str, ...]
    tags: tuple[str, ...]
    complete: bool
    max_total: float | None = None


def is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
