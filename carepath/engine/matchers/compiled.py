"""The default matcher: generated Python functions per pathway (``source.py`` writes them).

The source is built only from the checked AST (``source.py`` says how); it runs in a
namespace holding only the helpers below and the few builtins it names, with no others.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any

from carepath.engine.matchers.source import PLAIN_FACTS, generate_source
from carepath.engine.spec import Pathway

__all__ = ["PLAIN_FACTS", "CompiledMatcher", "generate_source"]


def _num(value: Any) -> float | None:
    """A number, or None: a bool or text never compares as a number."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    return None


def _has_code(codes: Any, prefixes: tuple[str, ...], ranges: tuple[tuple[str, str], ...]) -> bool:
    """Her codes against prefixes and ranges, one code at a time: the leaves' way when a code
    is not text (the snapshot's codes always are; the generated code then reads prefix sets)."""
    for code in codes:
        if code.startswith(prefixes):
            return True
        head = code[:3]
        for low, high in ranges:
            if low <= head <= high:
                return True
    return False


#: Code sets seen lately and their prefixes: her codes change rarely, and every pathway with a
#: code leaf asks for them at every step. A frozenset is immutable and keeps its hash, so equal
#: sets have equal prefixes; the bound keeps a long-running process from growing.
_PREFIXES: dict[frozenset[str], frozenset[str]] = {}
_PREFIXES_KEPT = 4096


def _code_prefixes(codes: Any) -> frozenset[str] | None:
    """Every prefix of every code, so that "a code starts with P" is "P is among them";
    None when a code is not text (the leaf then asks ``_has_code``, which fails as before)."""
    kept = codes.__class__ is frozenset
    if kept:
        found = _PREFIXES.get(codes)
        if found is not None:
            return found
    prefixes: set[str] = set()
    for code in codes:
        if code.__class__ is not str:
            return None
        prefixes.update([code[:end] for end in range(1, len(code) + 1)])
    result = frozenset(prefixes)
    if kept:
        if len(_PREFIXES) >= _PREFIXES_KEPT:
            _PREFIXES.clear()
        _PREFIXES[codes] = result
    return result


def _code_heads(codes: Any) -> frozenset[str] | None:
    """The first three characters of each code, which category ranges compare (None as above)."""
    heads = set()
    for code in codes:
        if code.__class__ is not str:
            return None
        heads.add(code[:3])
    return frozenset(heads)


def _any_between(heads: frozenset[str], ranges: tuple[tuple[str, str], ...]) -> bool:
    return any(low <= head <= high for head in heads for low, high in ranges)


#: Checked by type before the (slower) abstract ``Mapping`` check; the outcome is the same.
_PLAIN_MAPPINGS = (dict, MappingProxyType)


def _keyed(mapping: Any, keys: tuple[str, ...]) -> Any:
    """``mapping[k1][k2]...``, or None when any step is absent."""
    for key in keys:
        if type(mapping) not in _PLAIN_MAPPINGS and not isinstance(mapping, Mapping):
            return None
        mapping = mapping.get(key)
    return mapping


_NAMESPACE: dict[str, Any] = {
    "__builtins__": {},
    "_num": _num,
    "_has_code": _has_code,
    "_code_prefixes": _code_prefixes,
    "_code_heads": _code_heads,
    "_any_between": _any_between,
    "_keyed": _keyed,
    "_MappingProxy": MappingProxyType,
    "_NOTHING": frozenset(),
    #: What a ``contains`` leaf searches: text for a part, a list, tuple or set for an item.
    "_SEARCHED": (str, list, tuple, frozenset),
    "isinstance": isinstance,
    "bool": bool,
    "dict": dict,
    "int": int,
    "float": float,
    "str": str,
    "frozenset": frozenset,
}


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
        self._every = namespace["every"]
        self._rule_ids = frozenset(self._when)

    def audience(self, snapshot: Mapping[str, Any]) -> bool:
        return bool(self._audience(snapshot))

    def exit(self, snapshot: Mapping[str, Any]) -> bool:
        return bool(self._exit(snapshot))

    def holding(self, snapshot: Mapping[str, Any], rule_ids: Sequence[str]) -> frozenset[str]:
        when = self._when
        if 2 * len(rule_ids) > len(when) > 1 and self._rule_ids.issuperset(rule_ids):
            # Most of the rules: one pass over them all reads her values once.
            held = frozenset(self._every(snapshot))
            return held if len(rule_ids) == len(when) else held.intersection(rule_ids)
        return frozenset([rule_id for rule_id in rule_ids if when[rule_id](snapshot)])
