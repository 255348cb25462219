"""Where the nonces of verified signed requests are kept until their window passes: one
protocol (``NonceStore``), two implementations chosen by a setting, one contract test
(``tests/store/test_nonces.py``) run against both.

- ``DatabaseNonceStore`` (the embedded default): a row per (key id, nonce) in
  ``request_nonces``. The check is one atomic statement, ``INSERT ... ON CONFLICT DO UPDATE ...
  WHERE expired``: it inserts a new nonce, takes over a row whose window has passed but is not
  purged yet, and changes nothing for a live one, so exactly one of any number of concurrent
  claims wins, on SQLite (its write lock) and PostgreSQL (the primary key's unique index)
  alike. ``claim`` runs it in its own short transaction; ``claim_in`` in the caller's (the HIS
  event's, issue 22: one connection, one commit per event; ``webapi/auth/replay.py`` says why
  the guarantee holds when that transaction rolls back). Expired rows are purged a page at a
  time by the claims themselves, at most once a minute per process while nothing is left over,
  always in a transaction of their own (after the caller's has ended).
- ``RedisNonceStore`` (when ``CAREPATH_REDIS_URL`` is set): ``SET key 1 NX PX ttl``; Redis
  expires the key itself.

A store that cannot answer raises ``NonceStoreUnavailableError``: the request is refused (503),
never let through unchecked.
"""

from __future__ import annotations

import logging
import math
import threading
from datetime import datetime, timedelta
from typing import Protocol

import redis
from sqlalchemy import Connection, bindparam, delete, select, tuple_
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import Session

from carepath.errors import CarepathError
from carepath.store.db import Database
from carepath.store.models import RequestNonce

log = logging.getLogger(__name__)


class NonceStoreUnavailableError(CarepathError):
    """The nonce store could not be asked (database busy or gone, Redis down)."""

    code = "replay-check-unavailable"


class NonceStore(Protocol):
    def claim(self, key_id: str, nonce: str, *, expires_at: datetime, now: datetime) -> bool:
        """Keep ``(key_id, nonce)`` until ``expires_at``: True when it was not held (the first
        use), False when it is (a replay). ``NonceStoreUnavailableError`` when it cannot tell."""
        ...


class DatabaseNonceStore:
    def __init__(
        self, db: Database, *, purge_every: timedelta = timedelta(minutes=1), purge_page: int = 1000
    ) -> None:
        self._db = db
        self._postgres = db.engine.dialect.name == "postgresql"
        self._purge_every = purge_every
        self._purge_page = purge_page
        self._next_purge: datetime | None = None  # by the callers' clock; None: at the first claim
        self._guard = threading.Lock()
        # Built once: a request pays for executing it, not for building it again.
        insert = pg_insert if self._postgres else sqlite_insert
        statement = insert(RequestNonce).values(
            key_id=bindparam("key_id"), nonce=bindparam("nonce"), expires_at=bindparam("expires_at")
        )
        self._claim = statement.on_conflict_do_update(
            index_elements=[RequestNonce.key_id, RequestNonce.nonce],
            set_={"expires_at": statement.excluded.expires_at},
            where=RequestNonce.expires_at < bindparam("now"),  # a row past its window, not purged yet
        ).returning(RequestNonce.nonce)  # a row back: inserted or taken over; none: held

    def claim(self, key_id: str, nonce: str, *, expires_at: datetime, now: datetime) -> bool:
        try:
            with self._db.engine.begin() as conn:  # its own short transaction
                claimed = self._claimed(conn, key_id, nonce, expires_at, now)
        except (OperationalError, InterfaceError) as exc:
            raise NonceStoreUnavailableError(f"the nonce store did not answer: {exc.orig}") from exc
        self._purge_when_due(now)
        return claimed

    def claim_in(
        self, session: Session, key_id: str, nonce: str, *, expires_at: datetime, now: datetime
    ) -> bool:
        """``claim`` in the caller's transaction (``session``): kept if it commits, gone if it
        rolls back. The purge waits for that transaction's end (on SQLite it holds the lock)."""
        try:
            claimed = self._claimed(session.connection(), key_id, nonce, expires_at, now)
        except (OperationalError, InterfaceError) as exc:
            raise NonceStoreUnavailableError(f"the nonce store did not answer: {exc.orig}") from exc
        self._db.after_transaction(lambda: self._purge_when_due(now))
        return claimed

    def _claimed(
        self, conn: Connection, key_id: str, nonce: str, expires_at: datetime, now: datetime
    ) -> bool:
        values = {"key_id": key_id, "nonce": nonce, "expires_at": expires_at, "now": now}
        return conn.execute(self._claim, values).first() is not None

    def purge(self, now: datetime, *, limit: int = 1000) -> int:
        """Delete up to ``limit`` rows whose window has passed; how many went."""
        expired = (
            select(RequestNonce.key_id, RequestNonce.nonce)
            .where(RequestNonce.expires_at < now)
            .order_by(RequestNonce.expires_at)
            .limit(limit)
        )
        if self._postgres:  # two processes purging at once take different rows
            expired = expired.with_for_update(skip_locked=True)
        statement = delete(RequestNonce).where(tuple_(RequestNonce.key_id, RequestNonce.nonce).in_(expired))
        with self._db.engine.begin() as conn:
            return conn.execute(statement).rowcount

    def _purge_when_due(self, now: datetime) -> None:
        with self._guard:
            if self._next_purge is not None and now < self._next_purge:
                return
            self._next_purge = now + self._purge_every
        try:
            purged = self.purge(now, limit=self._purge_page)
        except (OperationalError, InterfaceError):
            # Housekeeping: the nonce is claimed, the request goes on; the next purge retries.
            log.warning("purging expired request nonces failed", exc_info=True)
            return
        if purged >= self._purge_page:  # more left over: the next claim takes another page
            with self._guard:
                self._next_purge = now


class RedisNonceStore:
    def __init__(self, client: redis.Redis, *, prefix: str = "carepath:nonce:") -> None:
        self._redis = client
        self._prefix = prefix

    def claim(self, key_id: str, nonce: str, *, expires_at: datetime, now: datetime) -> bool:
        # A TTL rather than an absolute time: the callers' clock and Redis's may differ.
        ttl_ms = max(math.ceil((expires_at - now).total_seconds() * 1000), 1)
        try:
            return bool(self._redis.set(f"{self._prefix}{key_id}:{nonce}", b"1", nx=True, px=ttl_ms))
        except redis.RedisError as exc:
            raise NonceStoreUnavailableError(f"the nonce store did not answer: {exc}") from exc
