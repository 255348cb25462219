"""The source of a pathway's generated condition functions (``compiled.py`` runs it).

Built only from the checked AST: every value reaches the code through ``repr`` of a str,
int, float, bool, tuple or frozenset (``_literal``); fact names come from the fixed set the
compiler admits; no user text is ever spliced in as code.

Each function first loads every value its conditions read into a local, once: a plain fact,
each step of a nested field (``answers -> form -> item``, one local per step, shared by the
leaves under it), a fact's numeric view, her codes' prefixes. The leaves are then inlined
comparisons of locals with literals: no helper call per comparison (issue 22: a helper call
per comparison was the matcher's main cost). Loading a value never raises, so reading all of
them up front gives the outcome the short-circuiting leaves would give.

Besides one function per condition (audience, exit, each rule's ``when``), ``every`` tests all
the rules' ``when`` against one load of the values and returns the ids that hold.
"""

from __future__ import annotations

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
#: Facts read straight from the snapshot; keyed facts (lab, answer, event, since) are paths.
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
#: The snapshot entry a keyed fact's key is looked up in.
_KEYED = {"lab": "labs", "answer": "answers", "event": "event", "since": "since"}
_ORDER = {"lt": "<", "lte": "<=", "gt": ">", "gte": ">="}


def _literal(value: Any) -> str:
    """The only way a value enters generated code."""
    if not isinstance(value, _LITERAL_TYPES):
        raise TypeError(f"refusing to emit {type(value).__name__} as a literal")
    if isinstance(value, tuple | frozenset):
        for item in value:
            _literal(item)
    return repr(value)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


class _Constants:
    """Sets and tuples the leaves test against, built once when the module runs (a
    ``frozenset({...})`` written inside a function would be built again at every call)."""

    def __init__(self) -> None:
        self.names: dict[str, str] = {}

    def name(self, value: tuple[Any, ...] | frozenset[Any]) -> str:
        text = _literal(value)
        if text not in self.names:
            self.names[text] = f"_k{len(self.names)}"
        return self.names[text]

    def lines(self) -> list[str]:
        return [f"{name} = {text}" for text, name in self.names.items()]


class _Loads:
    """The values one generated function reads, each loaded once into a local."""

    def __init__(self, constants: _Constants) -> None:
        self.constants = constants
        self.lines: list[str] = []
        self._names: dict[tuple[str, ...], str] = {}

    def _local(self, key: tuple[str, ...], prefix: str, statement: str) -> str:
        name = self._names.get(key)
        if name is None:
            name = self._names[key] = f"{prefix}{len(self._names)}"
            self.lines.append(f"    {name} = {statement}")
        return name

    def raw(self, path: tuple[str, ...]) -> str:
        """``s[path[0]][path[1]]...``, None when any step is absent or not a mapping."""
        if len(path) == 1:
            return self._local(("raw", *path), "v", f"s.get({_literal(path[0])})")
        parent = self.raw(path[:-1])
        key = _literal(path[-1])
        return self._local(
            ("raw", *path),
            "v",
            f"None if {parent} is None else {parent}.get({key}) "
            f"if (c := {parent}.__class__) is dict or c is _MappingProxy else _keyed({parent}, ({key},))",
        )

    def number(self, path: tuple[str, ...]) -> str:
        """The value as a number, or None: a bool or text never compares as a number."""
        value = self.raw(path)
        return self._local(
            ("number", *path),
            "n",
            f"{value} if (c := {value}.__class__) is int or c is float "
            f"else None if {value} is None else _num({value})",
        )

    def collection(self, fact: str) -> str:
        return self._local(("collection", fact), "t", f"{self.raw((fact,))} or ()")

    def code_prefixes(self) -> str:
        """Every prefix of every code she has (None when a code is not text)."""
        codes = self.collection("icd10")
        return self._local(("prefixes",), "p", f"_code_prefixes({codes}) if {codes} else _NOTHING")

    def code_heads(self) -> str:
        """The first three characters of each code, which ranges compare (None as above)."""
        codes = self.collection("icd10")
        return self._local(("heads",), "h", f"_code_heads({codes}) if {codes} else _NOTHING")


def _path(node: Compare) -> tuple[str, ...]:
    if node.fact in PLAIN_FACTS:
        return (node.fact,)
    source = _KEYED.get(node.fact)
    if source is None:
        raise ValueError(f"unknown fact {node.fact!r}")
    return (source, *node.key)


def _compare(node: Compare, loads: _Loads) -> str:
    path, op, value = _path(node), node.op, node.value
    if op in _ORDER:
        n = loads.number(path)
        return f"({n} is not None and {n} {_ORDER[op]} {_literal(value)})"
    if op == "between":
        assert isinstance(value, tuple)
        low, high = value
        n = loads.number(path)
        return f"({n} is not None and {_literal(low)} <= {n} <= {_literal(high)})"
    if op in ("eq", "ne"):
        equal = op == "eq"
        if isinstance(value, bool):
            v = loads.raw(path)
            if equal:
                return f"({v} is {_literal(value)})"
            return f"({v} is not None and {v} is not {_literal(value)})"
        if _is_number(value):
            n = loads.number(path)
            if equal:
                return f"({n} == {_literal(value)})"  # None (not a number) equals no number
            return f"({n} is not None and {n} != {_literal(value)})"
        v = loads.raw(path)
        if equal and isinstance(value, str):
            return f"({v} == {_literal(value)})"  # an absent fact (None) never equals text
        sign = "==" if equal else "!="
        return f"({v} is not None and {v} {sign} {_literal(value)})"
    if op == "in":
        options = value if isinstance(value, tuple) else (value,)
        numbers = tuple(o for o in options if _is_number(o))
        texts = frozenset(o for o in options if isinstance(o, str))
        parts = []
        if numbers:
            parts.append(f"({loads.number(path)} in {loads.constants.name(numbers)})")
        if texts:
            v = loads.raw(path)
            parts.append(f"(isinstance({v}, str) and {v} in {loads.constants.name(texts)})")
        return "(" + " or ".join(parts) + ")" if parts else "False"
    if op == "contains":
        v = loads.raw(path)
        return f"(isinstance({v}, _SEARCHED) and {_literal(value)} in {v})"
    if op == "startswith":
        v = loads.raw(path)
        return f"(isinstance({v}, str) and {v}.startswith({_literal(value)}))"
    raise ValueError(f"unknown operator {op!r}")


def _member(items: frozenset[str], collection: str, loads: _Loads) -> str:
    """Does the collection hold one of ``items``? (A set of her tags, visits or medicines.)"""
    if not items:
        return "False"
    wanted = loads.constants.name(items)
    if len(items) == 1:
        (item,) = items
        return (
            f"({_literal(item)} in {collection} if {collection}.__class__ is frozenset "
            f"else not {wanted}.isdisjoint({collection}))"
        )
    return f"(not {wanted}.isdisjoint({collection}))"


def _has_code(node: HasCode, loads: _Loads) -> str:
    prefixes = frozenset(p.prefix for p in node.patterns if p.prefix)
    ranges = tuple((p.low, p.high) for p in node.patterns if not p.prefix)
    parts = []
    if prefixes:
        found = loads.code_prefixes()
        wanted = loads.constants.name(prefixes)
        codes = loads.collection("icd10")
        parts.append(
            f"(not {found}.isdisjoint({wanted}) if {found} is not None "
            f"else _has_code({codes}, {loads.constants.name(tuple(sorted(prefixes)))}, ()))"
        )
    if ranges:
        heads = loads.code_heads()
        codes = loads.collection("icd10")
        between = loads.constants.name(ranges)
        parts.append(
            f"(bool({heads}) and _any_between({heads}, {between}) if {heads} is not None "
            f"else _has_code({codes}, (), {between}))"
        )
    return "(" + " or ".join(parts) + ")" if parts else "False"


def expression(node: Condition | None, loads: _Loads) -> str:
    """Python source for ``node`` over the locals ``loads`` declares; None is True."""
    if node is None:
        return "True"
    if isinstance(node, AllOf):
        return "(" + " and ".join(expression(i, loads) for i in node.items) + ")" if node.items else "True"
    if isinstance(node, AnyOf):
        return "(" + " or ".join(expression(i, loads) for i in node.items) + ")" if node.items else "False"
    if isinstance(node, Not):
        return f"(not {expression(node.item, loads)})"
    if isinstance(node, Compare):
        return _compare(node, loads)
    if isinstance(node, HasCode):
        return _has_code(node, loads)
    if isinstance(node, HasTag):
        return _member(node.tags, loads.collection("tags"), loads)
    if isinstance(node, HasVisit):
        return _member(node.kinds, loads.collection("visits"), loads)
    if isinstance(node, HasMedication):
        return _member(node.codes, loads.collection("medications"), loads)
    raise TypeError(f"unknown condition node {type(node).__name__}")


def _function(name: str, node: Condition | None, absent: str, constants: _Constants) -> list[str]:
    loads = _Loads(constants)
    body = expression(node, loads) if node is not None else absent
    return [f"def {name}(s):", *loads.lines, f"    return {body}"]


def generate_source(pathway: Pathway) -> str:
    """The module source of the pathway's condition functions."""
    constants = _Constants()
    functions = [
        *_function("audience", pathway.audience, "True", constants),
        *_function("exit", pathway.exit, "False", constants),
    ]
    for index, rule in enumerate(pathway.rules):
        functions += _function(f"when_{index}", rule.when, "True", constants)
    loads = _Loads(constants)
    tests = [f"    if {expression(rule.when, loads)}: held({_literal(rule.id)})" for rule in pathway.rules]
    functions += [
        "def every(s):",
        *loads.lines,
        "    found = []",
        "    held = found.append",
        *tests,
        "    return found",
    ]
    header = f"# pathway {pathway.id!r} version {pathway.version!r}: generated, do not edit"
    return "\n".join([header, *constants.lines(), *functions]) + "\n"
