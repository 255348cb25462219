"""Facts: which events only repeat what her facts hold (issue 16 item 8)."""

from dataclasses import replace
from datetime import UTC, date, datetime

import pytest

from carepath.engine.facts import Baby, Event, Facts, apply_event, repeats, snapshot

AT = datetime(2026, 7, 10, 7, 0, tzinfo=UTC)
FACTS = Facts(pregnancy_id="p", enrolled_at=AT, icd10=frozenset({"O24.4"}), tags=frozenset({"瘢痕子宫"}))


def added(code: str) -> Event:
    return Event("e", "diagnosis.added", AT, {"code": code})


@pytest.mark.parametrize("code", ["O24.4", "o24.4", " O24 .4 ", "O24.4\t"])
def test_an_active_code_in_another_case_or_spacing_is_a_repeat(code: str) -> None:
    assert repeats(FACTS, added(code))
    assert apply_event(FACTS, added(code)) == FACTS


@pytest.mark.parametrize("code", ["O24.401", "O24", "O24.40"])
def test_a_more_specific_or_more_general_code_is_new(code: str) -> None:
    assert not repeats(FACTS, added(code))
    assert apply_event(FACTS, added(code)).icd10 == {"O24.4", code}


def test_a_code_added_again_after_its_removal_is_new() -> None:
    removed = apply_event(FACTS, Event("r", "diagnosis.removed", AT, {"code": "o24.4"}))
    assert removed.icd10 == frozenset()
    assert not repeats(removed, added("O24.4"))


def test_a_tag_she_has_is_a_repeat_and_another_is_not() -> None:
    assert repeats(FACTS, Event("t", "tag.added", AT, {"tag": "瘢痕子宫"}))
    assert not repeats(FACTS, Event("t", "tag.added", AT, {"tag": "高龄"}))
    assert not repeats(FACTS, Event("t", "tag.removed", AT, {"tag": "瘢痕子宫"}))


def test_a_prescription_adds_to_the_active_set_and_a_stop_removes_from_it() -> None:
    """Issue 16 item 9: ``medications`` holds what is prescribed and not stopped."""
    prescribed = apply_event(
        FACTS, Event("m1", "medication.prescribed", AT, {"code": "insulin", "dose": "4U"})
    )
    assert prescribed.medications == frozenset({"insulin"})
    stopped = apply_event(prescribed, Event("s1", "medication.stopped", AT, {"code": "insulin"}))
    assert stopped.medications == frozenset()
    assert apply_event(FACTS, Event("s2", "medication.stopped", AT, {"code": "iron"})) == FACTS


def test_a_repeat_prescription_of_an_active_medication_is_a_repeat() -> None:
    on_insulin = apply_event(FACTS, Event("m1", "medication.prescribed", AT, {"code": "insulin"}))
    assert repeats(on_insulin, Event("m2", "medication.prescribed", AT, {"code": "insulin"}))
    assert not repeats(on_insulin, Event("m3", "medication.prescribed", AT, {"code": "metformin"}))
    assert not repeats(FACTS, Event("m4", "medication.prescribed", AT, {"code": "insulin"}))
    stopped = apply_event(on_insulin, Event("s1", "medication.stopped", AT, {"code": "insulin"}))
    assert not repeats(stopped, Event("m5", "medication.prescribed", AT, {"code": "insulin"}))


# --- issue 16 item 6: per-baby outcomes -------------------------------------------------------


def _babies(facts: Facts, *events: tuple[str, dict[str, object]]) -> Facts:
    for i, (kind, data) in enumerate(events):
        facts = apply_event(facts, Event(f"b{i}", kind, AT, data))
    return facts


def test_the_delivery_keeps_each_baby_in_its_order() -> None:
    newborns = [
        {
            "outcome": "live",
            "baby_id": "NB-1",
            "sex": "female",
            "weight_g": 2450,
            "gestational_age_at_birth": "36+3",
        },
        {"outcome": "stillbirth"},
    ]
    facts = _babies(FACTS, ("delivery", {"date": "2026-10-01", "newborns": newborns}))
    assert facts.babies == (Baby("live", "NB-1", "female", 2450.0, 36 * 7 + 3), Baby("stillbirth"))
    assert (facts.live_births, facts.babies_alive, facts.babies_lost) == (1, 1, 1)
    assert snapshot(facts, AT.date())["any_baby_lost"] is True


def test_babies_are_unknown_before_the_hospital_reports_them() -> None:
    for facts in (FACTS, _babies(FACTS, ("delivery", {"date": "2026-10-01"}))):
        view = snapshot(facts, AT.date())
        assert (view["babies_alive"], view["babies_lost"], view["any_baby_lost"]) == (None, None, None)


def test_a_registration_names_a_baby_by_place_or_the_first_unnamed_one_and_a_death_finds_it() -> None:
    twins = ("delivery", {"newborns": [{"outcome": "live"}, {"outcome": "live"}, {"outcome": "stillbirth"}]})
    facts = _babies(
        FACTS,
        twins,
        ("newborn.registered", {"baby_id": "B", "index": 2, "sex": "male"}),
        ("newborn.registered", {"baby_id": "A", "weight_g": 3000}),  # the first live one without an id
        ("newborn.died", {"baby_id": "B", "date": "2026-10-05"}),
    )
    assert [(b.id, b.outcome, b.died_on) for b in facts.newborns or ()] == [
        ("A", "live", None),
        ("B", "live", date(2026, 10, 5)),
        ("", "stillbirth", None),
    ]
    assert (facts.babies_alive, facts.babies_lost) == (1, 2)
    # a second report of the same death, and a death of a stillborn baby, change nothing
    assert _babies(facts, ("newborn.died", {"baby_id": "B", "date": "2026-10-09"})) == facts
    assert _babies(facts, ("newborn.died", {"baby_id": "Z", "index": 3, "date": "2026-10-09"})) == facts


def test_a_death_of_a_baby_never_reported_still_counts_as_a_loss() -> None:
    facts = _babies(FACTS, ("newborn.died", {"baby_id": "NB-9", "date": "2026-10-05"}))
    assert (facts.babies_alive, facts.babies_lost) == (0, 1)


def test_a_registration_before_the_delivery_is_kept_by_its_id() -> None:
    facts = _babies(
        FACTS,
        ("newborn.registered", {"baby_id": "NB-1", "sex": "female", "weight_g": 3100}),
        (
            "delivery",
            {"newborns": [{"outcome": "live", "baby_id": "NB-1", "gestational_age_at_birth": "39+0"}]},
        ),
    )
    assert facts.babies == (Baby("live", "NB-1", "female", 3100.0, 39 * 7),)


def test_without_babies_an_older_state_has_live_births_live_babies() -> None:
    facts = replace(FACTS, status="delivered", live_births=2)
    assert facts.newborns == (Baby("live"), Baby("live"))
    assert snapshot(facts, AT.date())["any_baby_lost"] is False
