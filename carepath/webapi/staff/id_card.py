"""The ID card reader's answer, mapped to the registration form's fields (建档登记, issue 21).

A reader whose local service runs on the desk PC answers the card it read as JSON; each vendor
names the fields its own way. ``VENDOR_FORMATS`` is one small table per vendor format: for each
card field, the keys (``data.name`` for a nested one) where that format puts it, tried in order.
``map_card`` tries the formats in order and keeps the first that finds an ID number. Only the
generic format is here, and no vendor's real answer was checked against it
(docs/desk-registration.md): a hospital's reader needs its row, written from the vendor's
documentation and tried on the reader.

The card's address is read but never returned: the registration form does not ask for it, so
it is not kept (PIPL: only what the purpose needs). Pure: no Flask, no database.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

#: card field -> where each vendor format puts it (a dotted path for a nested key).
VENDOR_FORMATS: Mapping[str, Mapping[str, tuple[str, ...]]] = {
    # The shape the fake reader answers (tests/fakes/id_card_reader.py) and what a hospital's
    # own bridge service is asked to answer: flat, or under "data" as many services wrap it.
    "generic": {
        "name": ("name", "data.name"),
        "sex": ("sex", "gender", "data.sex", "data.gender"),
        "birth_date": ("birth_date", "birthDate", "birthday", "data.birth_date", "data.birthDate"),
        "id_number": ("id_number", "idNumber", "cardNo", "data.id_number", "data.idNumber"),
        "address": ("address", "data.address"),
    },
}
#: How the card's sex may be written: Chinese, English, the GB/T 2261.1 code.
SEXES = {"女": "female", "f": "female", "female": "female", "2": "female",
         "男": "male", "m": "male", "male": "male", "1": "male"}  # fmt: skip
_DIGITS = re.compile(r"\d+")


@dataclass(frozen=True)
class CardFields:
    """What the registration form takes from a card (never its address)."""

    format: str
    name: str | None
    sex: str | None  # female, male, or None when the card did not say
    birth_date: str | None  # ISO
    id_number: str | None

    def form_values(self) -> dict[str, str]:
        """The form fields this card fills (``id_type`` resident: a reader reads the resident
        card); the fields it did not give are left as the nurse typed them."""
        values = {"name": self.name, "id_number": self.id_number, "birth_date": self.birth_date}
        filled = {k: v for k, v in values.items() if v}
        if self.id_number:
            filled["id_type"] = "resident"
        return filled


class UnreadableCardError(ValueError):
    """The answer is not a card in any known format (no ID number found)."""


def map_card(answer: Any) -> CardFields:
    """The card fields of a reader's JSON answer, by the first vendor format that finds an ID
    number in it; UnreadableCardError when none does."""
    if not isinstance(answer, Mapping):
        raise UnreadableCardError("the reader's answer is not a JSON object")
    for name, table in VENDOR_FORMATS.items():
        number = _text(_first(answer, table["id_number"]), 20)
        if not number:
            continue
        return CardFields(
            format=name,
            name=" ".join((_text(_first(answer, table["name"]), 40) or "").split()) or None,
            sex=SEXES.get((_text(_first(answer, table["sex"]), 10) or "").lower()),
            birth_date=_birth_date(_text(_first(answer, table["birth_date"]), 20)),
            id_number=number.replace(" ", "").upper(),
        )
    raise UnreadableCardError("no ID number in the reader's answer")


def _first(answer: Mapping[str, Any], paths: tuple[str, ...]) -> Any:
    for path in paths:
        value: Any = answer
        for key in path.split("."):
            value = value.get(key) if isinstance(value, Mapping) else None
        if value not in (None, ""):
            return value
    return None


def _text(value: Any, limit: int) -> str | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        return None
    value = value.strip()
    return value[:limit] if value and value.isprintable() else None


def _birth_date(text: str | None) -> str | None:
    """``19900412``, ``1990-04-12``, ``1990年4月12日``, ``1990.04.12`` -> ``1990-04-12``."""
    if not text:
        return None
    parts = _DIGITS.findall(text)
    if len(parts) == 1 and len(parts[0]) == 8:
        parts = [parts[0][:4], parts[0][4:6], parts[0][6:]]
    if len(parts) != 3:
        return None
    try:
        return date(int(parts[0]), int(parts[1]), int(parts[2])).isoformat()
    except ValueError:
        return None
