"""``carepath team create|list|add-member|set-lead``: the care teams' service at the terminal,
audited as the CLI; a refused change exits 1 with its code."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import select

from carepath.cli import cli
from carepath.store.db import Database
from carepath.store.models import AuditEntry
from tests.cli.test_staff_create import _env


def test_a_team_is_made_filled_and_led_from_the_terminal(tmp_path: Path) -> None:
    env, run = _env(tmp_path), CliRunner()

    def ok(*args: str) -> str:
        result = run.invoke(cli, list(args), env=env)
        assert result.exit_code == 0, result.output
        return result.output.strip()

    doctor = ok("staff", "add", "--hospital", "a", "--name", "王医生", "--role", "doctor")
    nurse = ok("staff", "add", "--hospital", "a", "--name", "李护士", "--role", "nurse")
    team = ok("team", "create", "--hospital", "a", "--name", "产科一组")
    ok("team", "add-member", "--hospital", "a", "--team", team, "--staff", doctor, "--role", "doctor")
    ok("team", "add-member", "--hospital", "a", "--team", team, "--staff", nurse, "--role", "nurse")
    assert (
        ok("team", "set-lead", "--hospital", "a", "--team", team, "--staff", doctor)
        == f"team {team}: lead is {doctor}"
    )
    listed = ok("team", "list", "--hospital", "a")
    assert (
        listed
        == f"{team}\t产科一组\tobstetric\tlead=王医生({doctor})\t王医生({doctor}):doctor 李护士({nurse}):nurse"
    )

    refused = run.invoke(
        cli, ["team", "set-lead", "--hospital", "a", "--team", team, "--staff", "999"], env=env
    )
    assert refused.exit_code == 1 and "not-team-member" in refused.output
    other = run.invoke(
        cli,
        ["team", "add-member", "--hospital", "b", "--team", team, "--staff", doctor, "--role", "doctor"],
        env=env,
    )
    assert other.exit_code == 1 and "team-not-found" in other.output
    db = Database(env["CAREPATH_DATABASE_URL"])
    with db.reading() as session:
        actors = set(session.scalars(select(AuditEntry.actor).where(AuditEntry.detail.like("team %"))))
    db.dispose()
    assert len(actors) == 1 and next(iter(actors)).startswith("cli:")
