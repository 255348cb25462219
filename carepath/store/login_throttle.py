"""Failed logins counted in the database, on three keys, so every process sees one count.

- ``pair:<username>|<address>``: a username guessed from one address. Five failures lock that
  pair for a while; the same person from another address is not locked, so anyone who knows a
  doctor's username cannot lock her out with a handful of requests.
- ``ip:<address>``: one address guessing many usernames. One address is shared by a whole ward
  behind the hospital's NAT, so it is allowed more; it too locks for a while.
- ``user:<username>``: the account's ceiling, failures from any address. Reaching it *holds*
  the username (``held_at``) until an admin unlocks it (``accounts.unlock``): a guesser
  spreading over many addresses gets no more than the ceiling's tries an hour.

Every key is made from the normalised username (``normal_username``: case and surrounding
whitespace do not make a new key) and exists for unknown usernames as for real ones, so neither
the count nor the lock tells whether a username exists. Windows are fixed: they start at the
first failure and a new count starts after them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from carepath.errors import CarepathError
from carepath.store.models import LoginThrottle, Staff
from carepath.store.passwords import normal_username
from carepath.store.scope import Actor, audit

#: Longest username kept in a key (a real one has at most 64 characters; longer input is kept
#: to this length so it cannot bloat the table, and can never match an account).
KEY_NAME_LENGTH = 120
KEY_ADDRESS_LENGTH = 64


class LoginLockedError(CarepathError):
    """Too many failed logins. ``held``: the account's ceiling, until an admin unlocks it
    (code ``account-locked``); otherwise try again after ``retry_after`` s (``login-locked``)."""

    code = "login-locked"

    def __init__(self, message: str, retry_after: int, *, held: bool = False) -> None:
        super().__init__(message, code="account-locked" if held else None)
        self.retry_after = retry_after
        self.held = held


@dataclass(frozen=True)
class ThrottleLimits:
    """Failures allowed within a window before a lock, per key kind (see the module)."""

    per_username: int = 5  # one username from one address
    per_address: int = 20
    window: timedelta = timedelta(minutes=15)
    lock: timedelta = timedelta(minutes=15)
    account_ceiling: int = 20  # one username from any address: held until unlocked
    account_window: timedelta = timedelta(hours=1)


@dataclass(frozen=True)
class Lock:
    """What locks a login: ``held`` until an admin unlocks, else ``retry_after`` seconds."""

    retry_after: int = 0
    held: bool = False

    def __bool__(self) -> bool:
        return self.held or self.retry_after > 0

    def error(self) -> LoginLockedError:
        return LoginLockedError(lock_message(self), self.retry_after, held=self.held)


@dataclass(frozen=True)
class Failure:
    """One failure counted: the lock it leaves, and whether it just reached the ceiling."""

    lock: Lock
    newly_held: bool
    account_failures: int


def login_name(username: str) -> str:
    """The username as the throttle and the account lookup see it. NUL and lone surrogates,
    which no username has and PostgreSQL cannot store, become U+FFFD and "?": an unknown name."""
    name = normal_username(username)[:KEY_NAME_LENGTH].replace("\x00", "\ufffd")
    return name.encode("utf-8", "replace").decode("utf-8")


def throttle_keys(username: str, remote_addr: str | None) -> list[tuple[str, str]]:
    """(key, kind) pairs, in the order rows are locked (the same order everywhere, so two
    transactions never wait on each other crosswise); kind picks the limit."""
    name = login_name(username)
    address = (remote_addr or "")[:KEY_ADDRESS_LENGTH]
    keys = [(f"user:{name}", "account"), (f"pair:{name}|{address}", "pair")]
    if remote_addr:
        keys.append((f"ip:{address}", "address"))
    return keys


def locked_for(session: Session, keys: list[tuple[str, str]], now: datetime) -> Lock:
    """The lock on ``keys`` now (falsy: none)."""
    rows = session.scalars(select(LoginThrottle).where(LoginThrottle.key.in_([k for k, _ in keys])))
    wait, held = 0, False
    for row in rows:
        held = held or row.held_at is not None
        if row.locked_until is not None and row.locked_until > now:
            wait = max(wait, math.ceil((row.locked_until - now).total_seconds()))
    return Lock(wait, held)


def record_failure(
    session: Session, keys: list[tuple[str, str]], limits: ThrottleLimits, now: datetime
) -> Failure:
    """Count one failure on each key, in a transaction the caller commits."""
    dialect = session.get_bind().dialect.name
    insert: Any = pg_insert if dialect == "postgresql" else sqlite_insert
    wait, held, newly_held, account_failures = 0, False, False, 0
    for key, kind in keys:
        # Insert-or-nothing, then lock the row: two processes failing at once both count.
        session.execute(
            insert(LoginThrottle)
            .values(key=key, failures=0, first_failure_at=now, locked_until=None, held_at=None)
            .on_conflict_do_nothing()
        )
        row = session.scalars(select(LoginThrottle).where(LoginThrottle.key == key).with_for_update()).one()
        if kind == "account":
            newly_held = _count_towards_ceiling(row, limits, now)
            held, account_failures = row.held_at is not None, row.failures
            continue
        expired_lock = row.locked_until is not None and row.locked_until <= now
        if expired_lock or row.first_failure_at + limits.window < now:
            row.failures, row.first_failure_at, row.locked_until = 0, now, None
        row.failures += 1
        limit = limits.per_username if kind == "pair" else limits.per_address
        if row.failures >= limit:
            row.locked_until = now + limits.lock
            wait = max(wait, int(limits.lock.total_seconds()))
    return Failure(Lock(wait, held), newly_held, account_failures)


def _count_towards_ceiling(row: LoginThrottle, limits: ThrottleLimits, now: datetime) -> bool:
    """Count one failure on a ``user:`` row; whether this one reached the ceiling."""
    if row.held_at is None and row.first_failure_at + limits.account_window < now:
        row.failures, row.first_failure_at = 0, now
    row.failures += 1
    if row.held_at is None and row.failures >= limits.account_ceiling:
        row.held_at = now
        return True
    return False


def forget_success(session: Session, keys: list[tuple[str, str]]) -> None:
    """A right password clears its own username-and-address count, and nothing else: the
    ceiling keeps counting what other addresses tried, and an address its other guesses."""
    pairs = [key for key, kind in keys if kind == "pair"]
    session.execute(delete(LoginThrottle).where(LoginThrottle.key.in_(pairs)))


def clear_username(session: Session, username: str, now: datetime) -> int:
    """Drop every count and lock of ``username`` (its ceiling and its pairs, from any address);
    how many of those rows were holding or locking it."""
    name = login_name(username)
    # the ceiling's row first, then the pairs: the order a failing login locks them in
    ceiling = LoginThrottle.key == f"user:{name}"
    pairs = LoginThrottle.key.startswith(f"pair:{name}|", autoescape=True)
    rows = [
        *session.scalars(select(LoginThrottle).where(ceiling).with_for_update()),
        *session.scalars(select(LoginThrottle).where(pairs).order_by(LoginThrottle.key).with_for_update()),
    ]
    locked = sum(1 for row in rows if row.held_at is not None or (row.locked_until or now) > now)
    session.execute(delete(LoginThrottle).where(or_(ceiling, pairs)))
    return locked


def account_lock(session: Session, staff: Staff | None, keys: list[tuple[str, str]], now: datetime) -> Lock:
    """The lock on a login to ``staff`` (None: an unknown username) through ``keys``: the
    throttle's, or the account's own lock, which holds after a rename too."""
    lock = locked_for(session, keys, now)
    if staff is not None and staff.locked_at is not None:
        return Lock(lock.retry_after, held=True)
    return lock


def hold_account(
    session: Session,
    staff: Staff | None,
    who: Actor,
    *,
    name: str,
    failures: int,
    limits: ThrottleLimits,
    now: datetime,
) -> None:
    """The ceiling is reached: lock the account (when there is one) until an admin unlocks it,
    and audit the lock (an unknown username's too: that is what probing looks like)."""
    minutes = int(limits.account_window.total_seconds() // 60)
    reason = f"{failures} failed logins within {minutes} minutes"
    if staff is not None:
        staff.locked_at, staff.locked_reason = now, reason
    target = f"staff:{staff.id} {name}" if staff is not None else f"{name!r} (no such account)"
    audit(session, who, "account-locked", now, f"{target}: {reason}; locked until an admin unlocks it")


def lock_message(lock: Lock) -> str:
    if lock.held:
        return "too many failed logins; the account is locked until an administrator unlocks it"
    minutes = max(1, (lock.retry_after + 59) // 60)
    return f"too many failed logins; try again in {minutes} minute(s)"
