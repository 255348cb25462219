from __future__ import annotations

from datetime import UTC, datetime

from carepath.engine.facts import Event, Facts, apply_event
from carepath.store.evaluation import reorder_facts, replay_facts

T0 = datetime(2026, 7, 1, tzinfo=UTC)
T1 = datetime(2026, 7, 2, tzinfo=UTC)
T2 = datetime(2026, 7, 3, tzinfo=UTC)


def test_backdated_tag_added_does_not_undo_a_later_removal_but_keeps_rule_tags() -> None:
    start = Facts("p", T0)
    removed = Event("e2", "tag.removed", T2, {"tag": "x"})
    added_late = Event("e1", "tag.added", T1, {"tag": "x"})
    history = [removed]
    naive = apply_event(replay_facts(start, history), added_late)
    ordered = replay_facts(start, [*history, added_late])
    result = Facts("p", T0, tags=frozenset({"x", "by-rule"}))  # the engine's answer, with a rule's tag
    corrected = reorder_facts(result, naive, ordered)
    assert corrected.tags == frozenset({"by-rule"})


def test_in_order_event_needs_no_correction() -> None:
    start = Facts("p", T0)
    event = Event("e1", "lab.result", T2, {"code": "hb", "value": 100})
    naive = apply_event(start, event)
    assert reorder_facts(naive, naive, replay_facts(start, [event])) is naive
