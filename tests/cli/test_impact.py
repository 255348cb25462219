"""`carepath pathway impact`: the cohort impact for analysts, from two library directories."""

import json

import pytest
from click.testing import CliRunner

from carepath.cli import cli

OGTT = """
pathway: ogtt-reminder
title: OGTT 提醒
rules:
  - id: ogtt
    at: {gestational_age: "24+0"}
    do: [{remind: {content: visit-4}}]
"""


@pytest.fixture
def libraries(tmp_path):
    base, candidate = tmp_path / "base", tmp_path / "candidate"
    base.mkdir()
    candidate.mkdir()
    (base / "ogtt.yaml").write_text(OGTT, encoding="utf-8")
    (candidate / "ogtt.yaml").write_text(OGTT.replace('"24+0"', '"26+0"'), encoding="utf-8")
    return str(base), str(candidate)


def invoke(*args):
    return CliRunner().invoke(cli, ["pathway", "impact", *args], catch_exceptions=False)


def test_json_report_of_a_two_week_move_from_a_cohort_csv(libraries, tmp_path):
    base, candidate = libraries
    cohort = tmp_path / "cohort.csv"
    cohort.write_text(
        "id,lmp,enrolled_at\n"
        "at-20w,2026-04-14,2026-08-01T09:00:00+08:00\n"  # 20+0 on 2026-09-01: the reminder moves
        "at-10w,2026-06-23,2026-08-20T09:00:00+08:00\n",  # 10+0: nothing in the next 8 weeks
        encoding="utf-8",
    )
    result = invoke(
        "--base",
        base,
        "--candidate",
        candidate,
        "--cohort",
        str(cohort),
        "--now",
        "2026-09-01",
        "--format",
        "json",
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["patients"] == 2 and report["changed_pathways"] == ["ogtt-reminder"]
    assert report["pin"]["affected"] == []
    [row] = report["migrate"]["by_action"]
    assert (row["rule"], row["patients_moved"], row["patients_gaining"], row["patients_losing"]) == (
        "ogtt",
        1,
        0,
        0,
    )
    assert report["migrate"]["affected"] == ["at-20w"]


def test_table_report_for_a_synthetic_cohort(libraries):
    base, candidate = libraries
    result = invoke(
        "--base", base, "--candidate", candidate, "--synthetic", "300", "--now", "2026-09-01", "--jobs", "2"
    )
    assert result.exit_code == 0, result.output
    assert "pregnancies in care on 2026-09-01" in result.stdout
    assert "migrate: enrolled women migrate" in result.stdout and "ogtt" in result.stdout
    assert "messages per patient-week" in result.stdout


def test_same_library_twice_changes_nothing(libraries):
    base, _ = libraries
    result = invoke(
        "--base", base, "--candidate", base, "--synthetic", "50", "--now", "2026-09-01", "--format", "json"
    )
    report = json.loads(result.stdout)
    assert report["changed_pathways"] == [] and report["migrate"]["affected_patients"] == 0


def test_a_candidate_that_does_not_compile_is_reported_located(libraries, tmp_path):
    base, candidate = libraries
    (tmp_path / "candidate" / "ogtt.yaml").write_text(OGTT.replace('"24+0"', '"24+9"'), encoding="utf-8")
    result = CliRunner().invoke(
        cli, ["pathway", "impact", "--base", base, "--candidate", candidate, "--synthetic", "5"]
    )
    assert result.exit_code == 1
    assert "ogtt.yaml:" in result.stderr and "bad-gestational-age" in result.stderr
    assert "Traceback" not in result.output


def test_a_bad_cohort_row_is_reported_by_line(libraries, tmp_path):
    base, candidate = libraries
    cohort = tmp_path / "cohort.csv"
    cohort.write_text("id,lmp,enrolled_at\nc1,2026-02-30,2026-03-20T10:00:00+08:00\n", encoding="utf-8")
    result = CliRunner().invoke(
        cli, ["pathway", "impact", "--base", base, "--candidate", candidate, "--cohort", str(cohort)]
    )
    assert result.exit_code == 1 and f"{cohort}:2:1: bad-date" in result.stderr


def test_exactly_one_cohort_is_needed(libraries):
    base, candidate = libraries
    result = CliRunner().invoke(cli, ["pathway", "impact", "--base", base, "--candidate", candidate])
    assert result.exit_code == 2 and "exactly one of --cohort or --synthetic" in result.output
