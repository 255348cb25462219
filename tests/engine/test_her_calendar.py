"""Her calendar (engine/her_calendar.py) is a cache, never an input: whole pregnancies give the
same evaluations with it, without it, and with one calendar misused for several pregnancies."""

from __future__ import annotations

from datetime import date
from glob import glob
from itertools import islice

import pytest

from carepath.engine import simulate
from carepath.engine.cohort import synthetic_cohort
from carepath.engine.compiler import compile_paths
from carepath.engine.elapsed import elapsed
from carepath.engine.her_calendar import HerCalendar
from carepath.engine.library import Library
from carepath.engine.runtime import Settings
from carepath.engine.simulate import timeline

PATHWAYS = [p for p in sorted(glob("carepath/pathways/*.yaml")) if not p.endswith(("tags.yaml", "labs.yaml"))]


@pytest.fixture(scope="module")
def library() -> Library:
    result = compile_paths(PATHWAYS)
    assert result.ok, result.errors
    return Library(result.pathways)


def _run(library: Library, members: list) -> list:
    out = []
    for member in members:
        facts = member.facts
        until = facts.enrolled_at.replace(year=facts.enrolled_at.year + 1)
        out.append(list(timeline(library, facts, member.events, until=until, settings=Settings())))
    return out


def test_a_calendar_changes_no_evaluation(library: Library, monkeypatch: pytest.MonkeyPatch) -> None:
    members = list(islice(synthetic_cohort(12, seed=22), 12))
    kept = _run(library, members)
    monkeypatch.setattr(simulate, "HerCalendar", lambda: None)  # every evaluation starts afresh
    assert _run(library, members) == kept
    shared = HerCalendar()  # one calendar for every pregnancy: each entry checks what it was made of
    monkeypatch.setattr(simulate, "HerCalendar", lambda: shared)
    assert _run(library, members) == kept
    assert sum(len(evaluations) for evaluations in kept) > 12 * 5


def test_since_is_worked_out_only_for_known_dates() -> None:
    since = elapsed({"lmp": date(2026, 1, 5), "delivery_date": None}, date(2026, 3, 5))
    assert dict(since) == {"lmp": {"days": 59, "months": 2.0}}
    assert since.get("delivery_date") is None and "delivery_date" not in since
