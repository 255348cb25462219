"""``carepath audit purge --older-than DAYS``: refuses fewer than 183 days (exit 1, its code,
nothing deleted) and deletes only older rows, audited."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import insert, select

from carepath.cli import cli
from carepath.store.db import Database
from carepath.store.models import AuditEntry
from tests.cli.test_staff_create import _env


def test_a_purge_under_six_months_is_refused_and_an_older_one_keeps_the_young_rows(tmp_path: Path) -> None:
    env = _env(tmp_path)
    db = Database(env["CAREPATH_DATABASE_URL"])
    now = datetime.now(UTC)
    with db.transaction() as session:
        session.execute(
            insert(AuditEntry),
            [
                {"hospital_id": "a", "actor": "staff:1", "action": "read", "detail": f"age {days}",
                 "at": now - timedelta(days=days), "count": 1}
                for days in (1, 182, 200, 800)
            ],
        )  # fmt: skip
    refused = CliRunner().invoke(cli, ["audit", "purge", "--older-than", "90"], env=env)
    assert refused.exit_code == 1
    assert "error: retention-floor: the audit log is kept at least 183 days" in refused.output
    done = CliRunner().invoke(cli, ["audit", "purge", "--older-than", "183"], env=env)
    assert done.exit_code == 0, done.output
    assert "a: purged 2 row(s)" in done.output
    with db.reading() as session:
        left = set(session.scalars(select(AuditEntry.detail).where(AuditEntry.detail.like("age %"))))
        purges = session.scalars(select(AuditEntry.actor).where(AuditEntry.action == "purge")).all()
    db.dispose()
    assert left == {"age 1", "age 182"} and len(purges) == 1 and purges[0].startswith("cli:")
