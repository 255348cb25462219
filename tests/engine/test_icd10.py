from __future__ import annotations

from pathlib import Path

import pytest

from carepath.engine import icd10
from carepath.engine.compiler import compile_paths, compile_text

ROOT = Path(__file__).resolve().parents[2]

#: WHO ICD-10 chapter XV categories (O00-O99); O27, O37-O39, O49-O59, O76-O79 and O93 do not
#: exist, O09 is left out on purpose (the file's header says why).
CHAPTER_XV = [
    *(f"O0{n}" for n in range(0, 9)),
    *(f"O1{n}" for n in (0, 1, 2, 3, 4, 5, 6)),
    *(f"O2{n}" for n in (0, 1, 2, 3, 4, 5, 6, 8, 9)),
    *(f"O3{n}" for n in range(0, 7)),
    *(f"O4{n}" for n in range(0, 9)),
    *(f"O{n}" for n in range(60, 76)),
    *(f"O{n}" for n in range(80, 93)),
    *(f"O{n}" for n in range(94, 100)),
]


def test_catalogue_holds_every_chapter_xv_category_with_both_names() -> None:
    catalogue = icd10.who_catalogue()
    assert [c for c in CHAPTER_XV if c not in catalogue] == []
    for entry in catalogue.values():
        assert icd10.CODE_PATTERN.match(entry.code), entry.code
        assert entry.title_en and entry.name_zh, entry.code


def test_catalogue_names_its_sources_and_marks_chinese_names_unverified() -> None:
    header = "".join(
        line for line in icd10.CATALOGUE_PATH.read_text("utf-8").splitlines(True) if line.startswith("#")
    )
    assert "WHO ICD-10, 2019 version" in header
    assert "GB/T 14396-2016" in header and "# unverified_zh: true" in header


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
        ("O36.401", "O36"),  # its subcategory is not listed: the category
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
