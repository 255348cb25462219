"""The pure lint rules, checked without the CLI."""

from __future__ import annotations

from pathlib import Path

from carepath.engine.content import parse_content_item
from carepath.engine.content_lint import Vocabulary, check_item, lint_paths, load_vocabulary

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
