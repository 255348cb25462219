"""`carepath scheduler` refuses to start beside another scheduler, naming it."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

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
