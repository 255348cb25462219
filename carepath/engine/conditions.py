"""Parsing of condition mappings (``audience``, ``exit``, ``when``) into the typed AST.

Called by the compiler's parse pass on schema-valid input; it still reports what a schema
cannot see (operands of different types, empty ranges, ordering of unordered facts) and
records every name it meets (tags, forms, items, labs) for the resolve pass.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from carepath.engine.clock import parse_gestational_age
from carepath.engine.elapsed import DATE_FACTS, SNAPSHOT_KEY, parse_calendar_duration
from carepath.engine.loader import Path
from carepath.engine.messages import say
from carepath.engine.schema_check import suggestion
from carepath.engine.spec import (
    RISK_COLOURS,
    AllOf,
    AnyOf,
    CodePattern,
    Compare,
    Condition,
    HasCode,
    HasMedication,
    HasTag,
    HasVisit,
    Not,
    Scalar,
)
from carepath.errors import Text

NUMERIC_FACTS = {
    "gestational_week": "gestational_week",
    "trimester": "trimester",
    "age_at_edd": "age_at_edd",
    "bmi_pre": "bmi_pre",
    "gravida": "gravida",
    "para": "para",
    "plurality": "plurality",
    "days_since_delivery": "days_since_delivery",
    "live_births": "live_births",
    # issue 16 item 6: per-baby outcomes (facts.Baby)
    "babies_alive": "babies_alive",
    "babies_lost": "babies_lost",
}
ENUM_FACTS = ("status", "dating_method", "bmi_class", "weight_gain_status")  # the last: issue 16 item 9
#: Facts a condition names that are no dates: a ``since`` leaf on one is ``not-a-date``.
NOT_DATES = frozenset(
    {
        *NUMERIC_FACTS,
        *ENUM_FACTS,
        "gestational_age",
        "gestational_days",
        "risk_colour",
        "risk_level",
        "risk_confirmed",
        "any_baby_lost",
        "dating_suboptimal",
        "purple",
        "icd10",
        "tag",
        "medication",
        "visit",
        "answer",
        "lab",
        "event",
    }
)
ORDERING_OPS = frozenset({"lt", "lte", "gt", "gte", "between"})
TEXT_OPS = frozenset({"contains", "startswith"})


@dataclass(frozen=True)
class Reference:
    """A name the resolve pass must find: ``kind`` is tag, form, item, lab, content, pathway,
    icd10, medication."""

    kind: str
    name: str
    path: Path
    form: str = ""  # for items: the form they belong to


@dataclass(frozen=True)
class TypedOperands:
    """Operands of a keyed leaf whose fact type is known only after resolving (answers)."""

    form: str
    item: str
    types: frozenset[str]
    path: Path


@dataclass
class ConditionParser:
    """Parses conditions; ``error(path, code, message)`` reports into the compiler's unit."""

    error: Callable[[Path, str, Text], None]
    clean: Callable[[Path], bool] = lambda path: True
    references: list[Reference] = field(default_factory=list)
    typed_operands: list[TypedOperands] = field(default_factory=list)
    lab_thresholds: list[tuple[str, float, Path]] = field(default_factory=list)

    def parse(self, raw: dict[str, Any], path: Path) -> Condition:
        """A mapping with several keys means all of them.

        Subtrees with schema errors are skipped (their problems are reported already), so
        that names in the clean parts still get resolved and reported.
        """
        parts = [
            self._entry(key, value, (*path, key))
            for key, value in raw.items()
            if key in ("all", "any", "not") or self.clean((*path, key))
        ]
        return parts[0] if len(parts) == 1 else AllOf(tuple(parts))

    def _entry(self, key: str, value: Any, path: Path) -> Condition:
        if key in ("all", "any"):
            if not isinstance(value, list):
                return AllOf(())
            items = tuple(
                self.parse(item, (*path, i)) for i, item in enumerate(value) if isinstance(item, dict)
            )
            return AllOf(items) if key == "all" else AnyOf(items)
        if key == "not":
            return Not(self.parse(value, path)) if isinstance(value, dict) else AllOf(())
        if key == "gestational_age":
            return self._leaf("gestational_days", value, path, convert=parse_gestational_age)
        if key in NUMERIC_FACTS:
            return self._leaf(NUMERIC_FACTS[key], value, path)
        if key in ENUM_FACTS:
            return self._leaf(key, value, path, ordered=False)
        if key == "risk_colour":
            return self._risk_colour(value, path)
        if key == "risk_confirmed":  # issue 16 item 5: is the colour she has now confirmed
            return Compare("risk_confirmed", "eq", bool(value))
        if key == "any_baby_lost":  # issue 16 item 6: a stillbirth or a baby who died after birth
            return Compare("any_baby_lost", "eq", bool(value))
        if key == "dating_suboptimal":  # issue 17 item 12: first scan at or after 22+0
            return Compare("dating_suboptimal", "eq", bool(value))
        if key == "icd10":
            return HasCode(tuple(self._code_pattern(v, path) for v in _as_list(value)))
        if key == "tag":
            for i, tag in enumerate(_as_list(value)):
                self.references.append(Reference("tag", tag, _item_path(path, value, i)))
            return HasTag(frozenset(_as_list(value)))
        if key == "medication":  # issue 16 item 9: any of these is active (engine/medications.py)
            for i, code in enumerate(_as_list(value)):
                self.references.append(Reference("medication", code, _item_path(path, value, i)))
            return HasMedication(frozenset(_as_list(value)))
        if key == "visit":
            return HasVisit(frozenset(_as_list(value)))
        if key == "answer":
            return self._keyed("answer", value, path, ("form", "item"))
        if key == "lab":
            return self._keyed("lab", value, path, ("code",))
        if key == "event":
            return self._keyed("event", value, path, ("field",))
        if key == "since":
            return self._since(value, path)
        return AllOf(())  # an unknown key: the schema pass reported it

    def _leaf(
        self,
        fact: str,
        value: Any,
        path: Path,
        *,
        convert: Callable[[Any], Scalar] = lambda v: v,
        ordered: bool = True,
        key: tuple[str, ...] = (),
    ) -> Condition:
        if isinstance(value, list):
            return Compare(fact, "in", tuple(convert(v) for v in value), key)
        if not isinstance(value, dict):
            return Compare(fact, "eq", convert(value), key)
        parts: list[Condition] = []
        bounds: list[tuple[str, Any]] = []
        for op, operand in value.items():
            if op in ("form", "item", "code", "field"):
                continue
            op_path = (*path, op)
            if op in TEXT_OPS and fact not in ("answer", "event"):
                self.error(op_path, "type-mismatch", say("type-mismatch/text-op", op=op, fact=fact))
                continue
            if op in ORDERING_OPS and not ordered:
                self.error(op_path, "type-mismatch", say("type-mismatch/unordered", fact=fact))
                continue
            if isinstance(operand, list):
                converted: Scalar | tuple[Scalar, ...] = tuple(convert(v) for v in operand)
            else:
                converted = convert(operand)
            parts.append(Compare(fact, op, converted, key))
            bounds.append((op, converted))
        self._check_range(bounds, path)
        if not parts:
            return AllOf(())
        return parts[0] if len(parts) == 1 else AllOf(tuple(parts))

    def _check_range(self, bounds: list[tuple[str, Any]], path: Path) -> None:
        """Report a leaf that can never be true, such as ``{gte: '28+0', lt: '24+0'}``."""
        low: tuple[float, bool] | None = None  # (value, inclusive)
        high: tuple[float, bool] | None = None
        for op, value in bounds:
            numbers = value if isinstance(value, tuple) else (value,)
            if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in numbers):
                continue
            if op == "between":
                if numbers[0] > numbers[1]:
                    self.error((*path, op), "empty-range", say("empty-range/between"))
                    return
                low, high = _tighter_low(low, (numbers[0], True)), _tighter_high(high, (numbers[1], True))
            elif op in ("gt", "gte"):
                low = _tighter_low(low, (float(value), op == "gte"))
            elif op in ("lt", "lte"):
                high = _tighter_high(high, (float(value), op == "lte"))
        if low and high and (low[0] > high[0] or (low[0] == high[0] and not (low[1] and high[1]))):
            self.error(path, "empty-range", say("empty-range/bounds"))

    def _risk_colour(self, value: Any, path: Path) -> Condition:
        def level(colour: str) -> int:
            return RISK_COLOURS.index(colour)

        if isinstance(value, str):
            value = {"eq": value}
        elif isinstance(value, list):
            value = {"in": value}
        parts: list[Condition] = []
        for op, operand in value.items():
            colours = operand if isinstance(operand, list) else [operand]
            wants_purple = "purple" in colours
            plain = [c for c in colours if c != "purple"]
            if wants_purple and op not in ("eq", "ne", "in"):
                self.error((*path, op), "type-mismatch", say("type-mismatch/purple"))
                continue
            if op == "in":
                options: list[Condition] = []
                if plain:
                    options.append(Compare("risk_level", "in", tuple(level(c) for c in plain)))
                if wants_purple:
                    options.append(Compare("purple", "eq", True))
                parts.append(options[0] if len(options) == 1 else AnyOf(tuple(options)))
            elif wants_purple:
                parts.append(Compare("purple", "eq", op == "eq"))
            else:
                parts.append(Compare("risk_level", op, level(plain[0])))
        return parts[0] if len(parts) == 1 else AllOf(tuple(parts))

    def _since(self, value: dict[str, Any], path: Path) -> Condition:
        """``since: {fact: delivery_date, lt: 18mo}`` (issue 16 item 9): the time since a date
        fact, in days or calendar months (engine/elapsed.py), one ``Compare`` per operator."""
        fact = str(value["fact"])
        if fact not in DATE_FACTS:
            dates = ", ".join(DATE_FACTS)
            if fact in NOT_DATES:
                self.error((*path, "fact"), "not-a-date", say("not-a-date/since", fact=fact, dates=dates))
            else:
                choices = suggestion(fact, DATE_FACTS)
                text = say("unknown-fact/since", fact=fact, dates=dates, suggestion=choices)
                self.error((*path, "fact"), "unknown-fact", text)
            return AllOf(())
        parts: list[Condition] = []
        bounds: dict[str, list[tuple[str, Any]]] = {"days": [], "months": []}
        for op, operand in value.items():
            if op == "fact":
                continue
            amount, unit = parse_calendar_duration(str(operand))
            parts.append(Compare(SNAPSHOT_KEY, op, amount, (fact, unit)))
            bounds[unit].append((op, amount))
        for same_unit in bounds.values():  # days and months are not comparable by number
            self._check_range(same_unit, path)
        return parts[0] if len(parts) == 1 else AllOf(tuple(parts))

    def _code_pattern(self, text: str, path: Path) -> CodePattern:
        for code in text.split("-"):
            self.references.append(Reference("icd10", code, path))
        if "-" in text:
            low, high = text.split("-")
            if low[0] != high[0] or low > high:
                self.error(path, "empty-range", say("empty-range/icd10", range=text))
            return CodePattern(low=low, high=high)
        return CodePattern(prefix=text)

    def _keyed(self, fact: str, value: dict[str, Any], path: Path, keys: tuple[str, ...]) -> Condition:
        key = tuple(str(value[k]) for k in keys)
        operands = [v for op, v in value.items() if op not in keys]
        flat = [x for v in operands for x in (v if isinstance(v, list) else [v])]
        types = frozenset(_json_type(x) for x in flat)
        if fact != "answer" and len(types) > 1:
            self.error(path, "type-mismatch", say("type-mismatch/mixed"))
        if fact == "event":
            key = tuple(str(value["field"]).split("."))
        if fact == "lab":
            self.references.append(Reference("lab", key[0], (*path, "code")))
            for operand in flat:
                if isinstance(operand, int | float) and not isinstance(operand, bool):
                    self.lab_thresholds.append((key[0], float(operand), path))
        if fact == "answer":
            form, item = key
            self.references.append(Reference("form", form, (*path, "form")))
            self.references.append(Reference("item", item, (*path, "item"), form=form))
            self.typed_operands.append(TypedOperands(form, item, types, path))
        return self._leaf(fact, {k: v for k, v in value.items() if k not in keys}, path, key=key)


def _tighter_low(current: tuple[float, bool] | None, new: tuple[float, bool]) -> tuple[float, bool]:
    if current is None or new[0] > current[0] or (new[0] == current[0] and not new[1]):
        return new
    return current


def _tighter_high(current: tuple[float, bool] | None, new: tuple[float, bool]) -> tuple[float, bool]:
    if current is None or new[0] < current[0] or (new[0] == current[0] and not new[1]):
        return new
    return current


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _item_path(path: Path, value: Any, index: int) -> Path:
    return (*path, index) if isinstance(value, list) else path


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return "string"
