"""The pure lint rules, checked without the CLI."""

from __future__ import annotations

from pathlib import Path

from carepath.engine.content import parse_content_item
from carepath.engine.content_lint import (
    Vocabulary,
    check_item,
    lint_paths,
    load_tag_vocabulary,
    load_vocabulary,
)

ITEM = """\
---
key: topic-x
title: 小课堂
summary: {summary}
audience: {{all: true}}
sensitive: false
sources: [CMA2018]
review: {{status: draft}}
---
正文。
"""


def codes(summary: str, words: Vocabulary, titles: tuple[str, ...] = ()) -> list[str]:
    item = parse_content_item(ITEM.format(summary=summary), Path("topic-x.md"))
    return [p.code for p in check_item(item, set(), words, titles)]


def test_condition_titles_count_as_sensitive_words_in_a_summary() -> None:
    words = Vocabulary(terms={}, sources=frozenset({"CMA2018"}))
    assert codes("新生儿黄疸课程", words) == []
    assert codes("新生儿黄疸课程", words, titles=("新生儿黄疸",)) == ["sensitive-summary"]


def test_neutral_summary_passes_the_shipped_vocabulary() -> None:
    assert codes("您有一篇新的健康课程，点开看看吧。", load_vocabulary()) == []


def test_shipped_vocabulary_knows_the_sources_of_domain_md() -> None:
    sources = load_vocabulary().sources
    assert {"CMA2018", "WST801", "CN-IDA", "DAK"} <= sources
    assert "MADE-UP" not in sources


def test_review_counts_cover_items_and_forms() -> None:
    report = lint_paths()
    counts = report.review_counts()
    assert counts["draft"] == len(report.items) + len(report.forms)
    assert counts["approved"] == 0
    assert report.errors == []


def test_form_tags_must_be_in_the_tag_vocabulary() -> None:
    report = lint_paths(tags=frozenset({"瘢痕子宫"}))
    unknown = {p.message.split("'")[1] for p in report.problems if p.code == "unknown-tag"}
    assert "辅助生殖" in unknown
    assert "瘢痕子宫" not in unknown


def test_registration_screen_tags_are_in_the_lead_vocabulary() -> None:
    vocabulary = frozenset(
        {
            "瘢痕子宫",
            "多胎妊娠",
            "贫血",
            "辅助生殖",
            "不良孕产史",
            "子宫肌瘤",
            "甲状腺疾病",
            "早产风险",
            # issue 17 item 4: the screen's history answers act (carepath/pathways/tags.yaml)
            "心脏病",
            "孕前糖尿病",
            "慢性高血压",
            "子痫前期史",
        }
    )
    report = lint_paths(tags=vocabulary)
    assert [p for p in report.problems if p.code == "unknown-tag"] == []


def test_tag_vocabulary_file_is_read_in_the_pathways_format(tmp_path: Path) -> None:
    path = tmp_path / "tags.yaml"
    path.write_text("tags:\n  - {tag: 瘢痕子宫, en: scarred uterus}\n  - 贫血\n", encoding="utf-8")
    assert load_tag_vocabulary(path) == {"瘢痕子宫", "贫血"}
    assert load_tag_vocabulary(tmp_path / "none.yaml") is None


def test_lint_text_checks_an_editor_buffer_like_a_file() -> None:
    from carepath.engine.content_lint import lint_text

    root = Path(__file__).resolve().parents[2]
    item = (root / "carepath" / "content" / "anaemia.md").read_text(encoding="utf-8")
    assert lint_text(item, "anaemia.md", "content") == []
    flagged = lint_text(item.replace("您有一篇新的健康课程", "您的贫血"), "anaemia.md", "content")
    assert [p.code for p in flagged] == ["sensitive-summary"]
    assert [p.code for p in lint_text(item, "other.md", "content")] == ["key-mismatch"]
    form = (root / "carepath" / "forms" / "epds.yaml").read_text(encoding="utf-8")
    assert lint_text(form, "epds.yaml", "form") == []
    assert [p.code for p in lint_text(form, "other.yaml", "form")] == ["form-id-mismatch"]
    assert [p.code for p in lint_text("a: [\n", "x.yaml", "form")] == ["yaml-syntax"]
