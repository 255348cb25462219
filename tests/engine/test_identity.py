"""Identity documents: GB 11643-1999 resident numbers and the other documents carepath takes.

Every number here is synthetic: made up and its check character computed (``tests.conftest.
resident_id`` and :func:`_with_check` compute it independently of the code under test).
"""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from carepath.engine import identity
from carepath.engine.identity import InvalidIdNumberError, check_id_number
from carepath.engine.schema_check import SCHEMAS_DIR
from tests.conftest import resident_id

TODAY = date(2026, 7, 10)
WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def _with_check(body: str) -> str:
    return body + "10X98765432"[sum(int(d) * w for d, w in zip(body, WEIGHTS, strict=True)) % 11]


VALID = resident_id(0)  # 330102 19900412 000 + check

#: The review's twelve invalid mainland numbers (10 were accepted): each with the reason given.
INVALID_RESIDENT = {
    "bad check digit": (VALID[:17] + ("1" if VALID[17] != "1" else "2"), "check-digit"),
    "30 February": (_with_check("33010219900230002"), "date"),
    "month 13": (_with_check("33010219901301002"), "date"),
    "day 00": (_with_check("33010219900400002"), "date"),
    "born 2099": (_with_check("33010220990101002"), "future-date"),
    "born before 1900": (_with_check("33010218991231002"), "date"),
    "region 000000": (_with_check("00000019900412002"), "province"),
    "16 digits": (VALID[:16], "length"),
    "17 digits": (VALID[:17], "length"),
    "19 digits": (VALID + "1", "length"),
    "an X in the middle": (VALID[:8] + "X" + VALID[9:], "characters"),
    "15 digits (first generation)": ("330102900412002", "first-generation"),
}


@pytest.mark.parametrize("case", sorted(INVALID_RESIDENT))
def test_invalid_resident_number_is_refused_with_its_reason(case: str) -> None:
    number, reason = INVALID_RESIDENT[case]
    with pytest.raises(InvalidIdNumberError) as refused:
        check_id_number(number, None, TODAY)
    assert refused.value.code == "id-number-invalid"
    assert refused.value.reason == reason
    assert refused.value.message_zh  # a Chinese sentence for the registration desk


def test_first_generation_number_asks_for_the_18_digit_one_in_chinese() -> None:
    with pytest.raises(InvalidIdNumberError) as refused:
        check_id_number("330102900412002", "resident", TODAY)
    assert "18位" in refused.value.message_zh and "15位" in refused.value.message_zh


VALID_RESIDENT = {
    "Hangzhou, 1990": (resident_id(0), date(1990, 4, 12)),
    "Beijing, 29 February 2000": (_with_check("11010120000229002"), date(2000, 2, 29)),
    "born today": (_with_check("440305" + TODAY.strftime("%Y%m%d") + "004"), TODAY),
    "check character X, lower case": (
        next(n for i in range(500) if (n := resident_id(i))[-1] == "X").lower(),
        date(1990, 4, 12),
    ),
    "Xinjiang (65)": (_with_check("65010219851111006"), date(1985, 11, 11)),
    "Taiwan (71)": (_with_check("71000019880808008"), date(1988, 8, 8)),
    "Hong Kong resident (81)": (_with_check("81000019920101002"), date(1992, 1, 1)),
}


@pytest.mark.parametrize("case", sorted(VALID_RESIDENT))
def test_valid_resident_number_gives_her_birth_date_and_sex(case: str) -> None:
    number, born = VALID_RESIDENT[case]
    document = check_id_number(number, None, TODAY)
    assert document.id_type == "resident"
    assert document.number == number.upper()
    assert document.birth_date == born
    assert document.sex == "female"


def test_odd_seventeenth_digit_is_a_man() -> None:
    assert check_id_number(_with_check("33010219900412003"), None, TODAY).sex == "male"


def test_born_tomorrow_is_in_the_future() -> None:
    tomorrow = TODAY + timedelta(days=1)
    with pytest.raises(InvalidIdNumberError) as refused:
        check_id_number(_with_check("330102" + tomorrow.strftime("%Y%m%d") + "002"), None, TODAY)
    assert refused.value.reason == "future-date"


OTHER_DOCUMENTS = {
    "hk_macau_tw_residence": (
        [_with_check("81000019920101002"), _with_check("83000019920101002")],
        [_with_check("84000019920101002"), _with_check("81010119920101002"), "81000019920101002"],
    ),
    "foreign_permanent": (
        [_with_check("91184019850615002")],
        [_with_check("11184019850615002"), _with_check("91184019851315002")],
    ),
    "passport": (["E12345678", "ab12345", "G1234567"], ["E123", "E-1234567", "E" * 21]),
    "hk_macau_pass": (["H12345678", "M1234567890", "h12345678"], ["C12345678", "H1234567", "H123456789"]),
    "tw_pass": (["12345678", "1234567890"], ["1234567", "123456789", "T12345678"]),
}


@pytest.mark.parametrize("id_type", sorted(OTHER_DOCUMENTS))
def test_other_documents_by_their_own_rules(id_type: str) -> None:
    valid, invalid = OTHER_DOCUMENTS[id_type]
    for number in valid:
        assert check_id_number(number, id_type, TODAY).id_type == id_type
    for number in invalid:
        with pytest.raises(InvalidIdNumberError) as refused:
            check_id_number(number, id_type, TODAY)
        assert refused.value.reason in ("pattern", "date", "check-digit"), number
        assert refused.value.message_zh


def test_residence_permit_gives_birth_date_and_sex() -> None:
    document = check_id_number(_with_check("82000019920101002"), "hk_macau_tw_residence", TODAY)
    assert (document.birth_date, document.sex) == (date(1992, 1, 1), "female")


def test_a_resident_number_is_not_a_passport_number_and_back() -> None:
    with pytest.raises(InvalidIdNumberError):
        check_id_number("E12345678", None, TODAY)  # the default is a resident number
    assert check_id_number(VALID, "passport", TODAY).birth_date is None  # a passport says nothing


def test_unknown_id_type_is_refused() -> None:
    with pytest.raises(InvalidIdNumberError) as refused:
        check_id_number(VALID, "driving_licence", TODAY)
    assert refused.value.reason == "unknown-type"


def test_patterns_are_the_schemas() -> None:
    """his-event.schema.json states each document's pattern; the validator uses the same."""
    schema = json.loads((SCHEMAS_DIR / "his-event.schema.json").read_text(encoding="utf-8"))
    patient = schema["properties"]["patient"]
    stated = {
        rule["if"]["properties"]["id_type"]["const"]: rule["then"]["properties"]["id_number"]["pattern"]
        for rule in patient["allOf"]
    }
    assert stated == dict(identity.PATTERNS)
    assert patient["properties"]["id_type"]["enum"] == list(identity.ID_TYPES)


@st.composite
def resident_numbers(draw: st.DrawFn) -> str:
    province = draw(st.sampled_from(sorted(identity.PROVINCES)))
    county = draw(st.integers(0, 9999))
    born = draw(st.dates(min_value=date(1900, 1, 1), max_value=TODAY))
    sequence = draw(st.integers(0, 999))
    return _with_check(f"{province:02d}{county:04d}{born:%Y%m%d}{sequence:03d}")


@settings(max_examples=300, deadline=None)
@given(resident_numbers())
def test_every_generated_valid_number_passes(number: str) -> None:
    document = check_id_number(number, None, TODAY)
    assert document.birth_date is not None and document.birth_date.strftime("%Y%m%d") == number[6:14]
    assert document.sex == ("male" if int(number[16]) % 2 else "female")


@settings(max_examples=300, deadline=None)
@given(resident_numbers(), st.integers(0, 17), st.integers(1, 10))
def test_every_single_character_alteration_fails(number: str, position: int, shift: int) -> None:
    """MOD 11-2 catches every single substitution: the altered number's check no longer holds."""
    alphabet = "0123456789X" if position == 17 else "0123456789"
    was = alphabet.index(number[position])
    altered = number[:position] + alphabet[(was + shift) % len(alphabet)] + number[position + 1 :]
    if altered == number:  # shift is a whole turn of a ten-character alphabet
        return
    assert identity.check_digit(altered[:17]) != altered[17]
    with pytest.raises(InvalidIdNumberError):
        check_id_number(altered, None, TODAY)
