"""The matcher on a 50-rule pathway, side by side with durable-rules and zen-engine (issue 22).

One evaluation here is one snapshot against the whole pathway: its audience, its exit and all
50 rules' ``when``. The pathway is this file's own (``fifty_rules``): numeric leaves
(gestational week, age, BMI, Hb, gravida), ICD-10 code prefixes, tags and form answers,
combined with all/any/not. Three evaluators run on the same synthetic snapshots, in one run:

* ``compiled``: ``CompiledMatcher`` (generated Python, the default), through the protocol;
* ``durable``: ``DurableMatcher``, one durable-rules session per evaluation (its feed included);
* ``zen``: zen-engine (GoRules' Rust engine), one decision graph with an expression per
  condition, evaluated once per snapshot (its JSON-like input built from the snapshot included).

Targets (issue 22; measured, not asserted): compiled >= 9x durable-rules and >= 20x zen-engine
per 50-rule evaluation. zen-engine is a benchmark-only extra: ``pip install -e '.[bench]'``;
without it the zen row is skipped and said so.

    python bench/matcher.py [--snapshots 20000] [--repeat 5] [--seed 22] [--check 3000]

Each figure is the best of ``--repeat`` runs, wall and CPU; the load average is printed with
each. Afterwards the first ``--check`` snapshots are matched by all three and must agree.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

import yaml

from carepath.engine.compiler import compile_text
from carepath.engine.matchers.compiled import CompiledMatcher
from carepath.engine.matchers.durable import DurableMatcher
from carepath.engine.spec import AllOf, AnyOf, Compare, Condition, HasCode, HasTag, Not, Pathway

Snapshot = Mapping[str, Any]
TAGS = ["瘢痕子宫", "妊娠期糖尿病", "高龄", "贫血", "专案管理", "需随访"]
CODES = ["O24.401", "O24.101", "O44.101", "O13.x00", "O99.001", "O34.201", "O30.000", "Z33"]
PREFIXES = ["O24.4", "O24", "O44.1", "O13", "O99.0", "O34.2", "O30", "O99"]

# --- the pathway ----------------------------------------------------------------------------


def _numeric(i: int) -> dict[str, Any]:
    week = 8 + (i * 3) % 30
    return [
        {"gestational_week": {"between": [week, week + 4]}},
        {"age_at_edd": {"gte": 30 + i % 8}},
        {"bmi_pre": {"gte": round(22 + (i % 7) * 1.5, 1)}},
        {"lab": {"code": "hb", "lt": 100 + (i % 4) * 5}},
        {"gravida": {"gte": 1 + i % 4}},
    ][i % 5]


def _code(i: int) -> dict[str, Any]:
    first, second = PREFIXES[i % len(PREFIXES)], PREFIXES[(i + 3) % len(PREFIXES)]
    return {"icd10": first} if i % 2 else {"icd10": [first, second]}


def _tag(i: int) -> dict[str, Any]:
    return (
        {"tag": TAGS[i % len(TAGS)]} if i % 3 else {"tag": [TAGS[i % len(TAGS)], TAGS[(i + 1) % len(TAGS)]]}
    )


def _answer(i: int) -> dict[str, Any]:
    if i % 2:
        return {"answer": {"form": "epds", "item": "score", "gte": 10 + i % 5}}
    return {
        "answer": {"form": "gdm-glucose-log", "item": "fasting_glucose", "gte": round(5.1 + (i % 4) * 0.1, 1)}
    }


def _when(i: int) -> dict[str, Any]:
    """Rule i: two to four leaves of the four kinds, nested differently rule by rule."""
    shape = i % 5
    if shape == 0:
        return {"all": [_numeric(i), {"any": [_code(i), _tag(i)]}]}
    if shape == 1:
        return {"all": [_answer(i), {"not": _tag(i + 1)}]}
    if shape == 2:
        return {"any": [{"all": [_numeric(i), _numeric(i + 1)]}, _code(i)]}
    if shape == 3:
        return {"all": [_tag(i), _numeric(i + 2), {"not": _code(i + 1)}]}
    return {"any": [_answer(i), {"all": [_code(i), _numeric(i + 3)]}]}


def fifty_rules() -> Pathway:
    document = {
        "pathway": "bench-fifty",
        "title": "50 条规则的基准路径",
        "tags": TAGS,
        "audience": {"any": [{"status": "pregnant"}, {"days_since_delivery": {"lt": 84}}]},
        "exit": {"any": [{"status": "ended"}, {"days_since_delivery": {"gte": 84}}]},
        "rules": [
            {"id": f"r{i:02d}", "on": "enrolled", "when": _when(i), "do": [{"tag": {"add": "需随访"}}]}
            for i in range(50)
        ],
    }
    result = compile_text(yaml.safe_dump(document, allow_unicode=True), "bench-fifty.yaml")
    if not result.ok:
        raise SystemExit(f"the bench pathway does not compile: {result.errors}")
    (pathway,) = result.pathways
    return pathway


# --- snapshots ------------------------------------------------------------------------------


def snapshot(rng: random.Random) -> dict[str, Any]:
    status = rng.choices(["pregnant", "delivered", "ended"], [85, 12, 3])[0]
    ga = rng.randint(42, 294) if status == "pregnant" else None
    answers: dict[str, Mapping[str, Any]] = {}
    if rng.random() < 0.3:
        answers["gdm-glucose-log"] = MappingProxyType({"fasting_glucose": round(rng.uniform(4.0, 7.0), 1)})
    if rng.random() < 0.3:
        answers["epds"] = MappingProxyType({"score": rng.randint(0, 24)})
    return {
        "gestational_days": ga,
        "gestational_week": ga // 7 if ga is not None else None,
        "age_at_edd": rng.randint(18, 46),
        "bmi_pre": round(rng.uniform(16, 34), 1),
        "gravida": rng.randint(1, 5),
        "status": status,
        "days_since_delivery": rng.randint(0, 120) if status == "delivered" else None,
        "tags": frozenset(t for t in TAGS if rng.random() < 0.15),
        "icd10": frozenset(c for c in CODES if rng.random() < 0.12),
        "answers": MappingProxyType(answers),
        "labs": MappingProxyType({"hb": float(rng.randint(85, 135))} if rng.random() < 0.5 else {}),
    }


# --- zen-engine: the same conditions as one decision graph ------------------------------------

_ZEN_FIELDS = {"gestational_week": "ga_week", "age_at_edd": "age", "bmi_pre": "bmi", "gravida": "gravida"}
_ZEN_ORDER = {"lt": "<", "lte": "<=", "gt": ">", "gte": ">="}


def _zen_value(node: Compare) -> str:
    if node.fact in _ZEN_FIELDS:
        return _ZEN_FIELDS[node.fact]
    if node.fact == "lab":
        return f"labs.{node.key[0]}"
    if node.fact == "answer":
        form, item = node.key
        return f"answers['{form}'].{item}"
    if node.fact in ("status", "days_since_delivery"):
        return node.fact
    raise ValueError(f"the zen translation has no fact {node.fact}")


def zen_expression(node: Condition | None) -> str:
    """zen-engine's expression language for the leaves this pathway uses (a number is tested
    as a number first: zen fails comparing null or text with a number)."""
    if node is None:
        return "true"
    if isinstance(node, AllOf | AnyOf):
        joiner = " and " if isinstance(node, AllOf) else " or "
        return "(" + joiner.join(zen_expression(i) for i in node.items) + ")"
    if isinstance(node, Not):
        return f"not({zen_expression(node.item)})"
    if isinstance(node, HasTag):
        return "(" + " or ".join(f"'{t}' in tags" for t in sorted(node.tags)) + ")"
    if isinstance(node, HasCode):
        tests = " or ".join(f"startsWith(#, '{p.prefix}')" for p in node.patterns)
        return f"some(icd10, {tests})"
    assert isinstance(node, Compare)
    value = _zen_value(node)
    if node.op == "eq":
        return f"{value} == '{node.value}'" if isinstance(node.value, str) else f"{value} == {node.value}"
    guard = f"type({value}) == 'number'"
    if node.op == "between":
        low, high = node.value
        return f"({guard} and {value} >= {low} and {value} <= {high})"
    return f"({guard} and {value} {_ZEN_ORDER[node.op]} {node.value})"


def zen_decision(pathway: Pathway) -> Any:
    import zen  # noqa: PLC0415 - the benchmark-only extra

    conditions = [("a", pathway.audience), ("x", pathway.exit)] + [(r.id, r.when) for r in pathway.rules]
    expressions = [
        {"id": f"e{i}", "key": key, "value": zen_expression(c)} for i, (key, c) in enumerate(conditions)
    ]
    graph = {
        "nodes": [
            {"id": "in", "type": "inputNode", "name": "snapshot", "position": {"x": 0, "y": 0}},
            {
                "id": "conditions",
                "type": "expressionNode",
                "name": "conditions",
                "position": {"x": 200, "y": 0},
                "content": {"expressions": expressions},
            },
            {"id": "out", "type": "outputNode", "name": "held", "position": {"x": 400, "y": 0}},
        ],
        "edges": [
            {"id": "e-in", "sourceId": "in", "targetId": "conditions", "type": "edge"},
            {"id": "e-out", "sourceId": "conditions", "targetId": "out", "type": "edge"},
        ],
    }
    return zen.ZenEngine().create_decision(json.dumps(graph, ensure_ascii=False))


def zen_input(s: Snapshot) -> dict[str, Any]:
    """The snapshot as zen-engine reads it: JSON-like values (lists, not sets; dicts)."""
    return {
        "ga_week": s["gestational_week"],
        "age": s["age_at_edd"],
        "bmi": s["bmi_pre"],
        "gravida": s["gravida"],
        "status": s["status"],
        "days_since_delivery": s["days_since_delivery"],
        "tags": list(s["tags"]),
        "icd10": list(s["icd10"]),
        "labs": dict(s["labs"]),
        "answers": {form: dict(items) for form, items in s["answers"].items()},
    }


# --- the three evaluators, each giving (audience, exit, rule ids that hold) ------------------

Outcome = tuple[bool, bool, frozenset[str]]


def evaluators(pathway: Pathway, with_zen: bool) -> dict[str, Callable[[Snapshot], Outcome]]:
    compiled, durable = CompiledMatcher(pathway), DurableMatcher(pathway)
    rule_ids = [rule.id for rule in pathway.rules]
    names = {f"r{i}": rule.id for i, rule in enumerate(pathway.rules)}

    def by_compiled(s: Snapshot) -> Outcome:
        return compiled.audience(s), compiled.exit(s), compiled.holding(s, rule_ids)

    def by_durable(s: Snapshot) -> Outcome:
        fired = durable.conditions(s)
        return "a" in fired, "x" in fired, frozenset(names[n] for n in fired if n in names)

    found: dict[str, Callable[[Snapshot], Outcome]] = {"compiled": by_compiled, "durable": by_durable}
    if with_zen:
        decision = zen_decision(pathway)

        def by_zen(s: Snapshot) -> Outcome:
            held = decision.evaluate(zen_input(s))["result"]
            return held.pop("a"), held.pop("x"), frozenset(k for k, v in held.items() if v)

        found["zen"] = by_zen
    return found


def best_of(
    evaluate: Callable[[Snapshot], Outcome], snapshots: list[Snapshot], repeat: int
) -> tuple[float, float]:
    """The least wall and CPU seconds of ``repeat`` runs over every snapshot."""
    walls, cpus = [], []
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        for s in snapshots:
            evaluate(s)
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return min(walls), min(cpus)


def zen_available() -> bool:
    try:
        import zen  # noqa: F401, PLC0415
    except ImportError:
        return False
    return True


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--snapshots", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seed", type=int, default=22)
    parser.add_argument("--check", type=int, default=3_000)
    args = parser.parse_args()
    pathway = fifty_rules()
    with_zen = zen_available()
    found = evaluators(pathway, with_zen)
    rng = random.Random(args.seed)
    snapshots: list[Snapshot] = [snapshot(rng) for _ in range(args.snapshots)]
    for s in snapshots[: args.check]:
        outcomes = {name: evaluate(s) for name, evaluate in found.items()}
        if len(set(outcomes.values())) != 1:
            raise SystemExit(f"the evaluators disagree on {s}: {outcomes}")
    held = sum(len(found["compiled"](s)[2]) for s in snapshots[: args.check]) / max(
        1, min(args.check, len(snapshots))
    )
    print(
        f"{len(pathway.rules)} rules (+ audience and exit); {args.snapshots:,} snapshots, "
        f"best of {args.repeat}; "
        f"{held:.1f} rules hold per snapshot; agreement checked on {min(args.check, args.snapshots):,}; "
        f"Python {sys.version.split()[0]}"
    )
    if not with_zen:
        print("zen-engine is not installed (pip install -e '.[bench]'): its row is skipped")
    print(f"{'evaluator':>9} {'µs/eval wall':>12} {'µs/eval CPU':>11} {'evals/s':>9} {'load avg':>8}")
    cpu_per: dict[str, float] = {}
    wall_per: dict[str, float] = {}
    for name, evaluate in found.items():
        wall, cpu = best_of(evaluate, snapshots, args.repeat)
        wall_per[name], cpu_per[name] = wall / len(snapshots), cpu / len(snapshots)
        print(
            f"{name:>9} {wall_per[name] * 1e6:>12.2f} {cpu_per[name] * 1e6:>11.2f} "
            f"{1 / wall_per[name]:>9,.0f} {os.getloadavg()[0]:>8.2f}"
        )
    for other, target in (("durable", 9), ("zen", 20)):
        if other in cpu_per:
            print(
                f"compiled vs {other}: {wall_per[other] / wall_per['compiled']:.1f}x wall, "
                f"{cpu_per[other] / cpu_per['compiled']:.1f}x CPU (target >= {target}x); "
                f"load average {os.getloadavg()[0]:.2f}"
            )


if __name__ == "__main__":
    main()
