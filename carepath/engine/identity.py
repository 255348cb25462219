"""Identity documents: the kinds carepath takes and when a number is one of them.

A woman is named by her HIS id and/or an identity document's number. ``id_type`` says which
document (``resident`` when not given):

- ``resident``: the mainland resident ID card (居民身份证), GB 11643-1999: 17 digits and a check
  character. Its first six digits are the address code, of which only the province (the first
  two) is checked: the county list changes over the years and would refuse old, valid numbers.
  Digits 7-14 are the birth date, 15-17 the sequence (the 17th odd for a man, even for a
  woman), the 18th the ISO 7064 MOD 11-2 check character (``X`` for ten). A first-generation
  15-digit number (issued until 2013) is refused: she is asked for her 18-digit one.
- ``hk_macau_tw_residence``: the residence permit of a Hong Kong, Macao or Taiwan resident
  (港澳台居民居住证, 2018): the same structure with the address code 810000, 820000 or 830000.
- ``foreign_permanent``: the foreign permanent resident ID card of 2023 (外国人永久居留身份证):
  18 characters beginning with 9, the birth date, sex digit and check character placed as in a
  resident number.
- ``passport``, ``hk_macau_pass`` (港澳居民来往内地通行证: H or M and 8 or 10 digits) and
  ``tw_pass`` (台湾居民来往大陆通行证: 8 or 10 digits): their pattern only; they carry no check
  character, birth date or sex.

Pure: no clock (the caller passes ``today``, the hospital's date of the request), no I/O.
:data:`PATTERNS` are the ones ``his-event.schema.json`` states (a test keeps them equal).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Literal

from carepath.errors import CarepathError

DEFAULT_ID_TYPE = "resident"
#: The documents whose number is GB 11643-shaped: birth date, sex digit, MOD 11-2 check.
CHECKED_TYPES = ("resident", "hk_macau_tw_residence", "foreign_permanent")
ID_TYPES = (*CHECKED_TYPES, "passport", "hk_macau_pass", "tw_pass")

PATTERNS: Mapping[str, str] = {
    "resident": r"^[0-9]{17}[0-9Xx]$",
    "hk_macau_tw_residence": r"^8[1-3]0000[0-9]{11}[0-9Xx]$",
    "foreign_permanent": r"^9[0-9]{16}[0-9Xx]$",
    "passport": r"^[A-Za-z0-9]{5,20}$",
    "hk_macau_pass": r"^[HMhm][0-9]{8}([0-9]{2})?$",
    "tw_pass": r"^[0-9]{8}([0-9]{2})?$",
}
_COMPILED = {kind: re.compile(pattern) for kind, pattern in PATTERNS.items()}

#: Province-level codes (GB/T 2260): 11-15, 21-23, 31-37, 41-46, 50-54, 61-65, 71 Taiwan,
#: 81 Hong Kong, 82 Macao, 83 (Taiwan residents' residence permits).
PROVINCES = frozenset(
    {
        *range(11, 16),
        *range(21, 24),
        *range(31, 38),
        *range(41, 47),
        *range(50, 55),
        *range(61, 66),
        71,
        81,
        82,
        83,
    }
)
#: ISO 7064 MOD 11-2 weights of the first 17 digits (2^(17-i) mod 11) and the check characters.
WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK_CHARACTERS = "10X98765432"
EARLIEST_BIRTH = date(1900, 1, 1)

Sex = Literal["female", "male"]

#: What each reason code means, in English and in Chinese (for her and the registration desk).
MESSAGES: Mapping[str, tuple[str, str]] = {
    "unknown-type": (
        "id_type is not one of: " + ", ".join(ID_TYPES),
        "证件类型不正确",
    ),
    "first-generation": (
        "a 15-digit first-generation ID number; give her 18-digit resident ID number",
        "这是15位的第一代身份证号码，请填写18位的第二代居民身份证号码",
    ),
    "length": (
        "a resident ID number has 18 characters",
        "居民身份证号码应为18位",
    ),
    "characters": (
        "17 digits and a last digit or X",
        "证件号码应为17位数字加1位数字或X",
    ),
    "province": (
        "the first two digits are not a province code",
        "证件号码前两位不是有效的省级行政区代码",
    ),
    "date": (
        "digits 7-14 are not a real birth date",
        "证件号码第7至14位不是有效的出生日期",
    ),
    "future-date": (
        "the birth date in digits 7-14 is after today",
        "证件号码中的出生日期晚于今天",
    ),
    "check-digit": (
        "the check character (the last one) does not match; check the number for a typing error",
        "证件号码校验位不正确，请核对号码是否输错",
    ),
    "pattern": (
        "the number does not fit the document's pattern",
        "证件号码格式不正确",
    ),
}
_PATTERN_MESSAGES: Mapping[str, tuple[str, str]] = {
    "hk_macau_tw_residence": (
        "a residence permit number: 18 characters beginning 810000, 820000 or 830000",
        "港澳台居民居住证号码应为18位，以810000、820000或830000开头",
    ),
    "foreign_permanent": (
        "a foreign permanent resident ID number: 18 characters beginning with 9",
        "外国人永久居留身份证号码应为18位，以9开头",
    ),
    "passport": ("a passport number: 5 to 20 letters or digits", "护照号码应为5至20位字母或数字"),
    "hk_macau_pass": (
        "a Mainland Travel Permit for Hong Kong and Macao Residents: H or M and 8 or 10 digits",
        "港澳居民来往内地通行证号码应为H或M加8位或10位数字",
    ),
    "tw_pass": (
        "a Mainland Travel Permit for Taiwan Residents: 8 or 10 digits",
        "台湾居民来往大陆通行证号码应为8位或10位数字",
    ),
}


class InvalidIdNumberError(CarepathError):
    """The number is not a valid number of its document; ``reason`` says which rule failed."""

    code = "id-number-invalid"

    def __init__(self, reason: str, id_type: str) -> None:
        english, chinese = (
            _PATTERN_MESSAGES[id_type]
            if reason == "pattern" and id_type in _PATTERN_MESSAGES
            else MESSAGES[reason]
        )
        super().__init__(english)
        self.reason = reason
        self.id_type = id_type
        self.message_zh = chinese


@dataclass(frozen=True)
class IdDocument:
    """A checked number: normalised (upper case, no spaces), with what it says of her."""

    id_type: str
    number: str
    birth_date: date | None = None  # the GB 11643-shaped documents only
    sex: Sex | None = None


def check_digit(first17: str) -> str:
    """The ISO 7064 MOD 11-2 check character of 17 digits (``X`` stands for ten)."""
    return _CHECK_CHARACTERS[sum(int(d) * w for d, w in zip(first17, WEIGHTS, strict=True)) % 11]


def normalise(number: str) -> str:
    """Upper case without spaces: how numbers are compared, hashed and stored."""
    return "".join(number.split()).upper()


def check_id_number(number: str, id_type: str | None, today: date) -> IdDocument:
    """The checked document, or InvalidIdNumberError naming the first rule it breaks.

    ``today`` is the hospital's date when the request arrived: a birth date after it is refused.
    """
    kind = id_type or DEFAULT_ID_TYPE
    if kind not in PATTERNS:
        raise InvalidIdNumberError("unknown-type", kind)
    value = normalise(number)
    if kind == "resident":
        _resident_shape(value)
    elif not _COMPILED[kind].match(value):
        raise InvalidIdNumberError("pattern", kind)
    if kind not in CHECKED_TYPES:
        return IdDocument(kind, value)
    if kind == "resident" and int(value[:2]) not in PROVINCES:
        raise InvalidIdNumberError("province", kind)
    try:
        born = date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        raise InvalidIdNumberError("date", kind) from None
    if born < EARLIEST_BIRTH:
        raise InvalidIdNumberError("date", kind)
    if born > today:
        raise InvalidIdNumberError("future-date", kind)
    if check_digit(value[:17]) != value[17]:
        raise InvalidIdNumberError("check-digit", kind)
    return IdDocument(kind, value, born, "male" if int(value[16]) % 2 else "female")


def _resident_shape(value: str) -> None:
    """Length first (the most useful word for a clerk), then which characters are wrong."""
    if len(value) == 15 and value.isascii() and value.isdigit():
        raise InvalidIdNumberError("first-generation", "resident")
    if len(value) != 18:
        raise InvalidIdNumberError("length", "resident")
    if not _COMPILED["resident"].match(value):
        raise InvalidIdNumberError("characters", "resident")
