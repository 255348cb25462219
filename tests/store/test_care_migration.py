"""Migration 0020's backfill (issue 20): existing pregnancies join their hospital's default
team, with a history line; open tasks go to its queue, closed ones stay as they were."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import create_engine, text

from carepath.store.db import Database, alembic_config, upgrade
from tests.conftest import NOW, PG_URL


@pytest.fixture(params=["sqlite", *(["postgresql"] if PG_URL else [])])
def fresh_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database of each backend, not yet migrated."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'fresh.db'}"
        return
    assert PG_URL
    schema = f"m_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    separator = "&" if "?" in PG_URL else "?"
    yield f"{PG_URL}{separator}options=-csearch_path%3D{schema}"
    with admin.begin() as conn:
        conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    admin.dispose()


def _seed(db: Database) -> None:
    at = {"at": NOW.replace(tzinfo=None)}
    with db.engine.begin() as conn:
        for hospital in ("a", "b"):
            conn.execute(
                text("INSERT INTO hospitals (id, name, created_at) VALUES (:h, :h, :at)"),
                {"h": hospital, **at},
            )
        conn.execute(text("INSERT INTO patients (id, hospital_id, created_at) VALUES (1, 'a', :at)"), at)
        conn.execute(
            text(
                "INSERT INTO pregnancies (id, hospital_id, patient_id, number, status, state, created_at, updated_at)"
                " VALUES ('preg-1', 'a', 1, 1, 'pregnant', '{}', :at, :at)"
            ),
            at,
        )
        for key, status in (("open-1", "open"), ("done-1", "done")):
            conn.execute(
                text(
                    "INSERT INTO staff_tasks (hospital_id, pregnancy_id, dedupe_key, title, assign, priority,"
                    " status, created_at) VALUES ('a', 'preg-1', :key, '随访', 'responsible_doctor', 'urgent',"
                    " :status, :at)"
                ),
                {"key": key, "status": status, **at},
            )


def test_0020_backfills_the_default_team_her_care_row_its_history_and_open_tasks(fresh_url: str) -> None:
    upgrade(fresh_url, "0019")
    db = Database(fresh_url)
    try:
        _seed(db)
        upgrade(fresh_url)
        with db.engine.connect() as conn:
            teams = conn.execute(text("SELECT id, hospital_id, name, kind, is_default FROM care_teams")).all()
            care = conn.execute(text("SELECT pregnancy_id, team_id, updated_by FROM pregnancy_care")).all()
            history = conn.execute(
                text("SELECT what, old_value, new_value, actor FROM pregnancy_care_changes")
            ).all()
            tasks = {k: t for k, t in conn.execute(text("SELECT dedupe_key, team_id FROM staff_tasks"))}
        [(team, hospital, name, kind, is_default)] = teams  # hospital b has no pregnancy: no team
        assert (hospital, name, kind, bool(is_default)) == ("a", "产科团队", "obstetric", True)
        assert [tuple(r) for r in care] == [("preg-1", team, "migration")]
        assert [tuple(r) for r in history] == [("team", None, str(team), "migration")]
        assert tasks == {"open-1": team, "done-1": None}
        command.downgrade(alembic_config(fresh_url), "0019")
        upgrade(fresh_url)
    finally:
        db.dispose()


def test_0025_fills_the_colour_column_from_each_state(fresh_url: str) -> None:
    """Her colour kept beside her state (issue 20's workspace counts by it): the migration
    copies ``facts.risk_colour`` of every existing state, and a state without one stays empty."""
    upgrade(fresh_url, "0024")
    db = Database(fresh_url)
    try:
        _seed(db)
        with db.engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO pregnancies (id, hospital_id, patient_id, number, status, state, created_at,"
                    " updated_at) VALUES ('preg-2', 'a', 1, 2, 'pregnant', :state, :at, :at)"
                ),
                {"state": '{"facts": {"risk_colour": "red"}}', "at": NOW.replace(tzinfo=None)},
            )
        upgrade(fresh_url)
        with db.engine.connect() as conn:
            found = dict(conn.execute(text("SELECT id, risk_colour FROM pregnancies")).all())
        assert found == {"preg-1": None, "preg-2": "red"}
    finally:
        db.dispose()
