"""Diagnostics in the reader's language: the CLI's line (English by default, Chinese on
request) and the editor's diagnostics in Chinese, from the staff UI's catalogue."""

from __future__ import annotations

import pytest

from carepath.engine.compiler import compile_text
from carepath.webapi.common.diagnostics_text import format_problem, translator
from carepath.webapi.staff.editor.diagnostics import diagnose
from tests.conftest import ROOT

CHOLESTASIS = (ROOT / "carepath" / "pathways" / "cholestasis.yaml").read_text(encoding="utf-8")


def test_the_cli_line_is_english_by_default_and_chinese_with_lang_zh() -> None:
    bad = CHOLESTASIS.replace("from: {enrolled: 2w}", "from: {enrolled: 2dx}")
    [problem] = compile_text(bad, "cholestasis.yaml").problems
    assert format_problem(problem) == format_problem(problem, "en") == str(problem)
    assert str(problem).endswith(
        "bad-duration: the text '2dx' is not valid; write a number and a unit: '0d', '6w'"
    )
    located = str(problem).split(" bad-duration: ")[0]
    assert (
        format_problem(problem, "zh")
        == f"{located} bad-duration: 文本 '2dx' 的写法不对；写数字加单位：'0d'、'6w'"
    )
    with pytest.raises(ValueError, match="unknown language"):
        format_problem(problem, "fr")


def test_a_warning_is_marked_in_the_readers_language() -> None:
    text = CHOLESTASIS.replace("icd10: O26.6", "icd10: O27", 1)
    warnings = [p for p in compile_text(text, "c.yaml").problems if p.severity == "warning"]
    assert warnings, "an ICD-10 code the catalogue lacks is a warning"
    assert ": warning: " in format_problem(warnings[0]) and ": 警告：" in format_problem(warnings[0], "zh")
    assert "ICD-10 目录" in format_problem(warnings[0], "zh")


def test_the_editor_diagnostics_speak_chinese_with_the_suggestion_as_the_hint() -> None:
    text = CHOLESTASIS.replace("    every:", "    evry:", 1)
    [english] = [d for d in diagnose("pathway", text) if d["code"] == "unknown-key"]
    [chinese] = [
        d for d in diagnose("pathway", text, translate=translator("zh")) if d["code"] == "unknown-key"
    ]
    assert english["hint"] == "did you mean 'every'?"
    assert chinese["hint"] == "是不是要写 'every'？"
    assert chinese["message"].startswith("未知的键 'evry'") and "是不是" not in chinese["message"]
    assert (chinese["line"], chinese["col"]) == (english["line"], english["col"])
    [syntax] = diagnose("pathway", "pathway: [\n", translate=translator("zh"))
    assert syntax["code"] == "yaml-syntax" and syntax["message"].startswith("YAML 写法有误")
    assert syntax["hint"] and "缩进" in syntax["hint"]
