"""Loops the compiler can see: rule A's action raises an event that fires rule B, and so on
back to A. At run time such a chain stops at depth 8 with an error; here it is a warning,
because a condition the compiler cannot evaluate may break the loop.
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING

from carepath.engine.messages import say
from carepath.engine.spec import Condition, HasTag, OnEnrolled, OnEvent, Pathway, Rule, walk

if TYPE_CHECKING:
    from carepath.engine.compiler import Compilation

Node = tuple[str, str]  # (pathway id, rule id)


def _audience_tags(condition: Condition | None) -> set[str]:
    return {tag for node in walk(condition) if isinstance(node, HasTag) for tag in node.tags}


def _fires_on(rule: Rule, event_type: str, tag: str | None = None) -> bool:
    trigger = rule.trigger
    if not isinstance(trigger, OnEvent) or trigger.type != event_type:
        return False
    filters = dict(trigger.filters)
    return tag is None or filters.get("tag", tag) == tag


def rule_graph(pathways: list[Pathway]) -> dict[Node, set[Node]]:
    """Edges from a rule to the rules its actions' internal events can fire."""
    by_id = {p.id: p for p in pathways}
    edges: dict[Node, set[Node]] = defaultdict(set)
    for pathway in pathways:
        for rule in pathway.rules:
            source = (pathway.id, rule.id)
            for action in rule.actions:
                targets: list[Node] = []
                if action.kind == "tag":
                    for op, event_type in (("add", "tag.added"), ("remove", "tag.removed")):
                        for tag in action.params.get(op, ()):  # type: ignore[attr-defined]
                            targets += [
                                (p.id, r.id)
                                for p in pathways
                                for r in p.rules
                                if _fires_on(r, event_type, tag)
                            ]
                            if op == "add":
                                targets += [
                                    (p.id, r.id)
                                    for p in pathways
                                    if tag in _audience_tags(p.audience)
                                    for r in p.rules
                                    if isinstance(r.trigger, OnEnrolled)
                                ]
                elif action.kind == "risk":
                    targets += [
                        (p.id, r.id) for p in pathways for r in p.rules if _fires_on(r, "risk.changed")
                    ]
                elif action.kind == "enroll":
                    target = by_id.get(str(action.params["pathway"]))
                    if target is not None:
                        targets += [
                            (target.id, r.id) for r in target.rules if isinstance(r.trigger, OnEnrolled)
                        ]
                edges[source].update(targets)
    return edges


def find_cycles(edges: dict[Node, set[Node]]) -> list[list[Node]]:
    """Strongly connected components with a cycle (Tarjan, iterative), in a stable order."""
    index: dict[Node, int] = {}
    low: dict[Node, int] = {}
    on_stack: set[Node] = set()
    stack: list[Node] = []
    cycles: list[list[Node]] = []
    counter = 0
    nodes = sorted(set(edges) | {t for ts in edges.values() for t in ts})
    for root in nodes:
        if root in index:
            continue
        work: list[tuple[Node, list[Node]]] = [(root, sorted(edges.get(root, ())))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            if children:
                child = children.pop(0)
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, sorted(edges.get(child, ()))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1 or node in edges.get(node, set()):
                    cycles.append(sorted(component))
    return sorted(cycles)


def report_loops(comp: Compilation) -> None:
    """Warn, at the first rule of each loop, naming every rule in it."""
    units = {u.pathway.id: u for u in comp.units if u.pathway is not None}
    for cycle in find_cycles(rule_graph([u.pathway for u in units.values() if u.pathway])):
        pathway_id, rule_id = cycle[0]
        unit = units[pathway_id]
        names = " -> ".join(f"{p}/{r}" for p, r in cycle)
        unit.doc.warning(
            unit.rule_paths.get(rule_id, ()), "possible-loop", say("possible-loop/rules", rules=names)
        )
