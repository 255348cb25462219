from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from carepath.cli import cli
from tests.conftest import FIELD_KEYS, LOOKUP_KEY, ROOT


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CAREPATH_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("CAREPATH_FIELD_KEYS", FIELD_KEYS)
    monkeypatch.setenv("CAREPATH_LOOKUP_KEY", LOOKUP_KEY)
    monkeypatch.setenv("CAREPATH_INSTANCE_PATH", str(tmp_path / "instance"))
    return tmp_path


def test_db_upgrade_then_apikey_create_prints_the_secret_once(env: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(cli, ["db", "upgrade"]).exit_code == 0
    assert runner.invoke(cli, ["hospital", "create", "h1", "--name", "一院"]).exit_code == 0
    result = runner.invoke(cli, ["apikey", "create", "--hospital", "h1", "--format", "json"])
    assert result.exit_code == 0, result.output
    key = json.loads(result.output)
    assert key["key_id"].startswith("ck_") and len(key["secret"]) >= 40
    assert key["secret"] not in (env / "cli.db").read_bytes().decode("latin-1")
    assert runner.invoke(cli, ["apikey", "revoke", key["key_id"]]).exit_code == 0


def test_apikey_for_unknown_hospital_fails(env: Path) -> None:
    runner = CliRunner()
    runner.invoke(cli, ["db", "upgrade"])
    result = runner.invoke(cli, ["apikey", "create", "--hospital", "nowhere"])
    assert result.exit_code == 1
    assert "unknown-hospital" in result.output


def test_demo_setup_is_repeatable(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CAREPATH_FIELD_KEYS")
    monkeypatch.delenv("CAREPATH_LOOKUP_KEY")
    runner = CliRunner()
    args = ["demo", "setup", "--instance", str(env / "instance"), "--examples", str(ROOT / "examples")]
    first = runner.invoke(cli, args)
    assert first.exit_code == 0, first.output
    assert "demo pregnancies: demo-001, demo-002, demo-003" in first.output
    again = runner.invoke(cli, args)
    assert again.exit_code == 0, again.output
    key = json.loads((env / "instance" / "demo-key.json").read_text())
    assert key["key_id"] in again.output
    assert "FIELD_KEYS" in (env / "instance" / "carepath.cfg").read_text()


def test_staff_add_and_tasks_escalate(env: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(cli, ["db", "upgrade"]).exit_code == 0
    assert runner.invoke(cli, ["hospital", "create", "h1", "--name", "一院"]).exit_code == 0
    added = runner.invoke(cli, ["staff", "add", "--hospital", "h1", "--name", "护士长", "--role", "lead"])
    assert added.exit_code == 0, added.output
    assert added.output.strip().isdigit()
    unknown = runner.invoke(cli, ["staff", "add", "--hospital", "nowhere", "--name", "x", "--role", "doctor"])
    assert unknown.exit_code == 1 and "no hospital nowhere" in unknown.output
    escalated = runner.invoke(cli, ["tasks", "escalate"])
    assert escalated.exit_code == 0 and "escalated 0 task(s)" in escalated.output
