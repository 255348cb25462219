"""Matcher throughput: patient-evaluations per second, and peak RSS.

A patient-evaluation is one snapshot matched against one pathway: its audience, its exit and
every rule's ``when``. Three evaluators run on the same synthetic snapshots over every pathway
in ``examples/pathways/``:

* ``compiled``: ``CompiledMatcher`` (generated Python, the default), through the protocol;
* ``durable``: ``DurableMatcher``, one durable-rules session per patient-evaluation;
* ``closures``: a plain evaluator written here, one Python closure per AST node.

Targets (issue 4, measured, not asserted): compiled >= 150k/s and >= 9x durable.

    python bench/engine.py [--patients 10000,100000] [--seed 7] [--skip-durable-above N]
                           [--repeat 3] [--check N]

Each figure is the best of ``--repeat`` runs (about three minutes in all). Timing runs keep no
outcomes; afterwards the first ``--check`` patients are matched by all
three evaluators and must agree.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from glob import glob
from pathlib import Path
from types import MappingProxyType
from typing import Any

from carepath.engine.compiler import compile_paths
from carepath.engine.matchers.compiled import PLAIN_FACTS, CompiledMatcher
from carepath.engine.matchers.durable import DurableMatcher
from carepath.engine.spec import (
    AllOf,
    AnyOf,
    Compare,
    Condition,
    HasCode,
    HasTag,
    HasVisit,
    Not,
    Pathway,
)

Snapshot = Mapping[str, Any]
Test = Callable[[Snapshot], bool]

# --- synthetic snapshots ------------------------------------------------------------------

TAGS = ["妊娠期糖尿病", "瘢痕子宫", "GDM管理中", "专案管理", "twins"]
CODES = ["O24.401", "O24.4", "O34.201", "O44.0", "O44.1", "O13", "O99.2", "Z33"]
VISITS = ["nt-scan", "anomaly-scan", "ogtt", "anc-contact"]
EVENTS = [
    ("questionnaire.submitted", {"form": "gdm-glucose-log"}),
    ("questionnaire.submitted", {"form": "scar-symptoms"}),
    ("lab.result", {"code": "bp_systolic"}),
    ("diagnosis.added", {"code": "O34.2"}),
    ("encounter.completed", {"kind": "anc-contact"}),
    ("risk.changed", {}),
]


def synthetic_snapshot(rng: random.Random) -> dict[str, Any]:
    """One woman at a random point from registration to 12 weeks after delivery."""
    status = rng.choices(["pregnant", "delivered", "ended"], [85, 12, 3])[0]
    ga = rng.randint(28, 294) if status == "pregnant" else None
    answers: dict[str, Mapping[str, Any]] = {}
    if rng.random() < 0.3:
        answers["gdm-glucose-log"] = MappingProxyType({"fasting_glucose": round(rng.uniform(4.0, 7.5), 1)})
    if rng.random() < 0.2:
        answers["scar-symptoms"] = MappingProxyType(
            {"scar_pain": rng.random() < 0.1, "bleeding": rng.random() < 0.05}
        )
    event = None
    if rng.random() < 0.5:
        kind, data = rng.choice(EVENTS)
        event = {"type": kind, "data": MappingProxyType(data)}
    colour = rng.choice([None, 0, 0, 1, 2, 3])
    return {
        "gestational_days": ga,
        "gestational_week": ga // 7 if ga is not None else None,
        "trimester": (1 if ga < 98 else 2 if ga < 196 else 3) if ga is not None else None,
        "dating_method": rng.choice(["lmp", "ultrasound", "ivf"]),
        "age_at_edd": rng.randint(18, 46),
        "bmi_pre": round(rng.uniform(16, 34), 1),
        "bmi_class": rng.choice(["underweight", "normal", "overweight", "obese"]),
        "gravida": rng.randint(1, 5),
        "para": rng.randint(0, 3),
        "plurality": rng.choices([1, 2], [97, 3])[0],
        "tags": frozenset(t for t in TAGS if rng.random() < 0.15),
        "icd10": frozenset(c for c in CODES if rng.random() < 0.1),
        "risk_level": colour,
        "purple": rng.random() < 0.02,
        "visits": frozenset(v for v in VISITS if rng.random() < 0.4),
        "status": status,
        "days_since_delivery": rng.randint(0, 120) if status == "delivered" else None,
        "answers": MappingProxyType(answers),
        "labs": MappingProxyType({"bp_systolic": float(rng.randint(95, 165))} if rng.random() < 0.4 else {}),
        "event": event,
    }


# --- the closure evaluator: one Python closure per AST node --------------------------------


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _getter(node: Compare) -> Callable[[Snapshot], Any]:
    if node.fact in PLAIN_FACTS:
        fact = node.fact
        return lambda s: s.get(fact)
    source = {"lab": "labs", "answer": "answers", "event": "event"}[node.fact]
    keys = node.key

    def keyed(s: Snapshot) -> Any:
        value: Any = s.get(source)
        for key in keys:
            if not isinstance(value, Mapping):
                return None
            value = value.get(key)
        return value

    return keyed


def _compare(node: Compare) -> Test:
    get, op, value = _getter(node), node.op, node.value
    if op in ("lt", "lte", "gt", "gte"):
        bound = value
        compare: Callable[[Any, Any], bool] = {
            "lt": lambda v, b: v < b,
            "lte": lambda v, b: v <= b,
            "gt": lambda v, b: v > b,
            "gte": lambda v, b: v >= b,
        }[op]
        return lambda s: _number(v := get(s)) and compare(v, bound)
    if op == "between":
        assert isinstance(value, tuple)
        low, high = value
        return lambda s: _number(v := get(s)) and low <= v <= high
    if op in ("eq", "ne"):
        equal = op == "eq"
        if isinstance(value, bool):
            return lambda s: (v := get(s)) is not None and (v is value) == equal
        if _number(value):
            return lambda s: _number(v := get(s)) and (v == value) == equal
        return lambda s: (v := get(s)) is not None and (v == value) == equal
    if op == "in":
        options = value if isinstance(value, tuple) else (value,)
        numbers = frozenset(o for o in options if _number(o))
        texts = frozenset(o for o in options if isinstance(o, str))
        return lambda s: (_number(v := get(s)) and v in numbers) or (isinstance(v, str) and v in texts)
    if op == "contains":
        return lambda s: (
            isinstance(v := get(s), str | list | tuple | frozenset) and value in v  # type: ignore[operator]
        )
    if op == "startswith":
        assert isinstance(value, str)
        return lambda s: isinstance(v := get(s), str) and v.startswith(value)
    raise ValueError(op)


def closure(node: Condition) -> Test:
    if isinstance(node, AllOf):
        items = tuple(closure(i) for i in node.items)
        return lambda s: all(test(s) for test in items)
    if isinstance(node, AnyOf):
        items = tuple(closure(i) for i in node.items)
        return lambda s: any(test(s) for test in items)
    if isinstance(node, Not):
        inner = closure(node.item)
        return lambda s: not inner(s)
    if isinstance(node, Compare):
        return _compare(node)
    if isinstance(node, HasTag):
        tags = node.tags
        return lambda s: not tags.isdisjoint(s.get("tags") or ())
    if isinstance(node, HasVisit):
        kinds = node.kinds
        return lambda s: not kinds.isdisjoint(s.get("visits") or ())
    if isinstance(node, HasCode):
        prefixes = tuple(p.prefix for p in node.patterns if p.prefix)
        ranges = tuple((p.low, p.high) for p in node.patterns if not p.prefix)
        return lambda s: any(
            code.startswith(prefixes) or any(low <= code[:3] <= high for low, high in ranges)
            for code in s.get("icd10") or ()
        )
    raise TypeError(type(node).__name__)


class ClosureMatcher:
    def __init__(self, pathway: Pathway) -> None:
        self.pathway = pathway
        self.audience = closure(pathway.audience) if pathway.audience else (lambda s: True)
        self.exit = closure(pathway.exit) if pathway.exit else (lambda s: False)
        self.when = {r.id: closure(r.when) if r.when else (lambda s: True) for r in pathway.rules}

    def holding(self, snapshot: Snapshot, rule_ids: Sequence[str]) -> frozenset[str]:
        return frozenset(rule_id for rule_id in rule_ids if self.when[rule_id](snapshot))


# --- timing -------------------------------------------------------------------------------


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def outcomes_of(name: str, matchers: Sequence[Any], snapshot: Snapshot) -> list[Any]:
    """Audience, exit and holding rules of every pathway: what the evaluators must agree on."""
    if name == "durable":
        out = []
        for matcher in matchers:
            fired = matcher.conditions(snapshot)
            rule_ids = {f"r{i}": r.id for i, r in enumerate(matcher.pathway.rules)}
            out.append(("a" in fired, "x" in fired, frozenset(rule_ids[n] for n in fired if n in rule_ids)))
        return out
    return [
        (m.audience(snapshot), m.exit(snapshot), m.holding(snapshot, [r.id for r in m.pathway.rules]))
        for m in matchers
    ]


def seconds_for(name: str, matchers: Sequence[Any], snapshots: Sequence[Snapshot]) -> tuple[float, float]:
    """Wall and CPU seconds to match every snapshot against every pathway (no outcomes kept)."""
    wall, cpu = time.perf_counter(), time.process_time()
    if name == "durable":  # one durable-rules session per patient-evaluation
        for snapshot in snapshots:
            for matcher in matchers:
                matcher.conditions(snapshot)
    else:
        plans = [(m, [r.id for r in m.pathway.rules]) for m in matchers]
        for snapshot in snapshots:
            for matcher, rule_ids in plans:
                matcher.audience(snapshot)
                matcher.exit(snapshot)
                matcher.holding(snapshot, rule_ids)
    return time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--patients", default="10000,100000")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--skip-durable-above", type=int, default=10**9, metavar="N")
    parser.add_argument("--repeat", type=int, default=3, help="best of N runs (the machine is shared)")
    parser.add_argument("--check", type=int, default=2000, metavar="N", help="agreement check on N patients")
    args = parser.parse_args()
    root = Path(__file__).resolve().parent.parent
    result = compile_paths(sorted(glob(str(root / "examples" / "pathways" / "*.yaml"))))
    if not result.ok:
        raise SystemExit(f"examples do not compile: {result.errors}")
    pathways = result.pathways
    rules = sum(len(p.rules) for p in pathways)
    print(
        f"{len(pathways)} pathways, {rules} rules (+ audience and exit each); Python {sys.version.split()[0]}"
    )
    evaluators: dict[str, list[Any]] = {
        "compiled": [CompiledMatcher(p) for p in pathways],
        "closures": [ClosureMatcher(p) for p in pathways],
        "durable": [DurableMatcher(p) for p in pathways],
    }
    rng = random.Random(args.seed)
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs (the machine is shared)")
    print(
        f"{'patients':>9} {'evaluator':>9} {'evals':>8} {'seconds':>8} {'evals/s':>10} {'per CPU-s':>10} "
        f"{'peak RSS':>9}"
    )
    for count in (int(n) for n in args.patients.split(",")):
        snapshots = [synthetic_snapshot(rng) for _ in range(count)]
        evaluations = count * len(pathways)
        rates: dict[str, float] = {}
        cpu_rates: dict[str, float] = {}
        for name, matchers in evaluators.items():
            if name == "durable" and count > args.skip_durable_above:
                continue
            runs = [seconds_for(name, matchers, snapshots) for _ in range(args.repeat)]
            seconds = min(wall for wall, _ in runs)
            cpu = min(cpu for _, cpu in runs)
            rates[name] = evaluations / seconds
            cpu_rates[name] = evaluations / cpu
            print(
                f"{count:>9} {name:>9} {evaluations:>8} {seconds:>8.2f} {rates[name]:>10,.0f} "
                f"{evaluations / cpu:>10,.0f} {peak_rss_mib():>7.0f} MB"
            )
        for snapshot in snapshots[: args.check]:
            expected = outcomes_of("compiled", evaluators["compiled"], snapshot)
            for name in ("closures", "durable"):
                if outcomes_of(name, evaluators[name], snapshot) != expected:
                    raise SystemExit(f"{name} disagrees with compiled on {snapshot}")
        if "durable" in rates:
            wall_ratio = rates["compiled"] / rates["durable"]
            cpu_ratio = cpu_rates["compiled"] / cpu_rates["durable"]
            print(
                f"{count:>9} compiled/durable = {wall_ratio:.1f}x wall, {cpu_ratio:.1f}x CPU (target >= 9x); "
                "compiled target >= 150,000/s"
            )
    print(f"peak RSS {peak_rss_mib():.0f} MB")


if __name__ == "__main__":
    main()
