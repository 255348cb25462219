"""The audit writer (``store/audit.py``) on SQLite and PostgreSQL: its own transaction after
the caller's, rows that outlive the caller's rollback, and repeated refusals folded into one
counted row per (action, actor, target kind, minute), also when attempts race."""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import JSON, column, create_engine, insert, select, table, text

from carepath.store import audit
from carepath.store.db import Database, upgrade
from carepath.store.models import AuditEntry
from carepath.store.scope import Actor
from tests.conftest import NOW, PG_URL

NURSE = Actor("a", "staff", "7", "10.0.0.7")


def rows(db: Database) -> list[tuple[str, str, str, int, str | None]]:
    with db.reading() as session:
        found = session.scalars(select(AuditEntry).order_by(AuditEntry.id))
        return [(r.actor, r.action, r.detail, r.count, r.fold_key) for r in found]


@pytest.fixture
def db(app: Flask) -> Database:
    database: Database = app.extensions["carepath.db"]
    return database


def test_outside_a_transaction_the_row_is_written_at_once(db: Database) -> None:
    audit.record(db, NURSE, "refused", NOW, "pathway.edit needed for /x")
    assert rows(db) == [("staff:7", "refused", "pathway.edit needed for /x", 1, None)]


def test_inside_a_transaction_the_row_waits_for_its_end_and_outlives_its_rollback(db: Database) -> None:
    with pytest.raises(LookupError), db.transaction() as session:
        session.execute(text("SELECT 1"))  # on SQLite this transaction now holds the write lock
        with db.reading():  # nested (and idle: SQLite would wait for the outer one's lock)
            audit.record(db, NURSE, "refused", NOW, "first")
        audit.record(db, NURSE, "refused", NOW, "second")
        assert db.in_transaction()
        raise LookupError("the caller's work fails and is rolled back")
    assert not db.in_transaction()
    assert [detail for _, _, detail, _, _ in rows(db)] == ["first", "second"]


def test_repeats_fold_per_actor_target_kind_and_minute(db: Database) -> None:
    def attempt(actor: Actor, kind: str, seconds: int) -> None:
        now = NOW + timedelta(seconds=seconds)
        audit.record_repeated(db, actor, "not-found", now, f"no {kind} visible", target_kind=kind)

    other = Actor("a", "integrator", "3")
    for actor, kind, seconds in [
        (NURSE, "pregnancy", 0),
        (NURSE, "pregnancy", 59),  # the same minute: counted
        (NURSE, "task", 1),  # another kind: its own row
        (other, "pregnancy", 2),  # another actor: its own row
        (NURSE, "pregnancy", 60),  # the next minute: a new row
    ]:
        attempt(actor, kind, seconds)
    assert [(actor, detail, count) for actor, _, detail, count, _ in rows(db)] == [
        ("staff:7", "no pregnancy visible", 2),
        ("staff:7", "no task visible", 1),
        ("integrator:3", "no pregnancy visible", 1),
        ("staff:7", "no pregnancy visible", 1),
    ]
    assert rows(db)[0][4] == "not-found|a|staff:7|pregnancy|2026-07-10T07:00Z"


def test_racing_attempts_of_one_minute_add_up_in_one_row(db: Database) -> None:
    racers = 8
    barrier = threading.Barrier(racers)

    def attempt() -> None:
        barrier.wait()
        audit.record_repeated(db, NURSE, "not-found", NOW, "no pregnancy visible", target_kind="pregnancy")

    threads = [threading.Thread(target=attempt) for _ in range(racers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [count for _, _, _, count, _ in rows(db)] == [racers]


def test_a_row_that_cannot_be_written_is_logged_and_never_raised(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    nobody = Actor(None, "staff", "8")  # type: ignore[arg-type]  # a row the table refuses
    with caplog.at_level(logging.ERROR, logger="carepath.store.audit"):
        audit.record(db, nobody, "refused", NOW, "x")
    assert rows(db) == [] and "could not write the audit row staff:8 refused: x" in caplog.text


# --- migration 0010 ---------------------------------------------------------------------------


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


def test_0010_gives_staff_added_by_job_the_role_of_their_care_job(fresh_url: str) -> None:
    """Staff tools that acted for a doctor or nurse keep working once permissions are checked;
    other jobs get nothing, and roles already given stay as they are."""
    from carepath.store.db import alembic_config

    upgrade(fresh_url, "0009")
    db = Database(fresh_url)
    staff = table("staff", column("hospital_id"), column("name"), column("role"), column("roles", JSON))
    try:
        with db.engine.begin() as conn:
            conn.execute(
                text("INSERT INTO hospitals (id, name, created_at) VALUES ('a', 'a', :at)"),
                {"at": NOW.replace(tzinfo=None)},
            )
            conn.execute(insert(staff), {"hospital_id": "a", "name": "医生", "role": "doctor"})  # SQL NULL
            conn.execute(insert(staff), {"hospital_id": "a", "name": "护士", "role": "nurse", "roles": None})
            conn.execute(insert(staff), {"hospital_id": "a", "name": "护士长", "role": "lead"})
            conn.execute(
                insert(staff),
                {"hospital_id": "a", "name": "作者", "role": "doctor", "roles": ["content_author"]},
            )
        upgrade(fresh_url, "0010")
        with db.engine.connect() as conn:
            roles = {name: value for name, value in conn.execute(select(staff.c.name, staff.c.roles))}
        assert roles == {"医生": ["doctor"], "护士": ["nurse"], "护士长": None, "作者": ["content_author"]}
        from alembic import command

        command.downgrade(alembic_config(fresh_url), "0009")
        upgrade(fresh_url)
    finally:
        db.dispose()
