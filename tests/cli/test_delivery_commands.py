from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from carepath.cli import cli
from tests.conftest import FIELD_KEYS, LOOKUP_KEY


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("CAREPATH_DATABASE_URL", url)
    monkeypatch.setenv("CAREPATH_FIELD_KEYS", FIELD_KEYS)
    monkeypatch.setenv("CAREPATH_LOOKUP_KEY", LOOKUP_KEY)
    monkeypatch.setenv("CAREPATH_INSTANCE_PATH", str(tmp_path / "instance"))
    return url


def _outbox_row(url: str) -> None:
    from carepath.store.db import Database
    from carepath.store.models import OutboxRow, Patient, Pregnancy

    now = datetime.now(UTC)
    database = Database(url)
    with database.transaction() as session:
        patient = Patient(hospital_id="h1", created_at=now)
        session.add(patient)
        session.flush()
        session.add(
            Pregnancy(
                id="preg-1", hospital_id="h1", patient_id=patient.id, number=1, status="pregnant",
                state={}, created_at=now, updated_at=now,
            )
        )  # fmt: skip
        session.flush()
        session.add(
            OutboxRow(
                hospital_id="h1", pregnancy_id="preg-1", dedupe_key="k-1", pathway_id="anc", version="1",
                rule_id="r", kind="remind", params={}, due_at=now - timedelta(minutes=1), channels=[],
                enrolment_id="e", why="test", status="due", attempts=0, created_at=now, updated_at=now,
            )
        )  # fmt: skip
    database.dispose()


def _status(url: str) -> tuple[str, str | None, str | None]:
    from carepath.store.db import Database
    from carepath.store.models import OutboxRow

    database = Database(url)
    with database.reading() as session:
        row = session.scalars(select(OutboxRow)).one()
        found = (row.status, row.status_reason, row.channel)
    database.dispose()
    return found


def test_pause_resume_and_run_once(env: str) -> None:
    runner = CliRunner()
    assert runner.invoke(cli, ["db", "upgrade"]).exit_code == 0
    assert runner.invoke(cli, ["hospital", "create", "h1", "--name", "一院"]).exit_code == 0
    _outbox_row(env)
    result = runner.invoke(cli, ["delivery", "pause", "--all"])
    assert result.exit_code == 0 and "paused all" in result.output
    assert "already paused" in runner.invoke(cli, ["delivery", "pause", "--all"]).output
    assert runner.invoke(cli, ["delivery", "run", "--once"]).exit_code == 0
    assert _status(env)[:2] == ("due", "paused:all")
    assert runner.invoke(cli, ["delivery", "resume", "--all"]).exit_code == 0
    result = runner.invoke(cli, ["delivery", "run", "--once"])
    assert result.exit_code == 0, result.output
    assert _status(env)[0] == "sent"  # through the inbox: the default hospital has no external channel


def test_pause_needs_exactly_one_scope(env: str) -> None:
    result = CliRunner().invoke(cli, ["delivery", "pause", "--all", "--channel", "sms_tencent"])
    assert result.exit_code == 2 and "exactly one" in result.output


def test_dispatchers_share_tokens_in_the_database_unless_redis_is_configured(
    env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from carepath.channels.base import CachedToken
    from carepath.channels.redis_tokens import RedisTokenStore
    from carepath.cli.common import load_app as _app
    from carepath.cli.delivery import _token_store
    from carepath.delivery.token_store import DatabaseTokenStore
    from carepath.store.db import Database, upgrade

    upgrade(env)
    store = _token_store(_app())
    assert isinstance(store, DatabaseTokenStore)
    expires = datetime.now(UTC) + timedelta(hours=1)
    store.put("wechat:token:wx1", CachedToken("T-1", expires))
    other = Database(env)  # another process's view of the same table
    assert DatabaseTokenStore(other).get("wechat:token:wx1") == CachedToken("T-1", expires)
    other.dispose()
    monkeypatch.setenv("CAREPATH_REDIS_URL", "redis://127.0.0.1:6379/0")
    assert isinstance(_token_store(_app()), RedisTokenStore)  # no connection until first used
