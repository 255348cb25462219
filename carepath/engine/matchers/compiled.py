"""The default matcher: one generated Python function per pathway.

The source is built only from the checked AST: every value reaches the code through
``repr`` of a str, int, float, bool, tuple or frozenset; fact names come from the fixed set
the compiler admits; no user text is ever spliced in as code. The generated function returns
a tuple of booleans, one per condition (audience, exit, then each rule's ``when``), and runs
in a namespace holding only the helpers below, with no builtins.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any

from carepath.engine.spec import (
    AllOf,
    AnyOf,
    Compare,
    Condition,
    HasCode,
    HasMedication,
    HasTag,
    HasVisit,
    Not,
    Pathway,
)

_LITERAL_TYPES = (str, int, float, bool, tuple, frozenset, type(None))
#: Facts read straight from the snapshot; keyed facts (lab, answer, event) have getters.
PLAIN_FACTS = frozenset(
    {
        "gestational_days",
        "gestational_week",
        "trimester",
        "age_at_edd",
        "bmi_pre",
        "bmi_class",
        "weight_gain_status",  # issue 16 item 9 (engine/weight_gain.py)
        "gravida",
        "para",
        "plurality",
        "days_since_delivery",
        "live_births",
        "babies_alive",
        "babies_lost",
        "any_baby_lost",
        "status",
        "dating_method",
        "dating_suboptimal",  # issue 17 item 12
        "risk_level",
        "risk_confirmed",
        "purple",
    }
)


def _num(value: Any) -> float | None:
    """A number, or None: a bool or text never compares as a number."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    return None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _has_code(codes: frozenset[str], prefixes: tuple[str, ...], ranges: tuple[tuple[str, str], ...]) -> bool:
    for code in codes:
        if code.startswith(prefixes):
            return True
        head = code[:3]
        for low, high in ranges:
            if low <= head <= high:
                return True
    return False


#: Checked by type before the (slower) abstract ``Mapping`` check; the outcome is the same.
_PLAIN_MAPPINGS = (dict, MappingProxyType)


def _keyed(mapping: Any, keys: tuple[str, ...]) -> Any:
    """``mapping[k1][k2]...``, or None when any step is absent."""
    for key in keys:
        if type(mapping) not in _PLAIN_MAPPINGS and not isinstance(mapping, Mapping):
            return None
        mapping = mapping.get(key)
    return mapping


def _contains(value: Any, part: str) -> bool:
    if isinstance(value, str):
        return part in value
    if isinstance(value, list | tuple | frozenset):
        return part in value
    return False


_NAMESPACE: dict[str, Any] = {
    "__builtins__": {},
    "_num": _num,
    "_text": _text,
    "_has_code": _has_code,
    "_keyed": _keyed,
    "_contains": _contains,
    "isinstance": isinstance,
    "str": str,
    "frozenset": frozenset,
}


def _literal(value: Any) -> str:
    """The only way a value enters generated code."""
    if not isinstance(value, _LITERAL_TYPES):
        raise TypeError(f"refusing to emit {type(value).__name__} as a literal")
    if isinstance(value, tuple | frozenset):
        for item in value:
            _literal(item)
    return repr(value)


def _getter(node: Compare) -> str:
    if node.fact in PLAIN_FACTS:
        return f"s.get({_literal(node.fact)})"
    if node.fact == "lab":
        return f"_keyed(s.get('labs'), {_literal(node.key)})"
    if node.fact == "answer":
        return f"_keyed(s.get('answers'), {_literal(node.key)})"
    if node.fact == "event":
        return f"_keyed(s.get('event'), {_literal(node.key)})"
    if node.fact == "since":  # key: (date fact, "days" or "months"), engine/elapsed.py
        return f"_keyed(s.get('since'), {_literal(node.key)})"
    raise ValueError(f"unknown fact {node.fact!r}")


_ORDER = {"lt": "<", "lte": "<=", "gt": ">", "gte": ">="}


def _compare(node: Compare) -> str:
    get = _getter(node)
    value = node.value
    numeric = isinstance(value, int | float) and not isinstance(value, bool)
    op = node.op
    if op in _ORDER:
        return f"((v := _num({get})) is not None and v {_ORDER[op]} {_literal(value)})"
    if op == "between":
        assert isinstance(value, tuple)
        low, high = value
        return f"((v := _num({get})) is not None and {_literal(low)} <= v <= {_literal(high)})"
    if op in ("eq", "ne"):
        wrap = "_num" if numeric else ""
        sign = "==" if op == "eq" else "!="
        if isinstance(value, bool):
            return (
                f"((v := {get}) is not None and v is {_literal(value)})"
                if op == "eq"
                else (f"((v := {get}) is not None and v is not {_literal(value)})")
            )
        return f"((v := {wrap}({get})) is not None and v {sign} {_literal(value)})"
    if op == "in":
        options = value if isinstance(value, tuple) else (value,)
        numbers = tuple(o for o in options if isinstance(o, int | float) and not isinstance(o, bool))
        texts = frozenset(o for o in options if isinstance(o, str))
        parts = []
        if numbers:
            parts.append(f"((v := _num({get})) is not None and v in {_literal(numbers)})")
        if texts:
            parts.append(f"((v := _text({get})) is not None and v in {_literal(texts)})")
        return "(" + " or ".join(parts) + ")" if parts else "False"
    if op == "contains":
        return f"_contains({get}, {_literal(value)})"
    if op == "startswith":
        return f"((v := _text({get})) is not None and v.startswith({_literal(value)}))"
    raise ValueError(f"unknown operator {op!r}")


def expression(node: Condition | None) -> str:
    """Python source for ``node``; None (no condition) is True."""
    if node is None:
        return "True"
    if isinstance(node, AllOf):
        return "(" + " and ".join(expression(i) for i in node.items) + ")" if node.items else "True"
    if isinstance(node, AnyOf):
        return "(" + " or ".join(expression(i) for i in node.items) + ")" if node.items else "False"
    if isinstance(node, Not):
        return f"(not {expression(node.item)})"
    if isinstance(node, Compare):
        return _compare(node)
    if isinstance(node, HasCode):
        prefixes = tuple(p.prefix for p in node.patterns if p.prefix)
        ranges = tuple((p.low, p.high) for p in node.patterns if not p.prefix)
        return f"_has_code(s.get('icd10') or (), {_literal(prefixes)}, {_literal(ranges)})"
    if isinstance(node, HasTag):
        return f"(not {_literal(node.tags)}.isdisjoint(s.get('tags') or ()))"
    if isinstance(node, HasVisit):
        return f"(not {_literal(node.kinds)}.isdisjoint(s.get('visits') or ()))"
    if isinstance(node, HasMedication):
        return f"(not {_literal(node.codes)}.isdisjoint(s.get('medications') or ()))"
    raise TypeError(f"unknown condition node {type(node).__name__}")


def generate_source(pathway: Pathway) -> str:
    """The module source of the pathway's condition functions."""
    lines = [f"# pathway {pathway.id!r} version {pathway.version!r}: generated, do not edit"]
    lines.append("def audience(s):")
    lines.append(f"    return {expression(pathway.audience) if pathway.audience else 'True'}")
    lines.append("def exit(s):")
    lines.append(f"    return {expression(pathway.exit) if pathway.exit else 'False'}")
    for index, rule in enumerate(pathway.rules):
        lines.append(f"def when_{index}(s):")
        lines.append(f"    return {expression(rule.when)}")
    return "\n".join(lines) + "\n"


class CompiledMatcher:
    """Generated functions for one pathway version, compiled once and shared."""

    def __init__(self, pathway: Pathway) -> None:
        self.pathway = pathway
        self.source = generate_source(pathway)
        namespace = dict(_NAMESPACE)
        code = compile(self.source, f"<pathway {pathway.id}@{pathway.version}>", "exec")
        exec(code, namespace)  # the source holds only repr() literals of the checked AST
        self._audience = namespace["audience"]
        self._exit = namespace["exit"]
        self._when = {rule.id: namespace[f"when_{i}"] for i, rule in enumerate(pathway.rules)}

    def audience(self, snapshot: Mapping[str, Any]) -> bool:
        return bool(self._audience(snapshot))

    def exit(self, snapshot: Mapping[str, Any]) -> bool:
        return bool(self._exit(snapshot))

    def holding(self, snapshot: Mapping[str, Any], rule_ids: Sequence[str]) -> frozenset[str]:
        when = self._when
        return frozenset([rule_id for rule_id in rule_ids if when[rule_id](snapshot)])
