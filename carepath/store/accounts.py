"""Staff logins: accounts, browser sessions, and the login that checks the throttle.

Each public function is one transaction (the service owns the session). Passwords are hashed
with argon2id (``passwords.py``) and rehashed at login when the parameters change. A session
token is random; only its SHA-256 is stored, so a copy of the database logs nobody in. Failed
logins are counted per username and address, per address and per username in the database
(``login_throttle.py``); the last, the account's ceiling, locks the account until an admin
unlocks it. Every login, logout, failed login, lock, unlock, password change and role change is
in the audit log (``audit()`` of ``scope.py``; one call per event, so moving to another audit
writer changes only that import).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from carepath.errors import CarepathError
from carepath.store.db import Database
from carepath.store.login_throttle import (
    LoginLockedError,
    ThrottleLimits,
    account_lock,
    clear_username,
    forget_success,
    hold_account,
    login_name,
    record_failure,
    throttle_keys,
)
from carepath.store.models import Hospital, Staff, StaffSession
from carepath.store.passwords import (
    MAX_PASSWORD_LENGTH,
    MIN_PASSWORD_LENGTH,
    AccountError,
    check_password,
    check_username,
    hasher,
    normal_username,
    verify,
)
from carepath.store.roles import ROLES, check_roles, permissions_of
from carepath.store.scope import Actor, audit
from carepath.store.tenants import UnknownHospitalError

#: How often a session's ``last_seen_at`` is written (not on every request).
TOUCH_EVERY = timedelta(seconds=60)


class StaffNotFoundError(CarepathError):
    """No such staff member in the caller's hospital (another hospital's is not found)."""

    code = "staff-not-found"


class LoginFailedError(CarepathError):
    """Wrong username or password, or a disabled account: the same answer for each."""

    code = "login-failed"


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
    locked_at: datetime | None = None  # failed logins reached the ceiling; an admin unlocks
    locked_reason: str | None = None


@dataclass(frozen=True)
class LoginResult:
    token: str  # goes into the session cookie; only its hash is stored
    identity: StaffIdentity


@dataclass(frozen=True)
class SessionCheck:
    """``identity`` when the session is valid; otherwise ``reason``: unknown, expired, ended."""

    identity: StaffIdentity | None
    reason: str | None = None


def token_id(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


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
        locked_at=staff.locked_at,
        locked_reason=staff.locked_reason,
    )


def _identity(staff: Staff) -> StaffIdentity:
    roles = tuple(staff.roles or ())
    return StaffIdentity(
        staff.id, staff.hospital_id, staff.username or "", staff.name, roles, permissions_of(roles)
    )


def identity_of(staff: Staff) -> StaffIdentity:
    """``staff`` as views see them, with the permissions of their roles: the same for a
    session and for the signed staff API, so one check serves both."""
    return _identity(staff)


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
        clear_username(session, username, now)  # guesses at a name nobody had are not hers
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


def find_username(db: Database, username: str) -> StaffView | None:
    """The staff member with this login name, in any hospital (for setup tools)."""
    with db.reading() as session:
        staff = session.scalar(select(Staff).where(Staff.username == normal_username(username)))
        return _view(staff) if staff is not None else None


def verify_password(db: Database, username: str, password: str, profile: str = "rfc9106-low-memory") -> bool:
    """Whether ``password`` is the active account's, with no session, audit or throttle."""
    with db.reading() as session:
        staff = session.scalar(select(Staff).where(Staff.username == normal_username(username)))
    return _verify(staff, password, profile)


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
    new_hash = None
    if new_password:  # hashed before the transaction: argon2 takes a while, locks should not
        check_password(new_password)
        new_hash = hasher(profile).hash(new_password)
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
            clear_username(session, wanted_name, now)  # guesses at a name nobody had are not theirs
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
        if new_password and new_hash:
            check_password(new_password, staff.username)
            staff.password_hash = new_hash
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

    A lock refuses even the right password until it passes (or, for the account's ceiling,
    until an admin unlocks it). Unknown usernames cost the same hashing time as known ones and
    count against the same limits and ceiling, so neither timing nor a lock tells whether a
    username exists."""
    limits = limits or ThrottleLimits()
    name = login_name(username)
    keys = throttle_keys(name, remote_addr)
    with db.transaction() as session:
        staff = _login_staff(session, name)
        who = Actor(staff.hospital_id if staff else "-", "login", name or "-", remote_addr)
        lock = account_lock(session, staff, keys, now)
        if lock:
            audit(session, who, "login-locked", now, f"refused while locked: {name}")
    if lock:
        raise lock.error()

    ok = _verify(staff, password, profile)
    with db.transaction() as session:
        # the staff row is locked before the throttle rows, here and everywhere, so that two
        # logins never wait on each other crosswise
        row = _owned_staff(session, staff.hospital_id, staff.id, lock=True) if staff else None
        if ok and row is not None:
            lock = account_lock(session, row, keys, now)  # the ceiling reached while we hashed
            if not lock:
                return _start(
                    session, row, keys, password=password, now=now, remote_addr=remote_addr, profile=profile
                )
            audit(session, who, "login-locked", now, f"refused while locked: {name}")
        else:
            failure = record_failure(session, keys, limits, now)
            lock = failure.lock
            if failure.newly_held:
                hold_account(
                    session, row, who, name=name, failures=failure.account_failures, limits=limits, now=now
                )
            audit(
                session, who, "login-failed", now, f"failed login as {name!r}" + (" (locked)" if lock else "")
            )
    if lock:
        raise lock.error()
    raise LoginFailedError("wrong username or password")


def _login_staff(session: Session, name: str) -> Staff | None:
    """The account a login names; none for a name no account can have (empty, too long)."""
    if not name or len(name) > 64:
        return None
    return session.scalar(select(Staff).where(Staff.username == name))


def _start(
    session: Session,
    staff: Staff,
    keys: list[tuple[str, str]],
    *,
    password: str,
    now: datetime,
    remote_addr: str | None,
    profile: str,
) -> LoginResult:
    """The right password and no lock: a new session, audited."""
    forget_success(session, keys)
    if hasher(profile).check_needs_rehash(staff.password_hash or ""):
        staff.password_hash = hasher(profile).hash(password)
    staff.last_login_at = now
    _purge_sessions(session, staff, now)
    token = _new_session(session, staff, now, remote_addr)
    audit(session, _identity(staff).actor(remote_addr), "login", now, f"login {staff.username}")
    return LoginResult(token, _identity(staff))


def unlock(db: Database, actor: Actor, staff_id: int, now: datetime) -> StaffView:
    """Unlock a staff member of the actor's hospital: the ceiling's lock and every temporary
    lock of their username, from any address. Audited: who unlocked whom, and what was held."""
    with db.transaction() as session:
        staff = _owned_staff(session, actor.hospital_id, staff_id, lock=True)
        cleared = clear_username(session, staff.username, now) if staff.username else 0
        if staff.locked_at is not None:
            state = f"locked since {staff.locked_at.isoformat()}: {staff.locked_reason or '-'}"
        else:
            state = f"not locked; {cleared} temporary lock(s) cleared"
        staff.locked_at = staff.locked_reason = None
        audit(session, actor, "account-unlock", now, f"staff:{staff.id} {staff.username} unlocked ({state})")
        return _view(staff)


def unlock_username(db: Database, username: str, now: datetime, *, by: Actor | None = None) -> StaffView:
    """``unlock`` by login name, in any hospital (the CLI's ``staff unlock``; ``by`` None is
    the CLI)."""
    found = find_username(db, username)
    if found is None:
        raise StaffNotFoundError(f"no staff member with the username {normal_username(username)!r}")
    return unlock(db, by or Actor(found.hospital_id, "cli", "staff-unlock"), found.id, now)


def _new_session(session: Session, staff: Staff, now: datetime, remote_addr: str | None) -> str:
    """A session row for ``staff``; the token for the cookie (only its hash is stored)."""
    token = secrets.token_urlsafe(32)
    session.add(
        StaffSession(
            id=token_id(token),
            staff_id=staff.id,
            hospital_id=staff.hospital_id,
            generation=staff.session_generation or 0,
            created_at=now,
            last_seen_at=now,
            remote_addr=(remote_addr or "")[:64] or None,
        )
    )
    return token


def _verify(staff: Staff | None, password: str, profile: str) -> bool:
    usable = staff is not None and staff.disabled_at is None and bool(staff.password_hash)
    return verify(staff.password_hash if usable and staff is not None else None, password, profile)


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
    limits: ThrottleLimits | None = None,
    profile: str = "rfc9106-low-memory",
) -> str:
    """Change one's own password (the old one is required). Every session of theirs ends; the
    token of a fresh session for the browser that asked is returned."""
    limits = limits or ThrottleLimits()
    with db.reading() as session:
        staff = _owned_staff(session, identity.hospital_id, identity.staff_id)
        keys = throttle_keys(staff.username or "", remote_addr)
        lock = account_lock(session, staff, keys, now)
    if lock:
        raise lock.error()
    if not _verify(staff, old_password, profile):
        # counted like a failed login: a session left open must not be a way to guess
        with db.transaction() as session:
            row = _owned_staff(session, identity.hospital_id, identity.staff_id, lock=True)
            failure = record_failure(session, keys, limits, now)
            who = identity.actor(remote_addr)
            if failure.newly_held:
                hold_account(
                    session,
                    row,
                    who,
                    name=row.username or "",
                    failures=failure.account_failures,
                    limits=limits,
                    now=now,
                )
            audit(session, who, "login-failed", now, "wrong current password")
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
        token = _new_session(session, row, now, remote_addr)
        audit(
            session,
            identity.actor(remote_addr),
            "password-change",
            now,
            "own password changed; sessions ended",
        )
        return token


__all__ = [  # the login API, with the names of passwords.py and login_throttle.py it uses
    "MAX_PASSWORD_LENGTH",
    "MIN_PASSWORD_LENGTH",
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
    "find_username",
    "get_staff",
    "identity_of",
    "list_staff",
    "login",
    "logout",
    "unlock",
    "unlock_username",
    "update_staff",
    "verify_password",
]
