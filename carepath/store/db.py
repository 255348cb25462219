"""Database engines and sessions for SQLite (embedded default) and PostgreSQL (production).

Services own the session and the transaction (``Database.transaction``); views and commands
only call services. On SQLite every transaction starts with ``BEGIN IMMEDIATE`` so that two
writers queue instead of failing half-way; on PostgreSQL the pregnancy row is locked with
``SELECT ... FOR UPDATE`` by the evaluation service.

Work that must not run inside the caller's transaction (an audit row that has to survive the
caller's rollback, and on SQLite could not be written while the caller holds the write lock)
is handed to ``Database.after_transaction``: it runs once this thread's outermost transaction
of that database has ended, committed or rolled back.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.orm import Session, sessionmaker

DEFAULT_URL = "sqlite:///carepath.db"
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for ``url``; SQLite gets foreign keys, WAL and immediate transactions."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            if ":memory:" not in url and url != "sqlite://":
                cursor.execute("PRAGMA journal_mode=WAL")
                cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    return create_engine(url, pool_pre_ping=True, **kwargs)


class Database:
    """One engine and its session factory; ``init_app`` keeps it on a Flask app."""

    def __init__(self, url: str = DEFAULT_URL, **engine_kwargs: Any) -> None:
        self.url = url
        self.engine = make_engine(url, **engine_kwargs)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._local = threading.local()  # per thread: open transactions, work waiting on them

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session in one transaction: committed on success, rolled back on any error."""
        with self._tracked(), self.sessions() as session, session.begin():
            yield session

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A session for reads (still one transaction, so audit rows can be added)."""
        with self._tracked(), self.sessions() as session, session.begin():
            yield session

    def in_transaction(self) -> bool:
        """Whether this thread is inside ``transaction()`` or ``reading()`` of this database."""
        return bool(getattr(self._local, "depth", 0))

    def after_transaction(self, work: Callable[[], None]) -> None:
        """Run ``work`` now when this thread holds no transaction of this database, else as soon
        as its outermost one has ended (committed or rolled back, its connection returned)."""
        if not self.in_transaction():
            work()
            return
        self._local.waiting.append(work)

    @contextmanager
    def _tracked(self) -> Iterator[None]:
        local = self._local
        depth = getattr(local, "depth", 0)
        if depth == 0:
            local.waiting = []
        local.depth = depth + 1
        try:
            yield
        finally:
            local.depth = depth
            if depth == 0:
                waiting, local.waiting = local.waiting, []
                for work in waiting:
                    work()

    def ping(self) -> bool:
        with self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return True

    def dispose(self) -> None:
        self.engine.dispose()


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the schema at ``url`` to ``revision`` (``carepath db upgrade``)."""
    command.upgrade(alembic_config(url), revision)


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
