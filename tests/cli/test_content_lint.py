"""`carepath content lint` reports every problem as PATH:LINE:COL: CODE and exits 0, 1 or 2."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from carepath.cli import cli

GOOD_ITEM = """\
---
key: {key}
title: 孕24周
summary: "{{{{ first_name }}}}，您本周的健康小课堂已更新，点开看看吧。"
audience: {{weeks: [24, 24]}}
sensitive: false
sources: [CMA2018]
review: {{status: draft}}
---
## 宝宝这一周

宝宝在继续长大。

## 妈妈这一周

你现在是孕{{{{ gestational_age }}}}。

## 这周可以做的事

- 按时产检，看看[第3次产检](content:visit-3)。
"""


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["content", "lint", *args])
    assert result.exception is None or isinstance(result.exception, SystemExit)
    return result.exit_code, result.output


def plant(tmp_path: Path, text: str, name: str = "week-24.md") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_builtin_library_lints_clean() -> None:
    code, output = run()
    assert code == 0, output
    assert "0 errors" in output


def test_review_summary_counts_drafts() -> None:
    _, output = run()
    assert "approved" in output
    assert " 0 approved" in output


def test_good_planted_item_passes(tmp_path: Path) -> None:
    path = plant(tmp_path, GOOD_ITEM.format(key="week-24"))
    code, output = run(str(path))
    assert code == 0, output


def test_summary_naming_a_condition_is_a_sensitive_summary_error(tmp_path: Path) -> None:
    text = GOOD_ITEM.format(key="week-24").replace(
        "您本周的健康小课堂已更新", "请记录今天的血糖，控制妊娠期糖尿病"
    )
    path = plant(tmp_path, text)
    code, output = run(str(path))
    assert code == 1
    assert f"{path}:4:1: sensitive-summary:" in output
    assert "血糖" in output
    assert "糖尿病" in output


def test_summary_naming_a_drug_is_a_sensitive_summary_error(tmp_path: Path) -> None:
    text = GOOD_ITEM.format(key="week-24").replace("您本周的健康小课堂已更新", "记得吃胰岛素")
    code, output = run(str(plant(tmp_path, text)))
    assert code == 1
    assert "sensitive-summary" in output


def test_template_naming_an_unsafe_fact_fails_lint(tmp_path: Path) -> None:
    text = GOOD_ITEM.format(key="week-24").replace("宝宝在继续长大。", "宝宝在继续长大。\n\n{{ diagnosis }}")
    path = plant(tmp_path, text)
    code, output = run(str(path))
    assert code == 1
    assert f"{path}:14:1: bad-template: body: 'diagnosis' is not a safe fact" in output


def test_template_with_a_syntax_error_fails_lint_at_its_line(tmp_path: Path) -> None:
    text = GOOD_ITEM.format(key="week-24").replace("你现在是孕", "你现在是孕{% if %}")
    path = plant(tmp_path, text)
    code, output = run(str(path))
    assert code == 1
    assert f"{path}:16:1: bad-template: body: template syntax" in output


def test_template_failing_only_at_render_time_fails_lint(tmp_path: Path) -> None:
    text = GOOD_ITEM.format(key="week-24").replace(
        "宝宝在继续长大。", "宝宝在继续长大。{{ gestational_week / 0 }}"
    )
    code, output = run(str(plant(tmp_path, text)))
    assert code == 1
    assert "bad-template: body: render: division by zero" in output


def test_missing_required_section_is_reported(tmp_path: Path) -> None:
    text = GOOD_ITEM.format(key="week-24").replace("## 妈妈这一周", "## 妈妈")
    path = plant(tmp_path, text)
    code, output = run(str(path))
    assert code == 1
    assert f"{path}:10:1: missing-section: weekly items need '## 妈妈这一周'" in output


def test_link_to_an_unknown_item_is_a_broken_link(tmp_path: Path) -> None:
    text = GOOD_ITEM.format(key="week-24").replace("content:visit-3", "content:visit-99")
    path = plant(tmp_path, text)
    code, output = run(str(path))
    assert code == 1
    assert f"{path}:20:" in output
    assert "broken-link: no content item 'visit-99'" in output


def test_invented_source_is_reported(tmp_path: Path) -> None:
    text = GOOD_ITEM.format(key="week-24").replace("[CMA2018]", "[CMA2018, MY-BLOG]")
    code, output = run(str(plant(tmp_path, text)))
    assert code == 1
    assert "unknown-source: 'MY-BLOG'" in output


def test_key_different_from_file_name_is_reported(tmp_path: Path) -> None:
    code, output = run(str(plant(tmp_path, GOOD_ITEM.format(key="week-25"))))
    assert code == 1
    assert "key-mismatch" in output
    assert "audience-mismatch" in output


def test_body_naming_a_drug_must_be_marked_sensitive(tmp_path: Path) -> None:
    text = GOOD_ITEM.format(key="week-24").replace("宝宝在继续长大。", "按医嘱服用铁剂。")
    code, output = run(str(plant(tmp_path, text)))
    assert code == 1
    assert "sensitive-unmarked" in output


def test_bad_yaml_front_matter_is_located_not_a_traceback(tmp_path: Path) -> None:
    text = GOOD_ITEM.format(key="week-24").replace("sensitive: false", "sensitive: [false")
    path = plant(tmp_path, text)
    code, output = run(str(path))
    assert code == 1
    assert f"{path}:" in output
    assert "bad-front-matter" in output
    assert "Traceback" not in output


def test_file_without_front_matter_is_reported(tmp_path: Path) -> None:
    code, output = run(str(plant(tmp_path, "## 只有正文\n")))
    assert code == 1
    assert "missing-front-matter" in output


def test_non_utf8_file_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "week-24.md"
    path.write_bytes("---\ntitle: 孕周\n".encode("gbk"))
    code, output = run(str(path))
    assert code == 1
    assert f"{path}:1:1: bad-encoding" in output


def test_missing_file_is_reported(tmp_path: Path) -> None:
    code, output = run(str(tmp_path / "nope.md"))
    assert code == 1
    assert "missing-file" in output


def test_schema_error_in_front_matter_names_the_field_line(tmp_path: Path) -> None:
    text = GOOD_ITEM.format(key="week-24").replace("sensitive: false", "sensitive: maybe")
    path = plant(tmp_path, text)
    code, output = run(str(path))
    assert code == 1
    assert f"{path}:6:1: content-schema: sensitive:" in output


def test_broken_form_in_a_directory_is_reported(tmp_path: Path) -> None:
    plant(tmp_path, "form: x\ntitle: [\n", "x.yaml")
    code, output = run(str(tmp_path))
    assert code == 1
    assert "yaml-syntax" in output


@pytest.mark.parametrize("option", ["--no-such-option"])
def test_usage_error_exits_2(option: str) -> None:
    code, _ = run(option)
    assert code == 2


def test_summary_revealing_pregnancy_is_a_sensitive_summary_error(tmp_path: Path) -> None:
    text = GOOD_ITEM.format(key="week-24").replace("您本周的健康小课堂", "孕24周小课堂")
    code, output = run(str(plant(tmp_path, text)))
    assert code == 1
    assert "sensitive-summary" in output


FORM = """\
form: mood
title: 问卷
summary: "{summary}"
kind: questionnaire
review: {{status: draft}}
items:
  - id: q1
    label: 今天心情好吗
    type: single
    required: true
    choices:
      - {{value: a, label: 好}}
      - {{value: b, label: 不好}}
"""


def test_form_summary_naming_a_condition_is_a_sensitive_summary_error(tmp_path: Path) -> None:
    path = plant(tmp_path, FORM.format(summary="请填写抑郁量表"), "mood.yaml")
    code, output = run(str(path))
    assert code == 1
    assert f"{path}:3:1: sensitive-summary:" in output


def test_form_summary_with_a_broken_template_fails_lint(tmp_path: Path) -> None:
    path = plant(tmp_path, FORM.format(summary="{{ first_name "), "mood.yaml")
    code, output = run(str(path))
    assert code == 1
    assert f"{path}:3:1: bad-template: summary: template syntax" in output


def test_form_id_different_from_file_name_is_reported(tmp_path: Path) -> None:
    path = plant(tmp_path, FORM.format(summary="您有一份问卷待填写"), "other.yaml")
    code, output = run(str(path))
    assert code == 1
    assert "form-id-mismatch" in output


def test_review_option_lists_each_file_with_its_status(tmp_path: Path) -> None:
    item = plant(tmp_path, GOOD_ITEM.format(key="week-24"))
    code, output = run("--review", str(item))
    assert code == 0, output
    assert f"{item}: review: draft" in output


@pytest.mark.parametrize("word", ["恭喜", "祝贺"])
def test_congratulating_item_must_be_marked_celebrates(tmp_path: Path, word: str) -> None:
    """A lost baby withdraws celebrating content: an unmarked congratulation would be missed."""
    text = GOOD_ITEM.format(key="week-24").replace("宝宝在继续长大。", f"{word}，宝宝在继续长大。")
    path = plant(tmp_path, text)
    code, output = run(str(path))
    assert code == 1
    assert (
        f"{path}:12:1: celebrates-unmarked: the text congratulates her ({word}); set celebrates: true"
        in output
    )
    marked = text.replace("sensitive: false\n", "sensitive: false\ncelebrates: true\n")
    code, output = run(str(plant(tmp_path, marked)))
    assert code == 0, output


def test_the_shipped_congratulations_are_marked() -> None:
    from carepath.engine.content import load_content_library

    marked = {key for key, item in load_content_library().items() if item.celebrates}
    assert marked == {"postpartum-care", "week-37"}
