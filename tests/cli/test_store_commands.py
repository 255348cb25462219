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
    config = (env / "instance" / "carepath.cfg").read_text()
    assert "FIELD_KEYS" in config and config.count("SECRET_KEY") == 1


def _printed_logins(output: str) -> dict[str, str]:
    import re

    return dict(re.findall(r"^  (demo-[a-z]+) +(\S+) +\(", output, flags=re.MULTILINE))


def test_demo_setup_prints_staff_logins_that_work(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from datetime import UTC, datetime

    from carepath.store import accounts
    from carepath.store.db import Database

    monkeypatch.setenv("CAREPATH_PASSWORD_HASHER", "test")
    runner = CliRunner()
    args = ["demo", "setup", "--instance", str(env / "instance"), "--examples", str(ROOT / "examples")]
    first = _printed_logins(runner.invoke(cli, args).output)
    assert set(first) == {"demo-admin", "demo-author", "demo-reviewer", "demo-doctor", "demo-nurse"}
    assert len(set(first.values())) == 5 and all(len(p) >= 16 for p in first.values())
    assert _printed_logins(runner.invoke(cli, args).output) == first  # kept while they work
    db = Database(f"sqlite:///{env / 'cli.db'}")
    now = datetime.now(UTC)
    admin = accounts.login(db, "demo-admin", first["demo-admin"], now, profile="test").identity
    assert admin.can("staff.manage") and admin.hospital_id == "demo"
    reviewer = accounts.find_username(db, "demo-reviewer")
    assert reviewer is not None
    accounts.update_staff(
        db, admin.actor(None), reviewer.id, now, new_password="changed in the UI", profile="test"
    )
    third = _printed_logins(runner.invoke(cli, args).output)
    assert third["demo-reviewer"] != first["demo-reviewer"] and third["demo-admin"] == first["demo-admin"]
    assert accounts.verify_password(db, "demo-reviewer", third["demo-reviewer"], "test")
    db.dispose()


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


def test_db_backfill_lookups_runs_with_the_configured_keys_and_again_fills_nothing(env: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(cli, ["db", "upgrade"]).exit_code == 0
    first = runner.invoke(cli, ["db", "backfill-lookups", "--page", "10"])
    assert first.exit_code == 0, first.output
    assert "filled 0 name lookups and 0 stored EDDs" in first.output
    refused = runner.invoke(cli, ["db", "backfill-lookups", "--page", "0"])
    assert refused.exit_code == 2  # click's usage error: a page holds at least one row
