"""Within one evaluation the runtime keeps the audiences and exits it found false for her facts
(runtime.py, ``_no_audience`` / ``_no_exit``), so the later steps of a chain (her enrolments,
tags, colour) do not ask them again. It is a cache, never an input: whole pregnancies over the
library give the same evaluations without it, and an audience that reads the step's event is
still asked at every step."""

from __future__ import annotations

from datetime import UTC, date, datetime
from glob import glob
from itertools import islice
from types import MappingProxyType

import pytest

from carepath.engine import runtime
from carepath.engine.cohort import synthetic_cohort
from carepath.engine.compiler import Unit, compile_paths, compile_units
from carepath.engine.facts import Event, Facts
from carepath.engine.library import Library
from carepath.engine.runtime import Settings, State, evaluate
from carepath.engine.simulate import timeline

PATHWAYS = [p for p in sorted(glob("carepath/pathways/*.yaml")) if not p.endswith(("tags.yaml", "labs.yaml"))]


class Forgetful(dict[str, Facts]):
    """Keeps nothing: every step asks every audience and exit again."""

    def __setitem__(self, key: str, value: Facts) -> None:
        pass


def _whole_pregnancies(library: Library, count: int, seed: int) -> list[list[object]]:
    out = []
    for member in islice(synthetic_cohort(count, seed=seed), count):
        facts = member.facts
        until = facts.enrolled_at.replace(year=facts.enrolled_at.year + 1)
        out.append(list(timeline(library, facts, member.events, until=until, settings=Settings())))
    return out


@pytest.mark.parametrize("matcher", ["compiled", "durable"])
def test_keeping_the_checks_changes_no_evaluation(matcher: str, monkeypatch: pytest.MonkeyPatch) -> None:
    result = compile_paths(PATHWAYS)
    assert result.ok, result.errors
    library = Library(result.pathways, matcher)
    kept = _whole_pregnancies(library, 10, seed=7)
    monkeypatch.setattr(runtime, "_kept_checks", Forgetful)
    assert _whole_pregnancies(library, 10, seed=7) == kept
    assert sum(len(evaluations) for evaluations in kept) > 10 * 5


FIRST = """
pathway: first
title: 第一个
audience: {gestational_age: {gte: "4+0"}}
rules:
  - {id: hello, on: enrolled, do: [{task: {title: 第一个开始, assign: responsible_nurse}}]}
"""

# Enters when another pathway's ``enrolled`` event passes: its audience reads the step's event,
# with her facts the same as at the step before, so it must be asked again at that step.
SECOND = """
pathway: second
title: 第二个
audience: {event: {field: data.pathway, eq: first}}
rules:
  - {id: hello, on: enrolled, do: [{task: {title: 第二个开始, assign: responsible_nurse}}]}
"""


def test_an_audience_that_reads_the_event_is_asked_at_every_step() -> None:
    compiled = compile_units([Unit("first.yaml", FIRST.encode()), Unit("second.yaml", SECOND.encode())])
    assert compiled.ok, compiled.problems
    library = Library(compiled.pathways)
    now = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    facts = Facts(pregnancy_id="p-1", enrolled_at=now, lmp=date(2026, 1, 5))
    registered = Event("reg-1", "patient.registered", now, MappingProxyType({}))
    evaluation = evaluate(library, State(facts, (), (), None), registered, now)
    assert [e.pathway_id for e in evaluation.enrolled] == ["first", "second"]
