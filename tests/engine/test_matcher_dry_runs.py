"""Both matchers give identical dry-runs of the example patients through the example pathways.

Each patient is evaluated on her events and on a weekly clock from enrolment to 44 weeks; the
compiled and durable libraries must return equal evaluations at every step.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from glob import glob
from pathlib import Path
from typing import Any

import pytest
import yaml

from carepath.engine.compiler import compile_paths
from carepath.engine.facts import Event, facts_from_patient
from carepath.engine.library import Library
from carepath.engine.runtime import Evaluation, State, evaluate

PATHWAYS = compile_paths(sorted(glob("examples/pathways/*.yaml"))).pathways
PATIENTS = sorted(glob("examples/patients/*.yaml"))


def _events(patient_file: str) -> list[Event]:
    path = Path("examples/events") / Path(patient_file).name
    if not path.exists():
        return []
    raw: list[dict[str, Any]] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return [
        Event(
            id=str(item.get("id", f"{path.stem}-{i}")),
            type=item["type"],
            occurred_at=datetime.fromisoformat(str(item["occurred_at"])),
            data=item.get("data") or {},
        )
        for i, item in enumerate(raw)
    ]


def _dry_run(library: Library, patient_file: str) -> list[Evaluation]:
    patient = yaml.safe_load(Path(patient_file).read_text(encoding="utf-8"))
    facts = facts_from_patient(patient)
    start = facts.enrolled_at
    ticks = [(start + timedelta(weeks=w), None) for w in range(0, 45)]
    steps = sorted([(e.occurred_at, e) for e in _events(patient_file)] + ticks, key=lambda step: step[0])
    state = State(facts)
    evaluations = []
    for now, event in steps:
        evaluation = evaluate(library, state, event, now)
        evaluations.append(evaluation)
        state = evaluation.state
    return evaluations


@pytest.mark.timeout(600, method="thread")
@pytest.mark.parametrize("patient_file", PATIENTS)
def test_durable_and_compiled_dry_runs_are_identical(patient_file: str) -> None:
    compiled = _dry_run(Library(PATHWAYS, matcher="compiled"), patient_file)
    durable = _dry_run(Library(PATHWAYS, matcher="durable"), patient_file)
    assert sum(len(e.actions) for e in compiled) > 0  # the run exercises the pathways
    assert durable == compiled
