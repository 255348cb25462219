"""``carepath staff create``: the first admin, the password from stdin, never from argv."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from carepath.cli import cli


def _env(tmp_path: Path) -> dict[str, str]:
    from carepath.store.db import upgrade
    from tests.conftest import FIELD_KEYS, LOOKUP_KEY

    url = f"sqlite:///{tmp_path / 'carepath.db'}"
    upgrade(url)
    from carepath.store.db import Database
    from carepath.store.tenants import ensure_hospital
    from tests.conftest import NOW

    db = Database(url)
    with db.transaction() as session:
        ensure_hospital(session, "a", "hospital a", NOW)
    db.dispose()
    return {
        "CAREPATH_DATABASE_URL": url,
        "CAREPATH_FIELD_KEYS": FIELD_KEYS,
        "CAREPATH_LOOKUP_KEY": LOOKUP_KEY,
        "CAREPATH_PASSWORD_HASHER": "test",
    }


def test_creates_the_first_admin_reading_the_password_from_stdin(tmp_path: Path) -> None:
    env = _env(tmp_path)
    args = [
        "staff",
        "create",
        "--hospital",
        "a",
        "--username",
        "Admin",
        "--role",
        "admin",
        "--name",
        "张主任",
    ]
    result = CliRunner().invoke(cli, args, input="a long enough password\n", env=env)
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "created staff 1 admin (admin) in a"
    from carepath.store import accounts
    from carepath.store.db import Database
    from tests.conftest import NOW

    db = Database(env["CAREPATH_DATABASE_URL"])
    login = accounts.login(db, "admin", "a long enough password", NOW, profile="test")
    assert login.identity.can("staff.manage") and login.identity.name == "张主任"
    db.dispose()


def test_bad_input_exits_1_with_the_code(tmp_path: Path) -> None:
    env = _env(tmp_path)
    base = ["staff", "create", "--hospital", "a", "--username", "nurse1", "--role", "nurse"]
    short = CliRunner().invoke(cli, base, input="short\n", env=env)
    assert short.exit_code == 1 and "error: password-too-short" in short.output
    unknown = CliRunner().invoke(
        cli, [*base[:2], "--hospital", "zz", *base[4:]], input="long password here\n", env=env
    )
    assert unknown.exit_code == 1 and "error: unknown-hospital" in unknown.output
    role = CliRunner().invoke(cli, [*base[:-1], "surgeon"], input="long password here\n", env=env)
    assert role.exit_code == 2 and "surgeon" in role.output


def test_there_is_no_password_option() -> None:
    result = CliRunner().invoke(cli, ["staff", "create", "--help"])
    assert "--password" not in result.output
