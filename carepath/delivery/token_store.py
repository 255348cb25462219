"""A ``TokenStore`` in the database (``provider_tokens``), for deployments without Redis: every
process that sends for an account shares one cached token, and refreshes it under a lock.

- **The lock** is a transaction holding the account's row: ``SELECT ... FOR UPDATE`` on
  PostgreSQL (with ``lock_timeout``; the row lock is per schema, unlike an advisory lock, and
  dies with a killed holder's connection), SQLite's write lock (``BEGIN IMMEDIATE`` with the
  busy timeout) on SQLite. Whatever ``get`` and ``put`` the holder does runs in that same
  transaction, so the refresh is committed when the lock is released.
- **Reads** outside the lock come from a per-process copy while it has not expired, so a send
  costs no database round trip; a token another process has since replaced is met as WeChat's
  40001, and ``AccessTokens.replace`` then reads the row under the lock (never the copy) and
  takes the newer token without refreshing again.

The token is a credential valid for two hours, not patient data; it is stored as WeChat
issued it (as in Redis).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from datetime import UTC, datetime

from sqlalchemy import Connection, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from carepath.channels.base import CachedToken, Clock, RetryableError, utc_now
from carepath.store.db import Database
from carepath.store.models import ProviderToken

_NEVER = datetime(1970, 1, 1, tzinfo=UTC)
#: The busy timeout every SQLite connection of ``store.db.make_engine`` has (restored after).
_SQLITE_BUSY_MS = 30_000


def _busy_timeout(conn: Connection, millis: int) -> None:
    """Set on the driver's connection directly: through SQLAlchemy it would BEGIN first."""
    driver = conn.connection.driver_connection
    assert driver is not None
    driver.execute(f"PRAGMA busy_timeout = {millis}")


class DatabaseTokenStore:
    def __init__(self, db: Database, *, clock: Clock = utc_now) -> None:
        self._db = db
        self._clock = clock
        self._postgres = db.engine.dialect.name == "postgresql"
        self._held = threading.local()  # key -> the session holding its lock, per thread
        self._copies: dict[str, CachedToken] = {}
        self._guard = threading.Lock()

    # --- the protocol ------------------------------------------------------------------------

    def get(self, key: str) -> CachedToken | None:
        session = self._session_holding(key)
        if session is None:
            with self._guard:
                token = self._copies.get(key)
            if token is not None and self._valid(token):
                return token
            with self._db.reading() as reader:
                token = self._read(reader, key)
        else:
            token = self._read(session, key)
        self._remember(key, token)
        return token if token is not None and self._valid(token) else None

    def put(self, key: str, token: CachedToken) -> None:
        session = self._session_holding(key)
        if session is not None:  # this process's copy follows when the lock's transaction commits
            self._write(session, key, token)
            session.info["token"] = token
            return
        self._ensure_row(key)
        with self._db.transaction() as writer:
            self._write(writer, key, token)
        self._remember(key, token)

    @contextlib.contextmanager
    def lock(self, key: str, timeout: float) -> Iterator[None]:
        """The account's row locked in a transaction for the block (``RetryableError`` when it
        cannot be had within ``timeout`` seconds); the block's ``put`` commits with it."""
        if self._session_holding(key) is not None:
            raise RuntimeError(f"token lock {key!r} is not reentrant")
        millis = max(int(timeout * 1000), 1)
        if self._postgres:
            self._ensure_row(key)
        with self._db.engine.connect() as conn:
            if not self._postgres:  # before BEGIN IMMEDIATE, which waits this long for the lock
                _busy_timeout(conn, millis)
            try:
                with Session(bind=conn, expire_on_commit=False) as session:
                    try:
                        if self._postgres:
                            session.execute(text(f"SET LOCAL lock_timeout = {millis}"))
                            session.execute(
                                select(ProviderToken.key).where(ProviderToken.key == key).with_for_update()
                            )
                        else:
                            session.connection()  # BEGIN IMMEDIATE: SQLite's write lock
                    except OperationalError as exc:
                        raise RetryableError(f"token lock {key!r} busy for {timeout} s") from exc
                    self._set_holding(key, session)
                    try:
                        yield
                        session.commit()
                        if "token" in session.info:
                            self._remember(key, session.info["token"])
                    finally:
                        self._set_holding(key, None)
            finally:
                if not self._postgres:
                    _busy_timeout(conn, _SQLITE_BUSY_MS)

    # --- helpers -----------------------------------------------------------------------------

    def _valid(self, token: CachedToken) -> bool:
        return bool(token.value) and token.expires_at > self._clock()

    def _remember(self, key: str, token: CachedToken | None) -> None:
        with self._guard:
            if token is None or not token.value:
                self._copies.pop(key, None)
            else:
                self._copies[key] = token

    def _session_holding(self, key: str) -> Session | None:
        held: dict[str, Session] = getattr(self._held, "sessions", {})
        return held.get(key)

    def _set_holding(self, key: str, session: Session | None) -> None:
        held: dict[str, Session] = self._held.__dict__.setdefault("sessions", {})
        if session is None:
            held.pop(key, None)
        else:
            held[key] = session

    @staticmethod
    def _read(session: Session, key: str) -> CachedToken | None:
        row = session.get(ProviderToken, key, populate_existing=True)
        if row is None or not row.value:
            return None
        return CachedToken(row.value, row.expires_at)

    def _write(self, session: Session, key: str, token: CachedToken) -> None:
        row = session.get(ProviderToken, key)
        if row is None:
            row = ProviderToken(key=key)
            session.add(row)
        row.value, row.expires_at, row.updated_at = token.value, token.expires_at, self._clock()

    def _ensure_row(self, key: str) -> None:
        """PostgreSQL: the row to lock exists (two processes inserting it at once both succeed)."""
        if not self._postgres:
            return
        with self._db.transaction() as session:
            session.execute(
                pg_insert(ProviderToken)
                .values(key=key, value="", expires_at=_NEVER, updated_at=self._clock())
                .on_conflict_do_nothing(index_elements=["key"])
            )
