"""``carepath dating``: output shape, precedence on the command line, and error translation."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest
from click.testing import CliRunner, Result

from carepath.cli import cli

IVF_DAY_5 = ("--transfer", "2025-03-10", "--embryo-day", "5")


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, ["dating", *args])


def run_json(*args: str) -> dict[str, Any]:
    result = run(*args, "--format", "json")
    assert result.exit_code == 0, result.output
    report: dict[str, Any] = json.loads(result.stdout)
    return report


def test_lmp_json_has_the_contract_keys() -> None:
    report = run_json("--lmp", "2025-01-01", "--on", "2025-06-20")
    assert report["edd"] == "2025-10-08"
    assert report["gestational_age"] == "24+2"
    assert report["method"] == "lmp"
    assert report["trimester"] == 2
    assert report["gestational_days"] == 170
    assert report["redated"] is False


def test_day_5_transfer_json() -> None:
    report = run_json("--transfer", "2025-03-10", "--embryo-day", "5", "--on", "2025-11-26")
    assert (report["edd"], report["method"], report["gestational_age"]) == (
        "2025-11-26", "ivf", "40+0",
    )  # fmt: skip


def test_35_day_cycle_moves_edd_a_week() -> None:
    assert run_json("--lmp", "2025-01-01", "--cycle", "35", "--on", "2025-06-20")["edd"] == ("2025-10-15")


def test_discordant_early_scan_redates_to_ultrasound() -> None:
    # 2025-03-01 is 8+3 by LMP; 9+2 is 6 days more, beyond the 5-day limit.
    report = run_json(
        "--lmp", "2025-01-01", "--us-date", "2025-03-01", "--us-ga", "9+2", "--on", "2025-03-01"
    )
    assert report["method"] == "ultrasound"
    assert report["redated"] is True
    assert report["edd"] == "2025-10-02"
    assert report["gestational_age"] == "9+2"
    assert report["difference_days"] == 6
    assert report["acog_band"] == {"ga_by_lmp": "≤8+6", "limit_days": 5}


def test_scan_within_limit_keeps_lmp() -> None:
    report = run_json(
        "--lmp", "2025-01-01", "--us-date", "2025-03-01", "--us-ga", "9+1", "--on", "2025-03-01"
    )
    assert (report["method"], report["redated"], report["edd"]) == ("lmp", False, "2025-10-08")


def test_ultrasound_alone() -> None:
    report = run_json("--us-date", "2025-03-01", "--us-ga", "8+2", "--on", "2025-03-01")
    assert (report["method"], report["gestational_age"]) == ("ultrasound", "8+2")


def test_documented_edd() -> None:
    report = run_json("--edd", "2025-10-08", "--on", "2025-10-08")
    assert (report["method"], report["gestational_age"], report["trimester"]) == ("edd", "40+0", 3)


def test_on_defaults_to_today() -> None:
    today = date.today()
    report = run_json("--edd", today.isoformat())
    assert report["on"] == today.isoformat()
    assert report["gestational_age"] == "40+0"


def test_text_output_names_edd_method_and_ga() -> None:
    result = run("--lmp", "2025-01-01", "--on", "2025-06-20")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0] == "EDD 预产期 2025-10-08 (LMP, Naegele)"
    assert lines[1] == "GA 孕周 24+2 on 2025-06-20, trimester 2"


def test_text_output_says_when_redated() -> None:
    result = run("--lmp", "2025-01-01", "--us-date", "2025-03-01", "--us-ga", "7+1")
    assert result.exit_code == 0
    assert "(ultrasound, redated from LMP)" in result.stdout
    assert "-9 d" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "give a dating"),
        (("--us-date", "2025-03-01"), "--us-date and --us-ga go together"),
        (("--us-ga", "8+2"), "--us-date and --us-ga go together"),
        (("--lmp", "2025-01-01", "--us-ga", "8+2"), "--us-date and --us-ga go together"),
        (("--transfer", "2025-03-10"), "--transfer and --embryo-day go together"),
        (("--embryo-day", "5"), "--transfer and --embryo-day go together"),
        ((*IVF_DAY_5, "--lmp", "2025-01-01"), "IVF"),
        ((*IVF_DAY_5, "--us-date", "2025-05-01", "--us-ga", "9+0"), "IVF"),
        (("--edd", "2025-10-08", "--lmp", "2025-01-01"), "--edd is a dating by itself"),
        (("--cycle", "30"), "--cycle adjusts an LMP"),
        (("--on", "2025-06-20"), "give a dating"),
    ],
)
def test_invalid_combinations_are_usage_errors(args: tuple[str, ...], message: str) -> None:
    result = run(*args)
    assert result.exit_code == 2
    assert message in result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit)


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--lmp", "2026-02-30", "not a calendar date"),
        ("--edd", "2025-13-01", "not a calendar date"),
        ("--on", "2025-02-29", "not a calendar date"),
        ("--lmp", "01/01/2025", "write YYYY-MM-DD"),
        ("--lmp", "20250101", "write YYYY-MM-DD"),
    ],
)
def test_impossible_dates_are_usage_errors_without_traceback(option: str, value: str, message: str) -> None:
    args = ("--lmp", "2025-01-01") if option == "--on" else ()
    result = run(*args, option, value)
    assert result.exit_code == 2
    assert message in result.stderr and value in result.stderr
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (("--transfer", "2025-03-10", "--embryo-day", "4"), "bad-embryo-day"),
        (("--us-date", "2025-03-01", "--us-ga", "45+9"), "bad-gestational-age"),
        (("--us-date", "2025-03-01", "--us-ga", "eight weeks"), "bad-gestational-age"),
        (("--lmp", "2025-01-01", "--cycle", "50"), "bad-cycle-length"),
        (("--lmp", "2025-03-01", "--us-date", "2025-02-01", "--us-ga", "8+0"), "bad-scan-date"),
    ],
)
def test_dating_errors_print_code_and_exit_1(args: tuple[str, ...], code: str) -> None:
    result = run(*args)
    assert result.exit_code == 1
    assert result.stderr.startswith(f"error: {code}: ")
    assert result.stdout == ""


def test_a_ga_past_44_weeks_is_printed_with_a_warning_that_she_has_likely_delivered() -> None:
    result = run("--lmp", "2024-05-01", "--on", "2026-12-07")
    assert result.exit_code == 0  # the EDD is right; only today's GA means nothing
    assert result.stdout.startswith("EDD 预产期 2025-02-05 (LMP, Naegele)")
    assert result.stderr.startswith("warning: past-any-pregnancy: GA 135+5 on 2026-12-07 is past 44+0")
    assert "135 weeks ago; she has likely delivered; check the date" in result.stderr
    as_json = run("--lmp", "2024-05-01", "--on", "2026-12-07", "--format", "json")
    assert json.loads(as_json.stdout)["gestational_age"] == "135+5"
    assert "past-any-pregnancy" in as_json.stderr


def test_44_weeks_exactly_is_still_a_pregnancy() -> None:
    assert run("--edd", "2025-10-08", "--on", "2025-11-05").stderr == ""  # 44+0
    assert "past-any-pregnancy" in run("--edd", "2025-10-08", "--on", "2025-11-06").stderr  # 44+1


@pytest.mark.parametrize(
    "args",
    [
        ("--lmp", "2027-01-05", "--on", "2026-12-07"),
        ("--edd", "2027-10-01", "--on", "2026-12-07"),  # more than 40 weeks away
        ("--transfer", "2027-01-01", "--embryo-day", "5", "--on", "2026-12-07"),
    ],
)
def test_a_pregnancy_that_starts_after_the_day_asked_about_is_refused(args: tuple[str, ...]) -> None:
    result = run(*args)
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.startswith("error: dating-in-the-future: this dating starts the pregnancy")
    assert "after 2026-12-07: check the date, or give --on" in result.stderr


def test_the_first_day_of_the_lmp_is_0_weeks_without_a_word() -> None:
    result = run("--lmp", "2026-12-07", "--on", "2026-12-07")
    assert result.exit_code == 0 and result.stderr == ""
    assert "GA 孕周 0+0 on 2026-12-07" in result.stdout
