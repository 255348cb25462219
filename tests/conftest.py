"""Database fixtures: every store and API test runs on SQLite, and on PostgreSQL too when
``CAREPATH_TEST_DATABASE_URL`` is set (a fresh schema per test session, dropped at the end).

Hypothesis runs without its per-example deadline (200 ms by default): that is a wall-clock
assertion, which a busy machine fails. Examples are bounded by count; times are bench/'s."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

ROOT = Path(__file__).resolve().parent.parent
settings.register_profile("carepath", deadline=None)
settings.load_profile("carepath")
PG_URL = os.environ.get("CAREPATH_TEST_DATABASE_URL")
BACKENDS = ["sqlite", *(["postgresql"] if PG_URL else [])]


@pytest.fixture(scope="session", params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A migrated, empty database of each backend, shared by the session's tests."""
    from sqlalchemy import create_engine, text

    from carepath.store.db import upgrade

    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'carepath.db'}"
        upgrade(url)
        yield url
        return
    assert PG_URL
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    separator = "&" if "?" in PG_URL else "?"
    url = f"{PG_URL}{separator}options=-csearch_path%3D{schema}"
    upgrade(url)
    yield url
    with admin.begin() as conn:
        conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    admin.dispose()


def empty_tables(database: Any) -> None:
    from sqlalchemy import text

    # the tables of the models' own modules are emptied too
    import carepath.store.models_batches
    import carepath.store.models_binding_events
    import carepath.store.models_her_forms
    import carepath.store.models_registration
    import carepath.store.models_requests
    import carepath.store.models_sign_in
    import carepath.store.models_sources
    import carepath.store.models_teams  # noqa: F401
    from carepath.store import approvals, hospital_settings, pathways, recent, tenants
    from carepath.store.models import Base

    tables = [t.name for t in reversed(Base.metadata.sorted_tables)]  # those referring first
    with database.engine.begin() as conn:
        for table in tables:
            conn.execute(text(f"DELETE FROM {table}"))
        if database.engine.dialect.name == "postgresql":
            # What TRUNCATE ... RESTART IDENTITY did, at a hundredth of its cost (it took
            # ~0.7 s a test: a new file for each of the tables): the tables' own sequences
            # (serial and identity columns) start again at their first value.
            for sequence, start in _owned_sequences(conn, tables):
                conn.execute(
                    text("SELECT setval(CAST(:s AS regclass), :v, false)"), {"s": sequence, "v": start}
                )
    pathways.clear_cache()
    tenants.forget_key()
    hospital_settings.CACHE.forget()
    approvals.clear_cache()
    recent.PUBLISHED.forget()


def _owned_sequences(conn: Any, tables: list[str]) -> list[tuple[str, int]]:
    """The sequences owned by the columns of ``tables`` in the connection's schema (what
    TRUNCATE's RESTART IDENTITY restarts) and their start values."""
    from sqlalchemy import text

    rows = conn.execute(
        text(
            "SELECT s.oid::regclass::text, q.seqstart FROM pg_class s "
            "JOIN pg_sequence q ON q.seqrelid = s.oid "
            "JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = s.oid "
            "AND d.deptype IN ('a', 'i') "
            "JOIN pg_class t ON t.oid = d.refobjid "
            "WHERE t.relnamespace = current_schema()::regnamespace AND t.relname = ANY(:tables)"
        ),
        {"tables": tables},
    )
    return [(str(name), int(start)) for name, start in rows]


NOW = datetime(2026, 7, 10, 7, 0, tzinfo=UTC)  # 15:00 in Shanghai
FIELD_KEYS = "k1:" + "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE="  # test-only key (32 x "A")
LOOKUP_KEY = "TE9PS1VQLUtFWS1GT1ItVEVTVFMtT05MWS0xMjM0NTY="


class Clock:
    """A settable clock for the app (tests move time explicitly)."""

    def __init__(self, now: datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@dataclass
class BuiltApp:
    """The API's app of one database, built once a session (per xdist worker): building it
    (flask-smorest's spec) took longer than most tests. ``config`` and ``extensions`` are what
    create_app left in it; tests/webapi/conftest.py's ``app`` puts them back after each test."""

    app: Any
    config: dict[str, Any]
    extensions: dict[str, Any]


@pytest.fixture(scope="session")
def built_app(database_url: str) -> Iterator[BuiltApp]:
    import copy

    from carepath.webapi import create_app

    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": database_url,
            "FIELD_KEYS": FIELD_KEYS,
            "LOOKUP_KEY": LOOKUP_KEY,
            "SECRET_KEY": "test-only-session-key",
            "PASSWORD_HASHER": "test",  # argon2id with argon2-cffi's cheapest parameters
        }
    )
    yield BuiltApp(app, copy.deepcopy(dict(app.config)), dict(app.extensions))
    app.extensions["carepath.db"].dispose()


def set_hospital_settings(database: Any, hospital_id: str, **values: Any) -> Any:
    """Store a hospital's settings the way staff change them (validated, audited); the
    window and the daily cap the dispatcher and the engine use come from here."""
    from carepath.store import hospital_settings
    from carepath.store.scope import Actor

    with database.transaction() as session:
        return hospital_settings.update(
            session, hospital_id, values, actor=Actor(hospital_id, "test", "fixture"), now=NOW
        )


def approve_item(database: Any, hospital_id: str, kind: str, name: str) -> Any:
    """A reviewer approves the hospital's copy of a shipped content item or form: drafted,
    submitted, approved and published through the editor's services (the published version)."""
    from carepath.store import drafting, publishing, reviewing
    from carepath.store.authoring import Editor

    author = Editor(901, hospital_id, "测试作者", frozenset({"content_author"}), frozenset({"content.edit"}))
    reviewer = Editor(902, hospital_id, "测试审核", frozenset({"reviewer"}), frozenset({"content.review"}))
    with database.transaction() as session:
        draft, _ = drafting.start_draft(session, author, kind, name, now=NOW)
        drafting.submit(session, author, draft.id, now=NOW)
        reviewing.review(session, reviewer, draft.id, "approve", "已审核", now=NOW)
        return publishing.publish(session, reviewer, draft.id, now=NOW)


def resident_id(n: int, born: str = "19900412", region: str = "330102") -> str:
    """A synthetic resident ID number (GB 11643-1999) that passes every check: a woman's (even)
    sequence, one per ``n`` below 500, and its MOD 11-2 check character computed here,
    independently of carepath's own code. Made up, never a copied real number."""
    body = f"{region}{born}{(2 * n) % 1000:03d}"
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    return body + "10X98765432"[sum(int(d) * w for d, w in zip(body, weights, strict=True)) % 11]
