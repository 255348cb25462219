"""``carepath staff unlock USERNAME``: lifts the failed-login locks of one login, audited; and
``staff create`` refuses a trivial password with its code."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from carepath.cli import cli
from carepath.store import accounts
from carepath.store.db import Database
from carepath.store.models import AuditEntry
from tests.cli.test_staff_create import _env


def _lock(db: Database, username: str) -> None:
    """The ceiling reached from twenty addresses (just now: the CLI unlocks at the wall clock)."""
    now = datetime.now(UTC) - timedelta(minutes=1)
    for n in range(20):
        with pytest.raises((accounts.LoginFailedError, accounts.LoginLockedError)):
            accounts.login(db, username, "a wrong guess", now, remote_addr=f"203.0.113.{n}", profile="test")


def test_unlock_lets_the_doctor_in_again_and_is_audited(tmp_path: Path) -> None:
    env = _env(tmp_path)
    created = CliRunner().invoke(
        cli,
        ["staff", "create", "--hospital", "a", "--username", "dr.zhang", "--role", "doctor"],
        input="a long enough password\n",
        env=env,
    )
    assert created.exit_code == 0, created.output
    db = Database(env["CAREPATH_DATABASE_URL"])
    _lock(db, "dr.zhang")
    with pytest.raises(accounts.LoginLockedError):
        accounts.login(db, "dr.zhang", "a long enough password", datetime.now(UTC), profile="test")

    result = CliRunner().invoke(cli, ["staff", "unlock", " DR.Zhang "], env=env)
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "unlocked staff 1 dr.zhang in a"
    assert accounts.login(db, "dr.zhang", "a long enough password", datetime.now(UTC), profile="test")
    with db.reading() as session:
        rows = session.scalars(select(AuditEntry).where(AuditEntry.action == "account-unlock"))
        [(hospital, actor, detail)] = [(r.hospital_id, r.actor, r.detail) for r in rows]
    db.dispose()
    assert (hospital, actor) == ("a", "cli:staff-unlock")
    assert detail.startswith("staff:1 dr.zhang unlocked (locked since ")


def test_unlocking_an_unknown_username_exits_1(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["staff", "unlock", "nobody.here"], env=_env(tmp_path))
    assert result.exit_code == 1 and "error: staff-not-found" in result.output


@pytest.mark.parametrize(
    ("password", "code"),
    [(" " * 10, "password-blank"), ("1234567890", "password-trivial"), ("password12", "password-common")],
)
def test_create_refuses_a_trivial_password(tmp_path: Path, password: str, code: str) -> None:
    args = ["staff", "create", "--hospital", "a", "--username", "nurse1", "--role", "nurse"]
    result = CliRunner().invoke(cli, args, input=f"{password}\n", env=_env(tmp_path))
    assert result.exit_code == 1 and f"error: {code}: " in result.output
