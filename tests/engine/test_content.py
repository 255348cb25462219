"""The built-in education library parses, is complete and keeps its promises."""

from __future__ import annotations

from pathlib import Path

import pytest

from carepath.delivery.rendering import SAMPLE_FACTS, render_item
from carepath.engine.content import (
    CONDITION_KEYS,
    ContentItem,
    content_kind,
    load_content_library,
    parse_content_item,
)
from carepath.errors import CompileError

PATHWAY_KEYS = {
    "gdm-high-fasting",
    "ogtt-reminder",
    "postpartum-ogtt",
    "anc-next-contact",
    "danger-signs",
    "nutrition-gdm",
    "nutrition-anaemia",
    "nutrition-weight-gain",
    "course-recap",
    "postpartum-care",
    "newborn-screening",
}


@pytest.fixture(scope="module")
def library() -> dict[str, ContentItem]:
    return load_content_library()


@pytest.mark.parametrize("week", range(4, 42))
def test_every_week_from_4_to_41_has_its_lesson(library: dict[str, ContentItem], week: int) -> None:
    item = library[f"week-{week:02d}"]
    assert item.kind == "weekly"
    assert list(item.audience["weeks"]) == [week, week]
    assert f"孕{week}周" in item.title


def test_there_are_no_weekly_lessons_outside_4_to_41(library: dict[str, ContentItem]) -> None:
    weeks = sorted(int(key[5:]) for key, item in library.items() if item.kind == "weekly")
    assert weeks == list(range(4, 42))


def test_each_of_the_seven_visits_has_an_item(library: dict[str, ContentItem]) -> None:
    assert {key for key in library if content_kind(key) == "visit"} == {f"visit-{n}" for n in range(1, 8)}


@pytest.mark.parametrize("condition", CONDITION_KEYS)
def test_each_condition_has_an_item_and_a_welcome(library: dict[str, ContentItem], condition: str) -> None:
    assert library[condition].kind == "condition"
    assert library[condition].sensitive
    assert library[f"{condition}-welcome"].audience["conditions"] == (condition,)


def test_the_keys_pathways_push_exist(library: dict[str, ContentItem]) -> None:
    assert set(library) >= PATHWAY_KEYS


def test_nothing_claims_a_clinical_review(library: dict[str, ContentItem]) -> None:
    assert {item.review_status for item in library.values()} == {"draft"}
    assert not any("by" in item.review for item in library.values())


def test_every_item_renders_with_sample_facts(library: dict[str, ContentItem]) -> None:
    for item in library.values():
        rendered = render_item(item, SAMPLE_FACTS)
        assert "{{" not in rendered.summary + rendered.body, item.key


def test_summary_greets_her_by_first_name_only(library: dict[str, ContentItem]) -> None:
    rendered = render_item(library["week-24"], {**SAMPLE_FACTS, "diagnosis": "O24.4"})
    assert rendered.summary.startswith("小雨，")
    assert "O24.4" not in rendered.body


def test_parse_reports_the_line_of_a_bad_field(tmp_path: Path) -> None:
    text = "---\nkey: Week 4\ntitle: 孕4周\n---\n正文\n"
    with pytest.raises(CompileError) as caught:
        parse_content_item(text, tmp_path / "week-04.md")
    lines = {(p.code, p.location.line) for p in caught.value.problems}
    assert ("content-schema", 2) in lines  # the bad key
    assert ("content-schema", 1) in lines  # the missing fields


def test_links_are_found_with_their_line_and_column(library: dict[str, ContentItem]) -> None:
    item = library["visit-1"]
    targets = [target for target, _, _ in item.links]
    assert targets == ["visit-2"]
    _, line, column = item.links[0]
    assert item.path.endswith("visit-1.md")
    source_line = Path(item.path).read_text(encoding="utf-8").splitlines()[line - 1]
    assert source_line[column - 1 :].startswith("visit-2)")


def test_load_reports_every_broken_file_of_a_directory(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text("no front matter\n", encoding="utf-8")
    (tmp_path / "b.md").write_bytes(b"\xff\xfe")
    with pytest.raises(CompileError) as caught:
        load_content_library(tmp_path)
    assert sorted(p.code for p in caught.value.problems) == ["bad-encoding", "missing-front-matter"]


def test_parsed_items_are_read_only(library: dict[str, ContentItem]) -> None:
    item = library["week-24"]
    with pytest.raises(TypeError):
        item.audience["weeks"] = (1, 2)  # type: ignore[index]
    assert item.audience["weeks"] == (24, 24)
