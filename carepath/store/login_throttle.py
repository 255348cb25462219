"""Failed logins counted per ``user:<username>`` and per ``ip:<address>`` in the database.

Every process shares the count and a restart forgets nothing. Within ``window``, the limit's
failures lock the key for ``lock``; a lock refuses even the right password until it passes.
One address is shared by a whole ward behind the hospital's NAT, so it is allowed more.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from carepath.errors import CarepathError
from carepath.store.models import LoginThrottle
from carepath.store.passwords import normal_username


class LoginLockedError(CarepathError):
    """Too many failed logins for this username or address; try again after ``retry_after`` s."""

    code = "login-locked"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True)
class ThrottleLimits:
    """Failures allowed within ``window`` before a ``lock``. One address is shared by a whole
    ward behind the hospital's NAT, so it is allowed more than one username."""

    per_username: int = 5
    per_address: int = 20
    window: timedelta = timedelta(minutes=15)
    lock: timedelta = timedelta(minutes=15)


def throttle_keys(username: str, remote_addr: str | None) -> list[tuple[str, str]]:
    """(key, kind) pairs; kind picks the limit."""
    keys = [(f"user:{normal_username(username)[:150]}", "user")]
    if remote_addr:
        keys.append((f"ip:{remote_addr[:64]}", "ip"))
    return keys


def locked_for(session: Session, keys: list[tuple[str, str]], now: datetime) -> int:
    """Seconds until every lock on ``keys`` has passed (0: not locked)."""
    rows = session.scalars(select(LoginThrottle).where(LoginThrottle.key.in_([k for k, _ in keys])))
    wait = 0
    for row in rows:
        if row.locked_until is not None and row.locked_until > now:
            wait = max(wait, math.ceil((row.locked_until - now).total_seconds()))
    return wait


def record_failure(
    session: Session, keys: list[tuple[str, str]], limits: ThrottleLimits, now: datetime
) -> int:
    """Count one failure on each key; the lock in seconds if one is now reached (else 0)."""
    dialect = session.get_bind().dialect.name
    insert: Any = pg_insert if dialect == "postgresql" else sqlite_insert
    wait = 0
    for key, kind in keys:
        # Insert-or-nothing, then lock the row: two processes failing at once both count.
        session.execute(
            insert(LoginThrottle)
            .values(key=key, failures=0, first_failure_at=now, locked_until=None)
            .on_conflict_do_nothing()
        )
        row = session.scalars(select(LoginThrottle).where(LoginThrottle.key == key).with_for_update()).one()
        expired_lock = row.locked_until is not None and row.locked_until <= now
        if expired_lock or row.first_failure_at + limits.window < now:
            row.failures, row.first_failure_at, row.locked_until = 0, now, None
        row.failures += 1
        limit = limits.per_username if kind == "user" else limits.per_address
        if row.failures >= limit:
            row.locked_until = now + limits.lock
            wait = max(wait, int(limits.lock.total_seconds()))
    return wait


def lock_message(seconds: int) -> str:
    minutes = max(1, (seconds + 59) // 60)
    return f"too many failed logins; try again in {minutes} minute(s)"
