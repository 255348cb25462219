"""`carepath hospital settings show|set|import`, and the one-time import on `delivery run --config`."""

from __future__ import annotations

import getpass
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from carepath.cli import cli
from tests.cli.test_delivery_commands import env  # noqa: F401 - the fixture

CHANNELS = """\
hospital: h1
channels:
  inbox: {}
delivery:
  window: {timezone: Asia/Shanghai, opens: "08:00", closes: "21:00"}
  daily_cap: 2
  fallback_order: [inbox]
"""


@pytest.fixture
def runner(env: str) -> CliRunner:  # noqa: F811 - the fixture
    runner = CliRunner()
    assert runner.invoke(cli, ["db", "upgrade"]).exit_code == 0
    assert runner.invoke(cli, ["hospital", "create", "h1", "--name", "一院"]).exit_code == 0
    return runner


def _shown(runner: CliRunner, *hospital: str) -> dict:  # type: ignore[type-arg]
    result = runner.invoke(cli, ["hospital", "settings", "show", *hospital, "--format", "json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def _audit_details(url: str) -> list[tuple[str, str]]:
    from carepath.store.db import Database
    from carepath.store.models import AuditEntry

    database = Database(url)
    with database.reading() as session:
        found = [(a.actor, a.detail) for a in session.scalars(select(AuditEntry).order_by(AuditEntry.id))]
    database.dispose()
    return found


def test_show_prints_the_defaults_of_a_hospital_without_settings(runner: CliRunner) -> None:
    shown = _shown(runner)  # the only hospital: --hospital may be left out
    assert shown["hospital"] == "h1" and shown["version"] == 0
    assert shown["settings"]["window_opens"] == "09:00" and shown["settings"]["daily_cap"] == 3
    assert shown["settings"]["drafts_allowed"] is False
    text = runner.invoke(cli, ["hospital", "settings", "show"]).stdout
    assert "no settings stored" in text and "daily_cap" in text and "per pregnancy per local day" in text
    # issue 17 item 1: staff see that urgent messages and tasks lack what they need
    assert "warning: emergency_phone is not set" in text and "warning: on_call is empty" in text
    assert len(shown["warnings"]) == 3


def test_set_validates_writes_and_audits_as_the_cli(runner: CliRunner, env: str) -> None:  # noqa: F811
    roster = json.dumps(
        [{"role": "产科值班", "name": "王医生", "phone": "0571-87654321"}], ensure_ascii=False
    )
    result = runner.invoke(
        cli,
        [
            "hospital",
            "settings",
            "set",
            "--hospital",
            "h1",
            "daily_cap=2",
            "window_opens=08:30",
            f"on_call={roster}",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "settings version 1" in result.stdout
    shown = _shown(runner, "--hospital", "h1")
    assert shown["settings"]["daily_cap"] == 2 and shown["settings"]["on_call"][0]["name"] == "王医生"
    assert shown["updated_by"] == f"cli:{getpass.getuser()}"
    assert (f"cli:{getpass.getuser()}", "settings daily_cap: 3 → 2") in _audit_details(env)
    assert any(w.startswith("public_base_url is not set") for w in shown["warnings"])


def test_a_bad_value_exits_1_with_the_located_message_and_writes_nothing(runner: CliRunner, env: str) -> None:  # noqa: F811
    result = runner.invoke(
        cli,
        [
            "hospital",
            "settings",
            "set",
            "--hospital",
            "h1",
            "daily_cap=9000",
            "public_base_url=http://x.example",
        ],
    )
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "daily_cap: bad-cap: must be a whole number from 0 to 20, not 9000",
        "public_base_url: not-https: her pages are served over https: the URL starts with https://",
    ]
    assert _shown(runner)["version"] == 0 and _audit_details(env) == []
    unknown = runner.invoke(cli, ["hospital", "settings", "set", "--hospital", "nowhere", "daily_cap=1"])
    assert unknown.exit_code == 1 and "unknown-hospital" in unknown.stderr
    assert runner.invoke(cli, ["hospital", "settings", "set", "--hospital", "h1", "daily_cap"]).exit_code == 2


def test_import_once_then_the_database_wins(runner: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "channels.yaml"
    path.write_text(CHANNELS, encoding="utf-8")
    result = runner.invoke(cli, ["hospital", "settings", "import", str(path)])
    assert result.exit_code == 0 and "settings imported" in result.stdout
    assert _shown(runner)["settings"]["window_closes"] == "21:00"
    path.write_text(CHANNELS.replace("daily_cap: 2", "daily_cap: 5"), encoding="utf-8")
    again = runner.invoke(cli, ["hospital", "settings", "import", str(path)])
    assert again.exit_code == 0 and "the database wins" in again.stdout
    assert "ignored daily_cap 5" in again.stdout
    assert _shown(runner)["settings"]["daily_cap"] == 2


def test_delivery_run_imports_the_file_once(runner: CliRunner, env: str, tmp_path: Path) -> None:  # noqa: F811
    from carepath.store.db import Database
    from carepath.store.models import HospitalSettingsRow

    path = tmp_path / "channels.yaml"
    path.write_text(CHANNELS, encoding="utf-8")
    assert runner.invoke(cli, ["delivery", "run", "--once", "--config", str(path)]).exit_code == 0
    assert _shown(runner)["settings"]["daily_cap"] == 2
    assert (
        runner.invoke(cli, ["hospital", "settings", "set", "--hospital", "h1", "daily_cap=4"]).exit_code == 0
    )
    result = runner.invoke(cli, ["delivery", "run", "--once", "--config", str(path)])
    assert result.exit_code == 0, result.output
    assert _shown(runner)["settings"]["daily_cap"] == 4  # the database wins over the file
    database = Database(env)
    with database.reading() as session:
        assert session.scalar(select(func.count()).select_from(HospitalSettingsRow)) == 1
    database.dispose()

    path.write_text(CHANNELS.replace('opens: "08:00"', "opens: 8:00"), encoding="utf-8")  # YAML: 480
    bad = runner.invoke(cli, ["delivery", "run", "--once", "--config", str(path)])
    assert bad.exit_code == 1 and f"{path}: delivery.window.opens: bad-time" in bad.stderr


def test_demo_setup_imports_the_example_window_once_and_allows_drafts(env: str, tmp_path: Path) -> None:  # noqa: F811
    from tests.conftest import ROOT

    runner = CliRunner()
    args = ["demo", "setup", "--instance", str(tmp_path / "instance"), "--examples", str(ROOT / "examples")]
    first = runner.invoke(cli, args)
    assert first.exit_code == 0 and "sends unapproved content" in first.stdout
    settings = _shown(runner, "--hospital", "demo")["settings"]
    assert (settings["window_opens"], settings["daily_cap"]) == ("09:00", 3)
    assert settings["drafts_allowed"] is True  # the shipped library is all drafts
    set_cap = ["hospital", "settings", "set", "--hospital", "demo", "daily_cap=1"]
    assert runner.invoke(cli, set_cap).exit_code == 0
    assert runner.invoke(cli, args).exit_code == 0
    assert _shown(runner, "--hospital", "demo")["settings"]["daily_cap"] == 1  # kept
