"""The built-in WHO ICD-10 catalogue and the rule that maps an extended code to its WHO code.

``pathways/icd10.csv`` lists every category and subcategory of WHO ICD-10 (2019) chapter XV and
the few other WHO codes the library uses, with English titles and Chinese names (a third-party
copy of the WHO titles, unverified Chinese names: see the file's header). Hospitals send
extended codes of their national clinical edition (``O24.401``); the WHO code of such a code is
the longest catalogue code that is a prefix of it at a code boundary: ``O24.401`` -> ``O24.4``
(and its category ``O24``). That is the same prefix rule the pathways match with, so mapping
never changes which pathway matches; it names the code and finds the ones no pathway could ever
understand.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import MappingProxyType

CATALOGUE_PATH = Path(__file__).resolve().parent.parent / "pathways" / "icd10.csv"

#: A WHO ICD-10 code or an extension of one: a letter, two digits, then a dot and up to 8 more.
CODE_PATTERN = re.compile(r"^[A-Z][0-9]{2}(\.[0-9A-Za-z]{1,8})?$")


@dataclass(frozen=True)
class Icd10Code:
    code: str
    title_en: str
    name_zh: str
    note: str = ""


def read_catalogue(path: Path = CATALOGUE_PATH) -> Mapping[str, Icd10Code]:
    """The codes of a catalogue file (``#`` lines are its header of sources and notes)."""
    with path.open(encoding="utf-8", newline="") as handle:
        lines = [line for line in handle if not line.startswith("#")]
    codes = {}
    for row in csv.DictReader(lines):
        code = row["code"].strip()
        codes[code] = Icd10Code(code, row["title_en"].strip(), row["name_zh"].strip(), row["note"].strip())
    return MappingProxyType(codes)


@cache
def who_catalogue() -> Mapping[str, Icd10Code]:
    """The built-in catalogue, read once per process."""
    return read_catalogue()


def candidates(code: str) -> list[str]:
    """The WHO codes ``code`` may extend, longest first: ``O24.401`` -> O24.401, O24.40, O24.4, O24."""
    head, _, tail = code.partition(".")
    return [f"{head}.{tail[:n]}" for n in range(len(tail), 0, -1)] + [head]


def who_code(code: str, known: Mapping[str, object] | None = None) -> str | None:
    """The longest code of ``known`` (the built-in catalogue by default) that ``code`` extends,
    or None when it extends none of them."""
    table = who_catalogue() if known is None else known
    return next((c for c in candidates(code.strip()) if c in table), None)


def covers(pattern: str, known: Mapping[str, object] | None = None) -> bool:
    """Whether a pathway's prefix can match a catalogued code: it extends one (``O24.401``), or
    some code extends it (``O24``, and a chapter prefix such as ``O2``)."""
    table = who_catalogue() if known is None else known
    return who_code(pattern, table) is not None or any(c.startswith(pattern) for c in table)
