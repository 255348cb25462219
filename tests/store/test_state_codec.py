from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime

from carepath.engine.compiler import compile_paths
from carepath.engine.facts import Event, Grade, facts_from_patient
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

# A state written by format 1 (one colour, set by rules outright): frozen, never edit.
FORMAT_1_DUMP = {
    "format": 1,
    "edd": "2026-10-12",
    "facts": {"pregnancy_id": "preg-1", "enrolled_at": "2026-02-23T09:30:00+08:00", "lmp": "2026-01-05",
              "cycle_length": None, "scan_date": None, "scan_ga_days": None, "transfer_date": None,
              "embryo_day": None, "documented_edd": None, "birth_date": "1990-04-12", "height_cm": None,
              "weight_kg": None, "gravida": 1, "para": 0, "plurality": None, "tags": ["瘢痕子宫"],
              "icd10": ["O34.201"], "risk_colour": "orange", "purple": True, "visits": [], "status": "pregnant",
              "delivery_date": None, "live_births": None, "answers": {}, "labs": {"hb": 118.0}},
    "enrolments": [{"id": "preg-1/risk-colour#1", "pathway_id": "risk-colour", "version": "abc",
                    "started_at": "2026-02-23T09:30:00+08:00", "ended_at": None, "reason": "audience"}],
    "pending": [],
    "evaluated_at": "2026-03-01T10:00:00+08:00",
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


def test_format_1_colour_becomes_a_suggestion_of_an_unknown_rule_at_the_last_evaluation() -> None:
    """Issue 16 item 5: a format-1 colour was set by a rule; it migrates as a suggestion."""
    state = load_state(FORMAT_1_DUMP)
    facts = state.facts
    assert facts.suggested_risk == Grade(
        "orange", datetime.fromisoformat("2026-03-01T10:00:00+08:00"), "", ""
    )
    assert facts.confirmed_risk is None
    assert (facts.risk_colour, facts.risk_confirmed, facts.risk_colour_status) == (
        "orange",
        False,
        "suggested",
    )
    assert facts.purple and facts.tags == frozenset({"瘢痕子宫"})
    dumped = dump_state(state)
    assert dumped["format"] == FORMAT == 2
    assert dumped["facts"]["risk_colour"] == "orange"  # derived, for SQL and the staff reads
    assert dumped["facts"]["risk_colour_status"] == "suggested"
    assert load_state(dumped) == state


def test_format_1_without_a_colour_or_an_evaluation_migrates_to_no_grade() -> None:
    plain = {**FORMAT_1_DUMP, "facts": {**FORMAT_1_DUMP["facts"], "risk_colour": None}, "evaluated_at": None}
    assert load_state(plain).facts.suggested_risk is None
    unevaluated = {**FORMAT_1_DUMP, "evaluated_at": None}
    assert load_state(unevaluated).facts.suggested_risk == Grade("orange")


def test_format_2_fills_defaults_for_missing_optional_keys() -> None:
    """Later items add optional keys without a bump: a format-2 dump without them still loads."""
    minimal = {
        "format": 2,
        "facts": {"pregnancy_id": "preg-2", "enrolled_at": "2026-02-23T09:30:00+08:00"},
    }
    state = load_state(minimal)
    assert state == State(facts_from_patient({"id": "preg-2", "enrolled_at": "2026-02-23T09:30:00+08:00"}))
    graded = {**minimal, "facts": {**minimal["facts"], "confirmed_risk": {"colour": "yellow"}}}
    assert load_state(graded).facts.confirmed_risk == Grade("yellow")


def test_confirmed_and_suggested_grades_survive_a_round_trip() -> None:
    at = datetime(2026, 3, 10, 1, tzinfo=UTC)
    facts = replace(
        facts_from_patient(PATIENT),
        confirmed_risk=Grade("yellow", at, "doc-7", "复核"),
        suggested_risk=Grade("red", at, "risk-colour/placenta", "出血"),
    )
    dumped = json.loads(json.dumps(dump_state(State(facts)), ensure_ascii=False))
    assert dumped["facts"]["risk_colour"] == "red" and dumped["facts"]["risk_colour_status"] == "suggested"
    assert load_state(dumped).facts == facts


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


# A format-2 state stored before per-baby outcomes (issue 16 item 6): a delivery of twins, both
# live, kept only as ``live_births``. Frozen, never edit.
FORMAT_2_DUMP_WITHOUT_BABIES = {
    "format": 2,
    "facts": {"pregnancy_id": "preg-4", "enrolled_at": "2026-02-23T09:30:00+08:00", "lmp": "2026-01-05",
              "status": "delivered", "delivery_date": "2026-10-01", "live_births": 2},
    "enrolments": [],
    "pending": [],
    "evaluated_at": "2026-10-01T15:00:00+08:00",
}  # fmt: skip


def test_babies_survive_a_json_round_trip() -> None:
    """Issue 16 item 6: each baby (outcome, id, sex, weight, GA at birth, the day it died) is
    stored as a list in the delivery's order and read back the same."""
    now = datetime(2026, 10, 1, 7, tzinfo=UTC)
    newborns = [
        {
            "outcome": "live",
            "baby_id": "NB-1",
            "sex": "female",
            "weight_g": 2450,
            "gestational_age_at_birth": "36+3",
        },
        {"outcome": "stillbirth", "sex": None},
    ]
    events = [
        Event("d1", "delivery", now, {"mode": "caesarean", "date": "2026-10-01", "newborns": newborns}),
        Event("x1", "newborn.died", now, {"baby_id": "NB-1", "date": "2026-10-03"}),
    ]
    state = State(facts_from_patient(PATIENT))
    for event in events:
        state = evaluate(Library(()), state, event, now).state
    dumped = json.loads(json.dumps(dump_state(state), ensure_ascii=False))
    assert [b["id"] for b in dumped["facts"]["babies"]] == ["NB-1", ""]
    assert dumped["facts"]["babies"][0]["died_on"] == "2026-10-03"
    loaded = load_state(dumped)
    assert loaded == state
    assert (loaded.facts.babies_alive, loaded.facts.babies_lost) == (0, 2)


def test_a_state_stored_without_babies_derives_them_from_live_births() -> None:
    """An older dump has no ``babies``: it loads with None, and her babies are ``live_births``
    live ones, so the leaves still answer (a loss it never kept stays unknown)."""
    facts = load_state(FORMAT_2_DUMP_WITHOUT_BABIES).facts
    assert facts.babies is None
    assert (facts.babies_alive, facts.babies_lost) == (2, 0)
    assert len(facts.newborns or ()) == 2
    pregnant = {
        **FORMAT_2_DUMP_WITHOUT_BABIES,
        "facts": {**FORMAT_2_DUMP_WITHOUT_BABIES["facts"], "live_births": None},
    }
    assert load_state(pregnant).facts.babies_alive is None


def test_a_suspected_loss_survives_a_json_round_trip_and_an_older_state_has_none() -> None:
    """Issue 16 item 7: ``loss_suspected`` is an optional fact (no format bump): stored as a
    boolean, absent from older dumps, which load with no loss suspected."""
    now = datetime(2026, 7, 10, 7, tzinfo=UTC)
    suspected = Event("l-1", "loss.suspected", now, {"reported_by": "李护士"})
    state = evaluate(Library(()), State(facts_from_patient(PATIENT)), suspected, now).state
    assert state.facts.loss_suspected is True
    dumped = json.loads(json.dumps(dump_state(state), ensure_ascii=False))
    assert dumped["facts"]["loss_suspected"] is True
    assert load_state(dumped) == state
    assert load_state(FORMAT_1_DUMP_WITHOUT_MEDICATIONS).facts.loss_suspected is False
