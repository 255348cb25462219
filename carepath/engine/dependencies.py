"""Which pathways can change what another pathway does: the reason a cohort impact may
re-simulate only part of the library.

Pathways are evaluated independently except through what one changes and another reads
(runtime.py): ``tag`` actions change her tags and raise ``tag.added`` / ``tag.removed``;
``risk`` changes her colour and raises ``risk.changed``; ``enroll`` enrols her elsewhere;
and every pathway raises ``enrolled`` and ``exited`` about itself. A pathway *reads* the tags
its conditions name, her risk level if a condition names it, and the events it is triggered
on. A pathway with an ``event`` condition in its audience or exit reads every internal
event, since those conditions are checked at every step of a chain.

``closure`` answers: to simulate the changed pathways exactly, and every pathway whose
behaviour they can change, which pathways must run? Everything else does the same in both
libraries and can be left out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

from carepath.engine.spec import At, Compare, Every, HasTag, OnEvent, Pathway, Scalar, walk

#: Internal events and the data field naming what they are about.
TAG_EVENTS = frozenset({"tag.added", "tag.removed"})
PATHWAY_EVENTS = frozenset({"enrolled", "exited"})
RISK_FACTS = frozenset({"risk_level", "risk_confirmed", "purple"})


@dataclass
class Footprint:
    """What a pathway (all its loaded versions together) reads and writes."""

    tags_read: set[str] = field(default_factory=set)
    reads_risk: bool = False
    reads_every_event: bool = False
    events: list[tuple[str, Mapping[str, Scalar]]] = field(default_factory=list)  # (type, filters)
    tags_written: set[str] = field(default_factory=set)
    writes_risk: bool = False
    enrols: set[str] = field(default_factory=set)


def footprint(versions: Iterable[Pathway]) -> Footprint:
    found = Footprint()
    for pathway in versions:
        for condition in (pathway.audience, pathway.exit):
            for node in walk(condition):
                if isinstance(node, Compare) and node.fact == "event":
                    found.reads_every_event = True
        conditions = [pathway.audience, pathway.exit, *(rule.when for rule in pathway.rules)]
        for condition in conditions:
            for node in walk(condition):
                if isinstance(node, HasTag):
                    found.tags_read |= node.tags
                elif isinstance(node, Compare) and node.fact in RISK_FACTS:
                    found.reads_risk = True
        for rule in pathway.rules:
            if isinstance(rule.trigger, OnEvent):
                found.events.append((rule.trigger.type, dict(rule.trigger.filters)))
            for action in rule.actions:
                params = action.params
                if action.kind == "tag":
                    for key in ("add", "remove"):
                        found.tags_written |= {str(t) for t in params.get(key, ())}  # type: ignore[attr-defined]
                elif action.kind == "risk":
                    found.writes_risk = True
                elif action.kind == "enroll":
                    found.enrols.add(str(params["pathway"]))
    return found


def influences(writer_id: str, writer: Footprint, reader_id: str, reader: Footprint) -> bool:
    """Can ``writer``'s actions (or its enrolments and exits) change what ``reader`` does?"""
    if writer_id == reader_id:
        return False
    if reader.reads_every_event:
        return True
    if reader_id in writer.enrols:
        return True
    if writer.tags_written & reader.tags_read:
        return True
    if writer.writes_risk and reader.reads_risk:
        return True
    for kind, filters in reader.events:
        if kind in TAG_EVENTS and writer.tags_written:
            wanted = filters.get("tag")
            if wanted is None or wanted in writer.tags_written:
                return True
        elif kind == "risk.changed" and writer.writes_risk:
            return True
        elif kind in PATHWAY_EVENTS:
            about = filters.get("pathway")
            if about is None or about == writer_id:
                return True
    return False


def closure(footprints: Mapping[str, Footprint], changed: Iterable[str]) -> frozenset[str]:
    """The changed pathways, every pathway they can influence (transitively), and every
    pathway that can influence any of those (transitively): a set that simulates exactly."""
    ids = sorted(footprints)
    downstream: dict[str, set[str]] = {i: set() for i in ids}
    upstream: dict[str, set[str]] = {i: set() for i in ids}
    for writer in ids:
        for reader in ids:
            if influences(writer, footprints[writer], reader, footprints[reader]):
                downstream[writer].add(reader)
                upstream[reader].add(writer)
    reached = _reach(set(changed) & set(ids), downstream)
    return frozenset(_reach(reached, upstream) | set(changed))


def _reach(start: set[str], edges: Mapping[str, set[str]]) -> set[str]:
    seen = set(start)
    todo = list(start)
    while todo:
        for nxt in edges.get(todo.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


# --- which rules an edit changes -------------------------------------------------------------


def differing_timed_rules(old: Pathway, new: Pathway) -> frozenset[str] | None:
    """The ids of the rules that differ between two versions, if all of them are timed and
    nothing else differs that evaluation looks at; None otherwise."""
    key = (old.id, old.version, new.version)
    if key not in _DIFFERING:
        _DIFFERING[key] = _differing(old, new)
    return _DIFFERING[key]


_DIFFERING: dict[tuple[str, str, str], frozenset[str] | None] = {}


def _differing(old: Pathway, new: Pathway) -> frozenset[str] | None:
    if old.audience != new.audience or old.exit != new.exit:
        return None
    old_rules = {r.id: replace(r, line=0, title="") for r in old.rules}
    new_rules = {r.id: replace(r, line=0, title="") for r in new.rules}
    common = [i for i in (r.id for r in old.rules) if i in new_rules]
    if common != [i for i in (r.id for r in new.rules) if i in old_rules]:
        return None  # reordered: rules fire in declaration order
    differing = {i for i in old_rules.keys() | new_rules.keys() if old_rules.get(i) != new_rules.get(i)}
    for rule_id in differing:
        for rule in (old_rules.get(rule_id), new_rules.get(rule_id)):
            if rule is not None and not isinstance(rule.trigger, At | Every):
                return None
    return frozenset(differing)


def moving_events(old: Pathway, new: Pathway, rules: frozenset[str]) -> frozenset[str]:
    """The events that can move these rules' occurrences: a delivery those anchored on it,
    a redating those anchored on GA or the EDD, a registration update anything."""
    anchors: set[str] = set()
    for pathway in (old, new):
        for rule in pathway.rules:
            if rule.id not in rules:
                continue
            trigger = rule.trigger
            points = [trigger.point] if isinstance(trigger, At) else []
            if isinstance(trigger, Every):
                points = [trigger.start] + ([trigger.until] if trigger.until else [])
            anchors.update(p.anchor for p in points)
    moving = {"patient.registered", "patient.updated"}
    if "delivery_date" in anchors:
        moving.add("delivery")
    if anchors & {"gestational_age", "edd"}:
        moving.add("dating.ultrasound")
    return frozenset(moving)
