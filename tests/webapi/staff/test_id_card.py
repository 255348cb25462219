"""The card reader's JSON mapped to the registration form's fields (staff/id_card.py)."""

from __future__ import annotations

import pytest

from carepath.webapi.staff import id_card
from tests.conftest import resident_id


def test_the_generic_format_fills_name_number_and_birth_date_never_the_address() -> None:
    read = id_card.map_card(
        {"name": " 张  丽 ", "sex": "女", "birthDate": "19900412", "idNumber": resident_id(3).lower(),
         "address": "浙江省杭州市上城区某路1号"}
    )  # fmt: skip
    assert read == id_card.CardFields("generic", "张 丽", "female", "1990-04-12", resident_id(3).upper())
    assert read.form_values() == {
        "name": "张 丽",
        "id_number": resident_id(3).upper(),
        "birth_date": "1990-04-12",
        "id_type": "resident",
    }
    assert "浙江" not in repr(read)  # the form does not ask for it: not kept


@pytest.mark.parametrize(
    ("written", "iso"),
    [("1990-04-12", "1990-04-12"), ("1990年4月12日", "1990-04-12"), ("1990.04.12", "1990-04-12"),
     ("19900230", None), ("April", None)],
)  # fmt: skip
def test_birth_dates_as_readers_write_them(written: str, iso: str | None) -> None:
    assert id_card.map_card({"id_number": resident_id(1), "birth_date": written}).birth_date == iso


@pytest.mark.parametrize(("written", "sex"), [("女", "female"), ("F", "female"), ("2", "female"),
                                              ("男", "male"), ("1", "male"), ("?", None)])  # fmt: skip
def test_sex_as_readers_write_it(written: str, sex: str | None) -> None:
    assert id_card.map_card({"id_number": resident_id(1), "gender": written}).sex == sex


def test_an_answer_wrapped_in_data_is_read_too() -> None:
    read = id_card.map_card({"code": 0, "data": {"name": "李娜", "id_number": resident_id(2), "sex": 2}})
    assert (read.name, read.id_number, read.sex) == ("李娜", resident_id(2), "female")


@pytest.mark.parametrize(
    "answer", [None, [], "text", {"name": "张丽"}, {"idNumber": {"x": 1}}, {"idNumber": "\x00"}]
)
def test_an_answer_without_an_id_number_is_unreadable(answer: object) -> None:
    with pytest.raises(id_card.UnreadableCardError):
        id_card.map_card(answer)


def test_a_new_vendor_format_is_one_row_of_the_table(monkeypatch: pytest.MonkeyPatch) -> None:
    vendor = {
        "name": ("xm",),
        "sex": ("xb",),
        "birth_date": ("csrq",),
        "id_number": ("gmsfhm",),
        "address": ("zz",),
    }
    monkeypatch.setitem(id_card.VENDOR_FORMATS, "pinyin", vendor)  # type: ignore[index]
    read = id_card.map_card({"xm": "王芳", "xb": "女", "csrq": "1995-01-02", "gmsfhm": resident_id(4)})
    assert (read.format, read.name, read.birth_date) == ("pinyin", "王芳", "1995-01-02")
