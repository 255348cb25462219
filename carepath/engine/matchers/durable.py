"""The second matcher: the checked AST as a durable-rules ruleset, evaluated statelessly.

durable-rules is an independent implementation of the comparisons and of the and/or
algebra, so the differential test checks the compiled matcher against it (and it against the
compiled one). ``docs/durable-rules.md`` lists what was measured of durable-rules 2.0.28; this
module follows it:

* one ruleset per pathway version, named by id, version (its content hash) and the hash of
  the translated definition; a process shares one ruleset per name and frees it with the
  last matcher that uses it (a name is never re-registered while it lives);
* one durable rule per condition (``a`` audience, ``x`` exit, ``r<i>`` rule i's ``when``),
  each anchored ``{"$and": [{"kind": "facts"}, <condition>]}`` so that no rule can match
  through negative tests alone;
* one fact per evaluation, holding flattened, typed values computed once per snapshot: a
  boolean for every tag, medication, ICD-10 prefix or range, visit and text probe (``contains``,
  ``startswith``) the pathway names, and per compared fact a type tag (``y``) plus the value
  under a slot of its type (``n`` number, ``t`` text, ``b`` boolean), so that durable-rules
  never coerces text to numbers and absent facts are explicit; never ``$mt``, ``$iall`` or
  ``$nex``;
* negation is pushed down to the leaves (each leaf knows its exact complement), because
  durable-rules has no ``not`` inside an expression;
* a ``seen`` rule that always fires: deleting a session in which no rule fired crashes
  durable-rules 2.0.28 (segmentation fault, measured here);
* a fresh session (unique ``sid``) per evaluation, deleted in ``finally``; no timers, no
  ``Host`` (whose dispatcher threads could run our actions from another thread). Actions only
  append their rule's name.

Numbers reach durable-rules as doubles: snapshot integers beyond 2**53 compare as their
nearest double, infinities as the largest double (literals must stay within +-1e300, so no
outcome changes), and NaN as its own type tag. durable-rules' parser rejects ``1e-05`` (an
exponent after a mantissa without a fraction), so facts and rulesets are written by ``_dump``.

durable-rules allows at most 15 ``$and``/``$or`` groups in one rule's expression sequence. A
condition that needs more is fed as one boolean precomputed by the compiled matcher's code
(counted in ``DurableMatcher.precomputed``); every pathway in the examples fits natively.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import threading
import weakref
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import durable_rules_engine  # durable-rules' C core

from carepath.engine.matchers.compiled import PLAIN_FACTS, CompiledMatcher
from carepath.engine.spec import (
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
    Pathway,
)

Json = dict[str, Any]

TRUE: Json = {"kind": "facts"}
#: The rule that fires on every fact (see ``DurableMatcher``).
SEEN = "seen"
FALSE: Json = {"kind": "never"}
#: durable-rules fails a rule at 32 entries in its expression sequence; each group takes two.
MAX_GROUPS = 15
#: durable-rules reads at most 255 properties of a fact; sid, id and kind take three.
MAX_PROPERTIES = 250
#: Snapshot numbers beyond this are fed as this; literals must lie strictly inside it, so the
#: clamp never changes an outcome (``inf > 40`` and ``1.7e308 > 40`` agree).
_LARGEST = 1.7976931348623157e308
_LITERAL_LIMIT = 1e300

_COMPLEMENT = {"lt": "$gte", "lte": "$gt", "gt": "$lte", "gte": "$lt"}
_ORDER = {"lt": "$lt", "lte": "$lte", "gt": "$gt", "gte": "$gte"}

# The C core holds the GIL and keys sessions by a 32-bit hash of the sid: evaluating one
# session at a time per process rules out two live sessions colliding.
_LOCK = threading.Lock()
_SESSIONS = itertools.count(1)
_RULESETS: weakref.WeakValueDictionary[str, _Registered] = weakref.WeakValueDictionary()


class _Registered:
    """A ruleset registered with the durable-rules core, shared by every matcher of its content.

    Driven through the C core directly (no ``Host``, whose dispatcher threads could run our
    actions, and no ``durable.engine.Ruleset``, whose ``json.dumps`` writes ``1e-05``, a
    number the core's parser rejects). Freed in the core when the last matcher goes.
    """

    def __init__(self, name: str, definition: Mapping[str, Json]) -> None:
        self.handle: int = durable_rules_engine.create_ruleset(name, _dump(definition))
        weakref.finalize(self, durable_rules_engine.delete_ruleset, self.handle)

    def fired(self, fact: Mapping[str, Any]) -> list[str]:
        """The rules ``fact`` fires, in a fresh session deleted before returning.

        Each fired rule's action does one thing: append the rule's name.
        """
        asserted = False
        try:
            code, state = durable_rules_engine.assert_fact(self.handle, _dump(fact))
            if code != 0:  # the seen rule makes this impossible; deleting such a session crashes
                raise RuntimeError(f"durable-rules did not take the fact (code {code})")
            asserted = True
            fired: list[str] = []
            started = durable_rules_engine.start_action_for_state(self.handle, state)
            messages = json.loads(started[1]) if started else None
            while messages:
                fired.append(next(iter(messages)))
                following = durable_rules_engine.complete_and_start_action(self.handle, state)
                messages = json.loads(following) if following else None
            return fired
        finally:
            if asserted:
                durable_rules_engine.delete_state(self.handle, fact["sid"])


def _dump(value: Any) -> str:
    """JSON as the durable-rules core parses it: a number's mantissa always has a fraction.

    Text is written with ASCII escapes: the core compares strings by their JSON spelling, which
    is then one per string, and it refuses lone surrogates that Python text may hold.
    """
    if isinstance(value, Mapping):
        items = (f"{json.dumps(k)}:{_dump(v)}" for k, v in value.items())
        return "{" + ",".join(items) + "}"
    if isinstance(value, list):
        return "[" + ",".join(_dump(v) for v in value) + "]"
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"durable-rules cannot read {value!r}")
        text = repr(value)
        mantissa, e, exponent = text.partition("e")
        if e and "." not in mantissa:
            text = f"{mantissa}.0e{exponent}"
        return text
    return json.dumps(value)  # ASCII escapes: one spelling per string, lone surrogates too


def _keyed(mapping: Any, keys: tuple[str, ...]) -> Any:
    for key in keys:
        if not isinstance(mapping, Mapping):
            return None
        mapping = mapping.get(key)
    return mapping


def _getter(node: Compare) -> Callable[[Mapping[str, Any]], Any]:
    if node.fact in PLAIN_FACTS:
        fact = node.fact
        return lambda s: s.get(fact)
    source = {"lab": "labs", "answer": "answers", "event": "event", "since": "since"}.get(node.fact)
    if source is None:
        raise ValueError(f"unknown fact {node.fact!r}")
    key = node.key
    return lambda s: _keyed(s.get(source), key)


def _number(value: Any) -> float:
    """A literal as durable-rules compares it: a finite float well inside the double range."""
    if isinstance(value, str) or not isinstance(value, int | float):
        raise ValueError(f"{value!r} is not a number")
    number = float(value)
    if not -_LITERAL_LIMIT < number < _LITERAL_LIMIT:
        raise ValueError(f"{value!r} is out of the range the durable matcher compares")
    return number


def _text_probe(op: str, part: Any) -> Callable[[Any], bool]:
    if op == "startswith":
        return lambda v: isinstance(v, str) and isinstance(part, str) and v.startswith(part)

    def contains(v: Any) -> bool:
        if isinstance(v, str):
            return isinstance(part, str) and part in v
        return isinstance(v, list | tuple | frozenset) and part in v

    return contains


def _all(parts: Sequence[Json]) -> Json:
    flat: list[Json] = []
    for part in parts:
        if part == FALSE:
            return FALSE
        if part != TRUE:
            flat += part.get("$and", [part])
    if not flat:
        return TRUE
    return flat[0] if len(flat) == 1 else {"$and": flat}


def _any(parts: Sequence[Json]) -> Json:
    flat: list[Json] = []
    for part in parts:
        if part == TRUE:
            return TRUE
        if part != FALSE:
            flat += part.get("$or", [part])
    if not flat:
        return FALSE
    return flat[0] if len(flat) == 1 else {"$or": flat}


def _groups(node: Json) -> int:
    for op in ("$and", "$or"):
        if op in node:
            return 1 + sum(_groups(item) for item in node[op])
    return 0


class _Translator:
    """The AST of one pathway as durable-rules conditions, and the feed they read."""

    def __init__(self) -> None:
        self.slots: dict[tuple[str, tuple[str, ...]], tuple[int, Callable[[Mapping[str, Any]], Any]]] = {}
        self.tags: dict[str, str] = {}
        self.visits: dict[str, str] = {}
        self.medications: dict[str, str] = {}
        self.codes: dict[CodePattern, str] = {}
        self.probes: dict[tuple[int, str, Any], str] = {}
        self.probe_tests: list[tuple[str, Callable[[Mapping[str, Any]], Any], Callable[[Any], bool]]] = []
        self.precomputed: dict[str, Callable[[Mapping[str, Any]], bool]] = {}
        self._precomputed_names: dict[Condition, str] = {}

    # --- the feed ------------------------------------------------------------------------

    def _slot(self, node: Compare) -> int:
        key = (node.fact, node.key)
        if key not in self.slots:
            self.slots[key] = (len(self.slots), _getter(node))
        return self.slots[key][0]

    def _flag(self, table: dict[Any, str], item: Any, prefix: str) -> Json:
        if item not in table:
            table[item] = f"{prefix}{len(table)}"
        return {table[item]: True}

    def property_count(self) -> int:
        singles = (
            len(self.tags) + len(self.visits) + len(self.medications) + len(self.codes) + len(self.probes)
        )
        return 2 * len(self.slots) + singles + len(self.precomputed)

    # --- conditions ----------------------------------------------------------------------

    def condition(self, node: Condition | None, absent: Json) -> Json:
        """The anchored durable condition of ``node`` (None: ``absent``, TRUE or FALSE)."""
        body = absent if node is None else self.translate(node, positive=True)
        if _groups(body) > MAX_GROUPS - 1:  # the anchor's $and is one group
            body = self._precompute(node)
        if body == TRUE:
            return TRUE
        return {"$and": [TRUE, *body.get("$and", [body])]}

    def translate(self, node: Condition, positive: bool) -> Json:
        """``node`` (``positive``) or its negation, in negation normal form."""
        if isinstance(node, AllOf | AnyOf):
            parts = [self.translate(item, positive) for item in node.items]
            conjunction = isinstance(node, AllOf) == positive
            return _all(parts) if conjunction else _any(parts)
        if isinstance(node, Not):
            return self.translate(node.item, not positive)
        if isinstance(node, HasTag | HasVisit | HasCode | HasMedication):
            flags = self._flags(node)
            if positive:
                return _any(flags)
            return _all([{name: False for name in flag} for flag in flags])
        if isinstance(node, Compare):
            return self._compare(node, positive)
        raise TypeError(f"unknown condition node {type(node).__name__}")

    def _flags(self, node: HasTag | HasVisit | HasCode | HasMedication) -> list[Json]:
        if isinstance(node, HasTag):
            return [self._flag(self.tags, tag, "tag") for tag in sorted(node.tags)]
        if isinstance(node, HasVisit):
            return [self._flag(self.visits, kind, "visit") for kind in sorted(node.kinds)]
        if isinstance(node, HasMedication):
            return [self._flag(self.medications, code, "med") for code in sorted(node.codes)]
        return [self._flag(self.codes, pattern, "icd") for pattern in node.patterns]

    def _compare(self, node: Compare, positive: bool) -> Json:
        k = self._slot(node)
        y, n = f"y{k}", f"n{k}"
        op, value = node.op, node.value
        if op in _ORDER:
            c = _number(value)
            if positive:
                return {_ORDER[op]: {n: c}}
            return _any([{"$neq": {y: "num"}}, {_COMPLEMENT[op]: {n: c}}])
        if op == "between":
            assert isinstance(value, tuple)
            low, high = _number(value[0]), _number(value[1])
            if positive:
                return _all([{"$gte": {n: low}}, {"$lte": {n: high}}])
            return _any([{"$neq": {y: "num"}}, {"$lt": {n: low}}, {"$gt": {n: high}}])
        if op == "eq":
            slot, kind, literal = self._typed(k, value)
            if positive:
                return {slot: literal}
            return _any([{"$neq": {y: kind}}, {"$neq": {slot: literal}}])
        if op == "ne":
            slot, kind, literal = self._typed(k, value)
            if kind == "num":  # only numbers compare, and NaN differs from everything
                if positive:
                    return _any([{"$neq": {slot: literal}}, {y: "nan"}])
                return _all([{"$neq": {y: "nan"}}, _any([{"$neq": {y: "num"}}, {slot: literal}])])
            if positive:  # any present value other than this text or boolean
                return _all([{"$neq": {y: "none"}}, _any([{"$neq": {y: kind}}, {"$neq": {slot: literal}}])])
            return _any([{y: "none"}, {slot: literal}])
        if op == "in":
            options = value if isinstance(value, tuple) else (value,)
            wanted = [o for o in options if not isinstance(o, bool) and isinstance(o, int | float | str)]
            leaves = [Compare(node.fact, "eq", o, node.key) for o in wanted]
            parts = [self._compare(leaf, positive) for leaf in leaves]
            return _any(parts) if positive else _all(parts)
        if op in ("contains", "startswith"):
            if (k, op, value) not in self.probes:
                self.probe_tests.append((f"probe{len(self.probes)}", _getter(node), _text_probe(op, value)))
            flag = self._flag(self.probes, (k, op, value), "probe")
            return flag if positive else {name: False for name in flag}
        raise ValueError(f"unknown operator {op!r}")

    @staticmethod
    def _typed(k: int, value: Any) -> tuple[str, str, Any]:
        """The slot, type tag and literal an ``eq``/``ne`` value compares under."""
        if isinstance(value, bool):
            return f"b{k}", "bool", value
        if isinstance(value, int | float):
            return f"n{k}", "num", _number(value)
        if isinstance(value, str):
            return f"t{k}", "text", value
        raise ValueError(f"cannot compare with {value!r}")

    def _precompute(self, node: Condition | None) -> Json:
        """The whole condition as one boolean computed in Python, when it is too large to fit.

        The boolean comes from the compiled matcher's code for the condition, so durable-rules
        only checks the flag: a fallback for conditions larger than any pathway written so far.
        """
        assert node is not None
        name = self._precomputed_names.get(node)
        if name is None:
            name = self._precomputed_names[node] = f"pre{len(self.precomputed)}"
            holder = Pathway(id="precomputed", title="", version="", rules=(), audience=node)
            self.precomputed[name] = CompiledMatcher(holder).audience
        return {name: True}


def _typed_value(fact: dict[str, Any], k: int, value: Any) -> None:
    if value is None:
        fact[f"y{k}"] = "none"
    elif isinstance(value, bool):
        fact[f"y{k}"] = "bool"
        fact[f"b{k}"] = value
    elif isinstance(value, int | float):
        if isinstance(value, float) and math.isnan(value):
            fact[f"y{k}"] = "nan"
        else:
            try:
                number = float(value)
            except OverflowError:  # an int beyond the double range
                number = _LARGEST if value > 0 else -_LARGEST
            fact[f"y{k}"] = "num"
            fact[f"n{k}"] = max(-_LARGEST, min(_LARGEST, number))
    elif isinstance(value, str):
        fact[f"y{k}"] = "text"
        fact[f"t{k}"] = value
    else:
        fact[f"y{k}"] = "other"


def _fnv1a(name: str) -> int:
    """durable-rules' property-name hash: equal hashes are one property to it."""
    h = 0x811C9DC5
    for byte in name.encode("utf-8"):
        h = ((h ^ byte) * 0x01000193) & 0xFFFFFFFF
    return h


class DurableMatcher:
    """One pathway version as a durable-rules ruleset; each evaluation is a fresh session."""

    def __init__(self, pathway: Pathway) -> None:
        self.pathway = pathway
        translator = _Translator()
        definition: dict[str, Json] = {
            # Always fires: a session in which no rule matched crashes durable-rules when it is
            # deleted (2.0.28, measured here), and its absence would mean the fact went unread.
            SEEN: {"all": [{"m": TRUE}]},
            "a": {"all": [{"m": translator.condition(pathway.audience, TRUE)}]},
            "x": {"all": [{"m": translator.condition(pathway.exit, FALSE)}]},
        }
        for index, rule in enumerate(pathway.rules):
            definition[f"r{index}"] = {"all": [{"m": translator.condition(rule.when, TRUE)}]}
        if translator.property_count() > MAX_PROPERTIES:
            raise ValueError(f"pathway {pathway.id!r} names more facts than durable-rules reads")
        self.definition = definition
        self.precomputed = len(translator.precomputed)
        self._translator = translator
        self._check_names()
        self._rule_ids = {f"r{i}": rule.id for i, rule in enumerate(pathway.rules)}
        canonical = json.dumps(definition, sort_keys=True)
        digest = hashlib.sha256(canonical.encode("ascii")).hexdigest()[:16]
        self.name = f"{pathway.id}@{pathway.version}#{digest}"
        with _LOCK:
            registered = _RULESETS.get(self.name)
            if registered is None:
                registered = _RULESETS[self.name] = _Registered(self.name, definition)
            self._registered = registered

    def _check_names(self) -> None:
        t = self._translator
        names = {"sid", "id", "kind"}
        for k in range(len(t.slots)):
            names |= {f"y{k}", f"n{k}", f"t{k}", f"b{k}"}
        for table in (t.tags, t.visits, t.medications, t.codes, t.probes):
            names |= set(table.values())
        names |= set(t.precomputed)
        if len({_fnv1a(name) for name in names}) != len(names):
            raise ValueError(f"pathway {self.pathway.id!r}: two fact names share a durable-rules hash")

    def fact(self, snapshot: Mapping[str, Any]) -> dict[str, Any]:
        """The one fact this pathway's ruleset reads, computed once from ``snapshot``."""
        t = self._translator
        fact: dict[str, Any] = {"kind": "facts"}
        for k, get in t.slots.values():
            _typed_value(fact, k, get(snapshot))
        if t.tags:
            tags = frozenset(snapshot.get("tags") or ())
            for tag, name in t.tags.items():
                fact[name] = tag in tags
        if t.visits:
            visits = frozenset(snapshot.get("visits") or ())
            for kind, name in t.visits.items():
                fact[name] = kind in visits
        if t.medications:
            active = frozenset(snapshot.get("medications") or ())
            for code, name in t.medications.items():
                fact[name] = code in active
        if t.codes:
            codes = tuple(snapshot.get("icd10") or ())
            for pattern, name in t.codes.items():
                fact[name] = _code_matches(pattern, codes)
        for name, get, probe in t.probe_tests:
            fact[name] = probe(get(snapshot))
        for name, evaluate in t.precomputed.items():
            fact[name] = evaluate(snapshot)
        return fact

    def conditions(self, snapshot: Mapping[str, Any]) -> frozenset[str]:
        """Names of the conditions that hold: ``a``, ``x`` and ``r<i>`` (one session)."""
        fact = self.fact(snapshot)
        with _LOCK:
            fact["sid"] = f"e{next(_SESSIONS)}"
            fired = self._registered.fired(fact)
        if SEEN not in fired:
            raise RuntimeError(f"durable-rules did not evaluate the fact for {self.name}")
        return frozenset(fired)

    def audience(self, snapshot: Mapping[str, Any]) -> bool:
        return "a" in self.conditions(snapshot)

    def exit(self, snapshot: Mapping[str, Any]) -> bool:
        return "x" in self.conditions(snapshot)

    def holding(self, snapshot: Mapping[str, Any], rule_ids: Sequence[str]) -> frozenset[str]:
        fired = self.conditions(snapshot)
        held = {self._rule_ids[name] for name in fired if name in self._rule_ids}
        return frozenset(rule_id for rule_id in rule_ids if rule_id in held)


def _code_matches(pattern: CodePattern, codes: tuple[Any, ...]) -> bool:
    """As the compiled matcher reads a pattern: a prefix when set, else a category range."""
    if pattern.prefix:
        return any(code.startswith(pattern.prefix) for code in codes)
    return any(pattern.low <= code[:3] <= pattern.high for code in codes)
