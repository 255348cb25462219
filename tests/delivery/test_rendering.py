"""Templates render in a sandbox with only her safe facts; failures are found, not raised."""

from __future__ import annotations

import datetime as dt

import pytest
from jinja2.exceptions import SecurityError

from carepath.delivery.rendering import (
    SAMPLE_FACTS,
    build_safe_facts,
    check_template,
    render_text,
    safe_facts,
)


def test_html_rendering_escapes_her_facts() -> None:
    facts = {"first_name": "<b>x</b>"}
    assert render_text("{{ first_name }}", facts, html=True) == "&lt;b&gt;x&lt;/b&gt;"
    assert render_text("{{ first_name }}", facts) == "<b>x</b>"


def test_dates_render_in_chinese() -> None:
    assert render_text("{{ edd | cn_date }}", SAMPLE_FACTS) == "2026年10月12日"


def test_facts_outside_the_safe_list_never_reach_a_template() -> None:
    assert safe_facts({"first_name": "小雨", "icd10": {"O24.4"}}) == {"first_name": "小雨"}


def test_template_reaching_outside_the_sandbox_fails_the_check() -> None:
    problems = check_template("{{ first_name.__class__.__mro__ }}")
    assert problems
    assert "render" in problems[0].message


def test_unknown_fact_in_a_template_is_named_with_its_line() -> None:
    problems = check_template("第一行\n{{ icd10 }}")
    assert [(p.line, "icd10" in p.message) for p in problems] == [(2, True)]


def test_render_error_reports_the_template_line() -> None:
    problems = check_template("一\n二\n{{ gestational_week / 0 }}")
    assert [p.line for p in problems] == [3]


def test_clean_template_has_no_problems() -> None:
    assert check_template("{{ first_name }}，孕{{ gestational_age }}") == []


def test_safe_facts_are_built_from_gestational_days() -> None:
    facts = build_safe_facts(first_name="小雨", today=dt.date(2026, 6, 20), gestational_days=171)
    assert (facts["gestational_age"], facts["gestational_week"]) == ("24+3", 24)
    assert "edd" not in facts


def test_a_template_compiled_once_renders_each_womans_own_facts_and_stays_sandboxed() -> None:
    template = "{{ first_name }}，您孕{{ gestational_week }}周了"
    assert render_text(template, {"first_name": "小雨", "gestational_week": 20}) == "小雨，您孕20周了"
    assert render_text(template, {"first_name": "小雪", "gestational_week": 31}) == "小雪，您孕31周了"
    escape = "{{ first_name.__class__.__mro__ }}"
    for _ in range(2):  # compiled once, refused on every render
        with pytest.raises(SecurityError):
            render_text(escape, {"first_name": "小雨"})
