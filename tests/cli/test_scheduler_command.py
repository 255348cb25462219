"""`carepath scheduler` refuses to start beside another scheduler, naming it; the jobs' reports."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from carepath.cli import cli
from tests.conftest import FIELD_KEYS, LOOKUP_KEY


def test_a_second_scheduler_exits_naming_the_holder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from carepath.scheduler import LeaseLock
    from carepath.store.db import Database, upgrade

    url = f"sqlite:///{tmp_path / 'cli.db'}"
    for name, value in {
        "CAREPATH_DATABASE_URL": url,
        "CAREPATH_FIELD_KEYS": FIELD_KEYS,
        "CAREPATH_LOOKUP_KEY": LOOKUP_KEY,
        "CAREPATH_INSTANCE_PATH": str(tmp_path / "instance"),
    }.items():
        monkeypatch.setenv(name, value)
    upgrade(url)
    database = Database(url)
    holder = LeaseLock(database, lambda: datetime.now(UTC), holder="ward-a:4242")
    holder.acquire()
    try:
        result = CliRunner().invoke(cli, ["scheduler"])
        assert result.exit_code == 1, result.output
        assert "another scheduler holds the lock on this database: ward-a:4242 since " in result.output
    finally:
        holder.release()
        database.dispose()


def test_the_escalation_job_reports_through_the_cli_without_an_error(
    api: Any, app: Any, clock: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """`serve` and `scheduler` hand every job's result to the same reporter: the escalation
    job's (a list of escalations) raised AttributeError there every 5 minutes, after its work
    was committed, so APScheduler logged a traceback on every run."""
    from carepath.cli.scheduler import _on_report
    from carepath.scheduler import Jobs
    from tests.scheduler.test_scheduler import hospital_delivery_stub
    from tests.store.test_care_teams import team_lead
    from tests.store.test_tasks import previa_task

    jobs = Jobs(app, lambda hospital: hospital_delivery_stub(), on_report=_on_report(app))
    assert jobs.escalate() == []  # nothing overdue: nothing to say
    assert capsys.readouterr().err == ""
    team_lead(app, "a")
    previa_task(api)
    clock.now += timedelta(days=4)  # her case-management task is overdue
    [escalation] = jobs.escalate()
    assert escalation.lead is not None
    assert capsys.readouterr().err == "escalate: 1 overdue tasks escalated to the team lead\n"
