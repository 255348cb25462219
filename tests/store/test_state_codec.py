from __future__ import annotations

import json
from datetime import UTC, datetime

from carepath.engine.compiler import compile_paths
from carepath.engine.facts import Event, facts_from_patient
from carepath.engine.library import Library
from carepath.engine.runtime import State, evaluate
from carepath.store.state_codec import FORMAT, dump_state, load_state
from tests.conftest import ROOT

PATIENT = {
    "id": "preg-1",
    "enrolled_at": "2026-02-23T09:30:00+08:00",
    "lmp": "2026-01-05",
    "tags": ["瘢痕子宫"],
    "labs": {"hb": 118},
    "answers": {"epds": {"score": 9}},
    "diagnoses": [{"code": "O34.201"}],
}

# A state written by format 0 (before ``pending`` was stored): frozen, never edit.
FORMAT_0_DUMP = {
    "format": 0,
    "facts": {"pregnancy_id": "preg-0", "enrolled_at": "2026-02-23T09:30:00+08:00", "lmp": "2026-01-05",
              "tags": ["瘢痕子宫"], "icd10": ["O34.201"], "visits": [], "answers": {}, "labs": {"hb": 118.0}},
    "enrolments": [{"id": "preg-0/gdm#1", "pathway_id": "gdm", "version": "abc", "started_at": "2026-02-23T09:30:00+08:00",
                    "ended_at": None, "reason": "audience"}],
    "evaluated_at": "2026-02-23T09:30:00+08:00",
}  # fmt: skip


def test_state_survives_a_json_round_trip_after_evaluation() -> None:
    library = Library(
        compile_paths(sorted(str(p) for p in (ROOT / "examples" / "pathways").glob("*.yaml"))).pathways
    )
    now = datetime(2026, 7, 10, 7, tzinfo=UTC)
    event = Event("e1", "diagnosis.added", now, {"code": "O24.401"})
    state = evaluate(library, State(facts_from_patient(PATIENT)), event, now).state
    assert state.pending or state.enrolments
    dumped = json.loads(json.dumps(dump_state(state), ensure_ascii=False))
    assert dumped["format"] == FORMAT
    assert load_state(dumped) == state


def test_format_0_dump_still_loads() -> None:
    state = load_state(FORMAT_0_DUMP)
    assert state.facts.tags == frozenset({"瘢痕子宫"})
    assert state.pending == ()
    assert state.enrolments[0].pathway_id == "gdm"


def test_a_newer_format_is_refused() -> None:
    import pytest

    from carepath.store.state_codec import StateFormatError

    with pytest.raises(StateFormatError):
        load_state({**FORMAT_0_DUMP, "format": FORMAT + 1})


def test_codec_writes_every_field_of_the_engine_records() -> None:
    """The codec spells the fields out for speed; a field added to the engine must be added here."""
    from dataclasses import fields

    from carepath.engine.runtime import Emitted, Enrolment
    from carepath.store.state_codec import emitted_to_json, enrolment_to_json

    now = datetime(2026, 7, 10, 7, tzinfo=UTC)
    emitted = Emitted("k", "p", "v", "r", "push", {"content": "x"}, now, "e", "o")
    enrolment = Enrolment("e", "p", "v", now)
    assert set(emitted_to_json(emitted)) == {f.name for f in fields(Emitted)}
    assert set(enrolment_to_json(enrolment)) == {f.name for f in fields(Enrolment)}


def test_moving_enrolments_changes_only_the_active_ones_of_that_pathway() -> None:
    from carepath.engine.runtime import Enrolment
    from carepath.store.state_codec import move_enrolments

    at = datetime(2026, 3, 1, tzinfo=UTC)
    state = State(
        facts_from_patient(PATIENT),
        (
            Enrolment("preg-1/gdm#1", "gdm", "v1", at, at, "exit condition met"),
            Enrolment("preg-1/gdm#2", "gdm", "v1", at),
            Enrolment("preg-1/anaemia#1", "anaemia", "a1", at),
        ),
    )
    moved_state, moved = move_enrolments(dump_state(state), "gdm", "v2")
    assert moved == ["preg-1/gdm#2"]
    assert [e.version for e in load_state(moved_state).enrolments] == ["v1", "v2", "a1"]
    assert load_state(moved_state).facts == state.facts


# A state written by format 1 before medications were facts (issue 16 item 9): frozen, never edit.
FORMAT_1_DUMP_WITHOUT_MEDICATIONS = {
    "format": 1,
    "facts": {"pregnancy_id": "preg-1", "enrolled_at": "2026-02-23T09:30:00+08:00", "lmp": "2026-01-05",
              "tags": ["妊娠期糖尿病"], "icd10": ["O24.401"], "visits": [], "answers": {}, "labs": {}},
    "enrolments": [],
    "pending": [],
    "evaluated_at": "2026-02-23T09:30:00+08:00",
}  # fmt: skip


def test_active_medications_survive_a_json_round_trip() -> None:
    """Issue 16 item 9: the active set is stored as a sorted list and read back as a set."""
    now = datetime(2026, 7, 10, 7, tzinfo=UTC)
    state = State(facts_from_patient(PATIENT))
    for code in ("metformin", "insulin"):
        prescribed = Event(f"m-{code}", "medication.prescribed", now, {"code": code})
        state = evaluate(Library(()), state, prescribed, now).state
    assert state.facts.medications == frozenset({"insulin", "metformin"})
    dumped = json.loads(json.dumps(dump_state(state), ensure_ascii=False))
    assert dumped["facts"]["medications"] == ["insulin", "metformin"]
    assert load_state(dumped) == state


def test_a_state_stored_without_medications_loads_with_none_active() -> None:
    state = load_state(FORMAT_1_DUMP_WITHOUT_MEDICATIONS)
    assert state.facts.medications == frozenset()
    assert state.facts.tags == frozenset({"妊娠期糖尿病"})
