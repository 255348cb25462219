"""`make run`'s path: after `carepath demo setup` the dispatcher (inbox + console, the default
for every hospital without a channels file) files the demo's due messages in her inbox, and
`carepath inbox show` prints them; before they are due it says when they will go."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from carepath.cli import cli
from tests.conftest import FIELD_KEYS, LOOKUP_KEY, ROOT


@pytest.fixture
def demo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    for name, value in {
        "CAREPATH_DATABASE_URL": url,
        "CAREPATH_FIELD_KEYS": FIELD_KEYS,
        "CAREPATH_LOOKUP_KEY": LOOKUP_KEY,
        "CAREPATH_INSTANCE_PATH": str(tmp_path / "instance"),
    }.items():
        monkeypatch.setenv(name, value)
    result = CliRunner().invoke(
        cli,
        ["demo", "setup", "--instance", str(tmp_path / "instance"), "--examples", str(ROOT / "examples")],
    )
    assert result.exit_code == 0, result.output
    return url


def test_demo_messages_arrive_in_the_inbox_and_the_console(
    demo: str, caplog: pytest.LogCaptureFixture
) -> None:
    from carepath.cli.common import load_app as _app
    from carepath.cli.delivery import delivery_setup as _delivery_setup
    from carepath.delivery.dispatcher import dispatch_once
    from carepath.store.models import InboxItem, OutboxRow

    runner = CliRunner()
    before = runner.invoke(cli, ["inbox", "show", "--patient", "demo-002", "--hospital", "demo"])
    assert before.exit_code == 0, before.output
    assert "0 item(s), 0 unread" in before.output
    assert "waiting: " in before.output and "Asia/Shanghai" in before.output

    app = _app()
    database = app.extensions["carepath.db"]
    with database.reading() as session:
        # The last notice's moment: a message that fired outside the send window keeps its
        # firing as due_at and waits for the window in next_attempt_at (which hour of the
        # day the demo is set up at decides which messages wait).
        last_due = session.scalar(
            select(func.max(func.coalesce(OutboxRow.next_attempt_at, OutboxRow.due_at))).where(
                OutboxRow.kind.in_(("remind", "questionnaire", "push"))
            )
        )
    with caplog.at_level("INFO", logger="carepath.channels.console"):
        report = dispatch_once(
            database,
            last_due + timedelta(minutes=1),
            _delivery_setup(None, app),
            cipher=app.extensions["carepath.cipher"],
        )
    assert report.sent > 0 and report.dead == 0
    logged = [r for r in caplog.records if r.name == "carepath.channels.console"]
    with database.reading() as session:
        filed = session.scalar(select(func.count()).select_from(InboxItem))
        sent = session.scalar(select(func.count()).select_from(OutboxRow).where(OutboxRow.status == "sent"))
        by_console = session.scalar(
            select(func.count()).select_from(OutboxRow).where(OutboxRow.channel == "console")
        )
    assert filed == sent == report.sent  # every message's full text is in her inbox
    assert by_console and len(logged) == by_console  # reminders show in the console too (lessons: inbox only)

    after = runner.invoke(cli, ["inbox", "show", "--patient", "demo-002", "--hospital", "demo", "--body"])
    assert after.exit_code == 0, after.output
    lines = [line for line in after.output.splitlines() if line.startswith("* ")]
    assert lines, after.output  # unread items, newest first
    as_json = json.loads(
        runner.invoke(
            cli, ["inbox", "show", "--patient", "demo-002", "--hospital", "demo", "--format", "json"]
        ).output
    )
    assert as_json["unread"] == len(lines) and as_json["items"][0]["title"] in lines[0]
    pregnancy = as_json["items"][0]["pregnancy"]
    by_id = runner.invoke(cli, ["inbox", "show", "--pregnancy", pregnancy])
    assert by_id.exit_code == 0 and by_id.output.splitlines()[0] == after.output.splitlines()[0]
    database.dispose()


def test_bad_arguments_are_usage_errors_and_unknown_patients_exit_1(demo: str) -> None:
    runner = CliRunner()
    assert runner.invoke(cli, ["inbox", "show"]).exit_code == 2
    assert runner.invoke(cli, ["inbox", "show", "--patient", "demo-001"]).exit_code == 2
    unknown = runner.invoke(cli, ["inbox", "show", "--patient", "nobody", "--hospital", "demo"])
    assert unknown.exit_code == 1 and "pregnancy-not-found" in unknown.output
    assert "Traceback" not in unknown.output


def test_serve_says_how_to_see_messages(demo: str, capsys: pytest.CaptureFixture[str]) -> None:
    from carepath.cli.common import load_app as _app
    from carepath.cli.serve import _print_inbox_hint

    app = _app()
    _print_inbox_hint(app, "127.0.0.1", 8000)
    hint = capsys.readouterr().err
    assert "carepath inbox show --pregnancy " in hint
    assert "GET http://127.0.0.1:8000/api/v1/pregnancies/" in hint and "/pregnancies/ID/" not in hint
    app.extensions["carepath.db"].dispose()
