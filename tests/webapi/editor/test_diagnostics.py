"""The editor's diagnostics: the real compiler and content lint, located for underlining."""

from __future__ import annotations

from pathlib import Path
from typing import NoReturn

import pytest

from carepath.webapi.staff.editor.diagnostics import MAX_BYTES, diagnose
from tests.webapi.editor.long_pathway import last_from_line, long_pathway

ROOT = Path(__file__).resolve().parents[3]
CHOLESTASIS = (ROOT / "carepath" / "pathways" / "cholestasis.yaml").read_text(encoding="utf-8")
ANAEMIA = (ROOT / "carepath" / "content" / "anaemia.md").read_text(encoding="utf-8")
EPDS = (ROOT / "carepath" / "forms" / "epds.yaml").read_text(encoding="utf-8")


def line_of(text: str, needle: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), 1) if needle in line)


def test_the_shipped_files_have_no_diagnostics() -> None:
    assert diagnose("pathway", CHOLESTASIS, "cholestasis.yaml") == []
    assert diagnose("content", ANAEMIA, "anaemia.md") == []
    assert diagnose("form", EPDS, "epds.yaml") == []


def test_a_bad_duration_is_located_on_its_token() -> None:
    text = CHOLESTASIS.replace("from: {enrolled: 2w}", "from: {enrolled: 2x}")
    [found] = diagnose("pathway", text)
    line = line_of(text, "enrolled: 2x")
    col = text.splitlines()[line - 1].index("2x") + 1
    assert (found["line"], found["col"], found["end_line"], found["end_col"]) == (line, col, line, col + 2)
    assert found["code"] == "bad-duration"
    assert found["severity"] == "error"
    assert "'2x'" in found["message"]


def test_a_misspelt_key_gets_the_suggestion_as_its_hint() -> None:
    text = CHOLESTASIS.replace("    every:", "    evry:", 1)
    found = [d for d in diagnose("pathway", text) if d["code"] == "unknown-key"]
    assert found[0]["hint"] == "did you mean 'every'?"
    assert "did you mean" not in found[0]["message"]
    assert found[0]["line"] == line_of(text, "evry:")


def test_broken_indentation_is_a_located_yaml_syntax_error() -> None:
    lines = CHOLESTASIS.splitlines()
    rule = next(n for n, line in enumerate(lines) if line.startswith("  - id:") and n > 20)
    lines[rule] = " " + lines[rule]
    [found] = diagnose("pathway", "\n".join(lines) + "\n")
    assert found["code"] == "yaml-syntax"
    assert rule + 1 <= found["line"] <= rule + 2
    assert found["hint"] and "indentation" in found["hint"]


def test_an_invalid_yaml_end_gives_a_visible_range() -> None:
    [found] = diagnose("pathway", "pathway: [\n")
    assert found["code"] == "yaml-syntax"
    assert found["end_col"] >= found["col"]


def test_a_paste_over_the_loader_limit_is_one_diagnostic_not_a_parse(monkeypatch: pytest.MonkeyPatch) -> None:
    from carepath.webapi.staff.editor import diagnostics

    def never(*args: object, **kwargs: object) -> NoReturn:
        raise AssertionError("a buffer over the limit was handed to a checker")

    monkeypatch.setattr(diagnostics, "compile_text", never)
    monkeypatch.setattr(diagnostics, "lint_text", never)
    [found] = diagnose("pathway", "x" * (MAX_BYTES + 1))
    assert found["code"] == "file-too-large"
    assert (found["line"], found["col"]) == (1, 1)
    assert diagnose("content", "中" * (MAX_BYTES // 3 + 1))[0]["code"] == "file-too-large"


def test_a_missing_top_level_key_is_placed_on_the_text_not_past_its_end() -> None:
    found = diagnose("pathway", "pathway: p\ntitle: t\n\n\n\n")
    assert [(d["code"], d["line"]) for d in found] == [("missing-key", 1)]


def test_a_sensitive_summary_is_flagged_on_its_line() -> None:
    text = ANAEMIA.replace("您有一篇新的健康课程", "您的贫血复查结果")
    found = [d for d in diagnose("content", text, "anaemia.md") if d["code"] == "sensitive-summary"]
    assert [d["line"] for d in found] == [line_of(text, "summary:")]


def test_content_front_matter_and_template_errors_are_located() -> None:
    bad_type = ANAEMIA.replace("sensitive: true", "sensitive: maybe")
    assert [(d["code"], d["line"]) for d in diagnose("content", bad_type)] == [
        ("content-schema", line_of(bad_type, "sensitive:"))
    ]
    bad_template = ANAEMIA.replace("## 这是什么", "## 这是什么\n{{ first_name ")
    found = diagnose("content", bad_template, "anaemia.md")
    assert [d["code"] for d in found] == ["bad-template"]
    assert diagnose("content", "没有前言")[0]["code"] == "missing-front-matter"


def test_the_file_name_checks_run_only_for_a_named_buffer() -> None:
    assert [d["code"] for d in diagnose("content", ANAEMIA, "other.md")] == ["key-mismatch"]
    assert diagnose("content", ANAEMIA) == []
    assert [d["code"] for d in diagnose("form", EPDS, "other.yaml")] == ["form-id-mismatch"]


def test_form_schema_and_rule_errors_are_reported() -> None:
    assert [d["code"] for d in diagnose("form", EPDS.replace("kind: ", "knd: ", 1))] == [
        "form-schema",
        "form-schema",
    ]
    unknown_tag = EPDS.replace("review: {status: draft}", "review: {status: draftt}")
    assert any(d["code"] == "form-schema" for d in diagnose("form", unknown_tag))


def test_a_300_line_pathway_is_checked_whole_and_its_one_error_located() -> None:
    """The buffer the editor sends on every keystroke (its time: ``make bench``, bench/editor.py)."""
    text = long_pathway(300)
    assert text.count("\n") >= 300
    assert last_from_line(text) > 290
    assert diagnose("pathway", text) == []
    broken = text.replace("from: {gestational_age", "from: {gestational_agee", 1)
    [found] = diagnose("pathway", broken)
    assert found["code"] == "unknown-key"
    assert found["line"] == next(
        n for n, line in enumerate(broken.splitlines(), 1) if "gestational_agee" in line
    )
