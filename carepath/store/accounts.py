"""Staff logins: accounts, argon2id passwords, browser sessions, login throttling.

Each public function is one transaction (the service owns the session). Passwords are hashed
with argon2id (argon2-cffi; RFC 9106's low-memory profile unless the app asks otherwise) and
rehashed at login when the parameters change. A session token is random; only its SHA-256 is
stored, so a copy of the database logs nobody in. Failed logins are counted per username and
per address in ``login_throttle``: every process sees the same count, and a restart forgets
nothing. Every login, logout, failed login, lock, password change and role change is written
to the audit log.
"""

from __future__ import annotations

import hashlib
import math
import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from argon2 import PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from carepath.errors import CarepathError
from carepath.store.db import Database
from carepath.store.models import Hospital, LoginThrottle, Staff, StaffSession
from carepath.store.roles import ROLES, check_roles, permissions_of
from carepath.store.scope import Actor, audit
from carepath.store.tenants import UnknownHospitalError

USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 200  # argon2 takes any length; this bounds the work a request can ask for
#: How often a session's ``last_seen_at`` is written (not on every request).
TOUCH_EVERY = timedelta(seconds=60)

#: argon2id parameter sets by name (``PASSWORD_HASHER`` in the app config). ``test`` is
#: argon2-cffi's cheapest set, for the test suite only.
HASHER_PROFILES = {
    "rfc9106-low-memory": profiles.RFC_9106_LOW_MEMORY,
    "rfc9106-high-memory": profiles.RFC_9106_HIGH_MEMORY,
    "test": profiles.CHEAPEST,
}


class AccountError(CarepathError):
    """A request about a staff account that cannot be done; ``field`` names the input at fault."""

    code = "invalid-account"

    def __init__(self, message: str, *, code: str | None = None, field: str | None = None) -> None:
        super().__init__(message, code=code)
        self.field = field


class StaffNotFoundError(CarepathError):
    """No such staff member in the caller's hospital (another hospital's is not found)."""

    code = "staff-not-found"


class LoginFailedError(CarepathError):
    """Wrong username or password, or a disabled account: the same answer for each."""

    code = "login-failed"


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


@dataclass(frozen=True)
class SessionLimits:
    idle: timedelta = timedelta(minutes=30)
    absolute: timedelta = timedelta(hours=12)


@dataclass(frozen=True)
class StaffIdentity:
    """Who a session belongs to, as views see it (``current_staff()``)."""

    staff_id: int
    hospital_id: str
    username: str
    name: str
    roles: tuple[str, ...]
    permissions: frozenset[str] = field(default_factory=frozenset)

    def actor(self, remote_addr: str | None) -> Actor:
        return Actor(self.hospital_id, "staff", str(self.staff_id), remote_addr)

    def can(self, permission: str) -> bool:
        return permission in self.permissions


@dataclass(frozen=True)
class StaffView:
    """A staff member as the admin screen lists them."""

    id: int
    hospital_id: str
    username: str | None
    name: str
    job: str
    roles: tuple[str, ...]
    disabled: bool
    last_login_at: datetime | None
    created_at: datetime | None


@dataclass(frozen=True)
class LoginResult:
    token: str  # goes into the session cookie; only its hash is stored
    identity: StaffIdentity


@dataclass(frozen=True)
class SessionCheck:
    """``identity`` when the session is valid; otherwise ``reason``: unknown, expired, ended."""

    identity: StaffIdentity | None
    reason: str | None = None


@cache
def hasher(profile: str = "rfc9106-low-memory") -> PasswordHasher:
    if profile not in HASHER_PROFILES:
        raise AccountError(f"unknown PASSWORD_HASHER {profile!r}; one of {', '.join(HASHER_PROFILES)}")
    return PasswordHasher.from_parameters(HASHER_PROFILES[profile])


@cache
def _dummy_hash(profile: str) -> str:
    """A hash to verify against when the username is unknown, so both cost the same time."""
    return hasher(profile).hash(secrets.token_urlsafe(16))


def token_id(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def normal_username(username: str) -> str:
    return username.strip().lower()


def check_username(username: str) -> str:
    name = normal_username(username)
    if not USERNAME.match(name):
        raise AccountError(
            "a username is 2-64 letters, digits, '.', '_' or '-', starting with a letter or digit",
            code="invalid-username",
            field="username",
        )
    return name


def check_password(password: str, username: str | None = None) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(
            f"a password has at least {MIN_PASSWORD_LENGTH} characters",
            code="password-too-short",
            field="password",
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        raise AccountError(
            f"a password has at most {MAX_PASSWORD_LENGTH} characters",
            code="password-too-long",
            field="password",
        )
    if username and normal_username(password) == normal_username(username):
        raise AccountError(
            "the password must not be the username", code="password-is-username", field="password"
        )


def _roles(roles: list[str] | tuple[str, ...]) -> list[str]:
    try:
        return check_roles(roles)
    except ValueError as exc:
        raise AccountError(str(exc), code="unknown-role", field="roles") from None


def _view(staff: Staff) -> StaffView:
    return StaffView(
        id=staff.id,
        hospital_id=staff.hospital_id,
        username=staff.username,
        name=staff.name,
        job=staff.role,
        roles=tuple(staff.roles or ()),
        disabled=staff.disabled_at is not None,
        last_login_at=staff.last_login_at,
        created_at=staff.created_at,
    )


def _identity(staff: Staff) -> StaffIdentity:
    roles = tuple(staff.roles or ())
    return StaffIdentity(
        staff.id, staff.hospital_id, staff.username or "", staff.name, roles, permissions_of(roles)
    )


# --- accounts -------------------------------------------------------------------------------


def create_account(
    db: Database,
    hospital_id: str,
    username: str,
    password: str,
    roles: list[str] | tuple[str, ...],
    *,
    now: datetime,
    name: str | None = None,
    job: str | None = None,
    by: Actor | None = None,
    profile: str = "rfc9106-low-memory",
) -> StaffView:
    """A new staff member with a login; ``by`` is the admin who created it (None: the CLI)."""
    username = check_username(username)
    check_password(password, username)
    wanted = _roles(roles)
    if not wanted:
        raise AccountError("give at least one role", code="no-role", field="roles")
    password_hash = hasher(profile).hash(password)
    with db.transaction() as session:
        if session.get(Hospital, hospital_id) is None:
            raise UnknownHospitalError(f"no hospital {hospital_id}")
        if session.scalar(select(Staff.id).where(Staff.username == username)) is not None:
            raise AccountError(f"the username {username!r} is taken", code="username-taken", field="username")
        staff = Staff(
            hospital_id=hospital_id,
            name=(name or username)[:100],
            role=(job or wanted[0])[:40],
            username=username,
            password_hash=password_hash,
            roles=wanted,
            session_generation=0,
            password_changed_at=now,
            created_at=now,
        )
        session.add(staff)
        session.flush()
        actor = by or Actor(hospital_id, "cli", "staff-create")
        audit(session, actor, "staff-create", now, f"staff:{staff.id} {username} roles={','.join(wanted)}")
        return _view(staff)


def list_staff(db: Database, hospital_id: str) -> list[StaffView]:
    """The hospital's staff, by name; never another hospital's."""
    with db.reading() as session:
        rows = session.scalars(
            select(Staff).where(Staff.hospital_id == hospital_id).order_by(Staff.name, Staff.id)
        )
        return [_view(s) for s in rows]


def get_staff(db: Database, hospital_id: str, staff_id: int) -> StaffView:
    with db.reading() as session:
        return _view(_owned_staff(session, hospital_id, staff_id))


def _owned_staff(session: Session, hospital_id: str, staff_id: int, *, lock: bool = False) -> Staff:
    query = select(Staff).where(Staff.id == staff_id, Staff.hospital_id == hospital_id)
    staff = session.scalar(query.with_for_update() if lock else query)
    if staff is None:
        raise StaffNotFoundError(f"no staff member {staff_id} in hospital {hospital_id}")
    return staff


def _active_admins(session: Session, hospital_id: str) -> list[int]:
    rows = session.scalars(select(Staff).where(Staff.hospital_id == hospital_id, Staff.disabled_at.is_(None)))
    return [s.id for s in rows if "admin" in (s.roles or ()) and s.password_hash]


def update_staff(
    db: Database,
    actor: Actor,
    staff_id: int,
    now: datetime,
    *,
    name: str | None = None,
    job: str | None = None,
    roles: list[str] | tuple[str, ...] | None = None,
    disabled: bool | None = None,
    username: str | None = None,
    new_password: str | None = None,
    profile: str = "rfc9106-low-memory",
) -> StaffView:
    """Change a staff member of the actor's hospital. Role changes, disabling and a password
    set by the admin are audited one by one; disabling or a new password ends their sessions.
    The hospital's last active admin cannot lose the role or be disabled."""
    with db.transaction() as session:
        staff = _owned_staff(session, actor.hospital_id, staff_id, lock=True)
        if name is not None:
            if not name.strip():
                raise AccountError("a name is required", code="name-required", field="name")
            staff.name = name.strip()[:100]
        if job is not None and job.strip():
            staff.role = job.strip()[:40]
        if username is not None and normal_username(username) != staff.username:
            wanted_name = check_username(username)
            taken = session.scalar(
                select(Staff.id).where(Staff.username == wanted_name, Staff.id != staff.id)
            )
            if taken is not None:
                raise AccountError(
                    f"the username {wanted_name!r} is taken", code="username-taken", field="username"
                )
            staff.username = wanted_name
        admins_before = _active_admins(session, actor.hospital_id)
        if roles is not None:
            wanted = _roles(roles)
            before = list(staff.roles or ())
            if wanted != before:
                staff.roles = wanted
                change = f"{','.join(before) or '-'} -> {','.join(wanted) or '-'}"
                audit(session, actor, "role-change", now, f"staff:{staff.id} {staff.username}: {change}")
        if disabled is not None and disabled != (staff.disabled_at is not None):
            staff.disabled_at = now if disabled else None
            if disabled:
                _end_sessions(session, staff)
            audit(session, actor, "staff-disable" if disabled else "staff-enable", now, f"staff:{staff.id}")
        if new_password:
            check_password(new_password, staff.username)
            staff.password_hash = hasher(profile).hash(new_password)
            staff.password_changed_at = now
            _end_sessions(session, staff)
            audit(session, actor, "password-reset", now, f"staff:{staff.id} by an admin")
        session.flush()
        if admins_before and not _active_admins(session, actor.hospital_id):
            raise AccountError(
                "the hospital's last active admin cannot lose the admin role or be disabled",
                code="last-admin",
                field="roles",
            )
        return _view(staff)


def _end_sessions(session: Session, staff: Staff) -> None:
    """Every session of ``staff`` ends at its next request, which is told it has ``ended``
    (the rows go at that request, or at the staff member's next login)."""
    staff.session_generation = (staff.session_generation or 0) + 1


def _purge_sessions(session: Session, staff: Staff, now: datetime) -> None:
    """Drop the staff member's ended sessions and those unused for a day."""
    session.execute(
        delete(StaffSession).where(
            StaffSession.staff_id == staff.id,
            or_(
                StaffSession.generation != staff.session_generation,
                StaffSession.last_seen_at < now - timedelta(days=1),
            ),
        )
    )


# --- login throttling -----------------------------------------------------------------------


def _throttle_keys(username: str, remote_addr: str | None) -> list[tuple[str, str]]:
    """(key, kind) pairs; kind picks the limit."""
    keys = [(f"user:{normal_username(username)[:150]}", "user")]
    if remote_addr:
        keys.append((f"ip:{remote_addr[:64]}", "ip"))
    return keys


def _locked_for(session: Session, keys: list[tuple[str, str]], now: datetime) -> int:
    """Seconds until every lock on ``keys`` has passed (0: not locked)."""
    rows = session.scalars(select(LoginThrottle).where(LoginThrottle.key.in_([k for k, _ in keys])))
    wait = 0
    for row in rows:
        if row.locked_until is not None and row.locked_until > now:
            wait = max(wait, math.ceil((row.locked_until - now).total_seconds()))
    return wait


def _record_failure(
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


def _lock_message(seconds: int) -> str:
    minutes = max(1, (seconds + 59) // 60)
    return f"too many failed logins; try again in {minutes} minute(s)"


# --- sessions -------------------------------------------------------------------------------


def login(
    db: Database,
    username: str,
    password: str,
    now: datetime,
    *,
    remote_addr: str | None = None,
    limits: ThrottleLimits | None = None,
    profile: str = "rfc9106-low-memory",
) -> LoginResult:
    """A new session for the staff member, or ``LoginFailedError`` / ``LoginLockedError``.

    A lock refuses even the right password until it passes. Unknown usernames cost the same
    hashing time as known ones and count against the same limits, so neither timing nor the
    lock tells whether a username exists."""
    limits = limits or ThrottleLimits()
    keys = _throttle_keys(username, remote_addr)
    name = normal_username(username)[:64]
    with db.transaction() as session:
        wait = _locked_for(session, keys, now)
        staff = session.scalar(select(Staff).where(Staff.username == name)) if name else None
        who = Actor(staff.hospital_id if staff else "-", "login", name or "-", remote_addr)
        if wait:
            audit(session, who, "login-locked", now, f"refused while locked: {name}")
    if wait:
        raise LoginLockedError(_lock_message(wait), wait)

    ok = _verify(staff, password, profile)
    with db.transaction() as session:
        if not ok or staff is None:
            wait = _record_failure(session, keys, limits, now)
            audit(
                session, who, "login-failed", now, f"failed login as {name!r}" + (" (locked)" if wait else "")
            )
        else:
            row = _owned_staff(session, staff.hospital_id, staff.id, lock=True)
            session.execute(delete(LoginThrottle).where(LoginThrottle.key == keys[0][0]))
            if hasher(profile).check_needs_rehash(row.password_hash or ""):
                row.password_hash = hasher(profile).hash(password)
            row.last_login_at = now
            _purge_sessions(session, row, now)
            token = secrets.token_urlsafe(32)
            session.add(
                StaffSession(
                    id=token_id(token),
                    staff_id=row.id,
                    hospital_id=row.hospital_id,
                    generation=row.session_generation or 0,
                    created_at=now,
                    last_seen_at=now,
                    remote_addr=(remote_addr or "")[:64] or None,
                )
            )
            audit(session, _identity(row).actor(remote_addr), "login", now, f"login {name}")
            return LoginResult(token, _identity(row))
    if wait:
        raise LoginLockedError(_lock_message(wait), wait)
    raise LoginFailedError("wrong username or password")


def _verify(staff: Staff | None, password: str, profile: str) -> bool:
    usable = staff is not None and staff.disabled_at is None and bool(staff.password_hash)
    stored = staff.password_hash if usable and staff is not None else _dummy_hash(profile)
    try:
        return hasher(profile).verify(stored or "", password[:MAX_PASSWORD_LENGTH]) and usable
    except (VerificationError, InvalidHashError):
        return False


def check_session(
    db: Database, token: str, now: datetime, limits: SessionLimits | None = None
) -> SessionCheck:
    """The staff member of a session token, or why not. Touches ``last_seen_at`` at most once
    a minute; an expired or ended session's row is deleted."""
    limits = limits or SessionLimits()
    with db.transaction() as session:
        row = session.get(StaffSession, token_id(token))
        if row is None:
            return SessionCheck(None, "unknown")
        staff = session.get(Staff, row.staff_id)
        if staff is None or staff.disabled_at is not None or staff.session_generation != row.generation:
            session.delete(row)
            return SessionCheck(None, "ended")
        if row.last_seen_at + limits.idle < now or row.created_at + limits.absolute < now:
            session.delete(row)
            return SessionCheck(None, "expired")
        if now - row.last_seen_at >= TOUCH_EVERY:
            row.last_seen_at = now
        return SessionCheck(_identity(staff))


def logout(db: Database, token: str, now: datetime, remote_addr: str | None = None) -> None:
    """End one session (idempotent); audited when there was one."""
    with db.transaction() as session:
        row = session.get(StaffSession, token_id(token))
        if row is None:
            return
        session.delete(row)
        audit(
            session, Actor(row.hospital_id, "staff", str(row.staff_id), remote_addr), "logout", now, "logout"
        )


def change_password(
    db: Database,
    identity: StaffIdentity,
    old_password: str,
    new_password: str,
    now: datetime,
    *,
    remote_addr: str | None = None,
    profile: str = "rfc9106-low-memory",
) -> str:
    """Change one's own password (the old one is required). Every session of theirs ends; the
    token of a fresh session for the browser that asked is returned."""
    with db.reading() as session:
        staff = _owned_staff(session, identity.hospital_id, identity.staff_id)
    if not _verify(staff, old_password, profile):
        raise AccountError("the current password is wrong", code="wrong-password", field="old_password")
    check_password(new_password, staff.username)
    if new_password == old_password:
        raise AccountError("the new password is the old one", code="password-unchanged", field="new_password")
    new_hash = hasher(profile).hash(new_password)
    with db.transaction() as session:
        row = _owned_staff(session, identity.hospital_id, identity.staff_id, lock=True)
        row.password_hash = new_hash
        row.password_changed_at = now
        _end_sessions(session, row)
        token = secrets.token_urlsafe(32)
        session.add(
            StaffSession(
                id=token_id(token),
                staff_id=row.id,
                hospital_id=row.hospital_id,
                generation=row.session_generation,
                created_at=now,
                last_seen_at=now,
                remote_addr=(remote_addr or "")[:64] or None,
            )
        )
        audit(
            session,
            identity.actor(remote_addr),
            "password-change",
            now,
            "own password changed; sessions ended",
        )
        return token


__all__ = [
    "ROLES",
    "AccountError",
    "LoginFailedError",
    "LoginLockedError",
    "SessionLimits",
    "StaffIdentity",
    "StaffNotFoundError",
    "StaffView",
    "ThrottleLimits",
    "change_password",
    "check_session",
    "create_account",
    "get_staff",
    "list_staff",
    "login",
    "logout",
    "update_staff",
]
