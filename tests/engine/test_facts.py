"""Facts: which events only repeat what her facts hold (issue 16 item 8)."""

from datetime import UTC, datetime

import pytest

from carepath.engine.facts import Event, Facts, apply_event, repeats

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
