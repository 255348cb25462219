"""Staff accounts service on SQLite and PostgreSQL: argon2id hashes, the throttle shared by
processes, sessions and their generation, admin changes, tenancy and the audit log."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from flask import Flask
from sqlalchemy import select

from carepath.store import accounts, tasks
from carepath.store.db import Database
from carepath.store.models import AuditEntry, LoginThrottle, Staff, StaffSession
from carepath.store.scope import Actor
from tests.conftest import NOW
from tests.webapi.conftest import PASSWORD, make_staff

ADMIN_A = Actor("a", "staff", "0", "10.0.0.1")


def _db(app: Flask) -> Database:
    return app.extensions["carepath.db"]


def _actions(app: Flask) -> list[str]:
    with _db(app).reading() as session:
        return list(session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))


def test_password_is_stored_as_argon2id_never_in_clear(app: Flask) -> None:
    staff_id = make_staff(app, "Wang.Li", "nurse")
    with _db(app).reading() as session:
        row = session.get(Staff, staff_id)
        assert row is not None and row.username == "wang.li"
        assert row.password_hash is not None and row.password_hash.startswith("$argon2id$")
        assert PASSWORD not in row.password_hash


def test_login_rehashes_when_the_parameters_change(app: Flask) -> None:
    staff_id = make_staff(app, "wang.li", "nurse")
    accounts.login(_db(app), "wang.li", PASSWORD, NOW, profile="rfc9106-low-memory")
    with _db(app).reading() as session:
        row = session.get(Staff, staff_id)
        assert row is not None and row.password_hash is not None
        assert "m=65536" in row.password_hash


def test_session_token_is_stored_hashed_and_checked(app: Flask) -> None:
    make_staff(app, "wang.li", "nurse", "reviewer")
    result = accounts.login(_db(app), "WANG.LI ", PASSWORD, NOW, profile="test")
    with _db(app).reading() as session:
        ids = list(session.scalars(select(StaffSession.id)))
    assert ids == [accounts.token_id(result.token)] and result.token not in ids
    check = accounts.check_session(_db(app), result.token, NOW + timedelta(minutes=5))
    assert check.identity is not None and check.identity.roles == ("nurse", "reviewer")
    assert check.identity.can("pathway.review") and not check.identity.can("staff.manage")
    assert accounts.check_session(_db(app), "forged", NOW).reason == "unknown"


def test_sessions_expire_when_idle_and_after_the_absolute_limit(app: Flask) -> None:
    make_staff(app, "wang.li", "nurse")
    limits = accounts.SessionLimits(idle=timedelta(minutes=30), absolute=timedelta(hours=2))
    token = accounts.login(_db(app), "wang.li", PASSWORD, NOW, profile="test").token
    assert accounts.check_session(_db(app), token, NOW + timedelta(minutes=31), limits).reason == "expired"
    token = accounts.login(_db(app), "wang.li", PASSWORD, NOW, profile="test").token
    for minutes in range(25, 125, 25):  # active all along, still ended at two hours
        check = accounts.check_session(_db(app), token, NOW + timedelta(minutes=minutes), limits)
        assert check.identity is not None, minutes
    assert accounts.check_session(_db(app), token, NOW + timedelta(minutes=121), limits).reason == "expired"


def test_failures_from_two_processes_are_all_counted(app: Flask) -> None:
    """Two engines (as two processes would have) fail at once: the shared count is exact."""
    make_staff(app, "wang.li", "nurse")
    limits = accounts.ThrottleLimits(per_username=100, per_address=100)
    engines = [Database(_db(app).url), Database(_db(app).url)]
    errors: list[BaseException] = []

    def fail(db: Database) -> None:
        for _ in range(4):
            try:
                accounts.login(
                    db, "wang.li", "wrong", NOW, remote_addr="10.0.0.9", limits=limits, profile="test"
                )
            except accounts.LoginFailedError:
                pass
            except BaseException as exc:
                errors.append(exc)

    threads = [threading.Thread(target=fail, args=(db,)) for db in engines]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for db in engines:
        db.dispose()
    assert errors == []
    with _db(app).reading() as session:
        counts = {row.key: row.failures for row in session.scalars(select(LoginThrottle))}
    assert counts == {"user:wang.li": 8, "pair:wang.li|10.0.0.9": 8, "ip:10.0.0.9": 8}


def test_a_success_clears_its_own_address_count_only(app: Flask) -> None:
    """The ceiling keeps what was tried (from anywhere), the address its other guesses."""
    make_staff(app, "wang.li", "nurse")
    for _ in range(3):
        with pytest.raises(accounts.LoginFailedError):
            accounts.login(_db(app), "wang.li", "wrong", NOW, remote_addr="10.0.0.9", profile="test")
    accounts.login(_db(app), "wang.li", PASSWORD, NOW, remote_addr="10.0.0.9", profile="test")
    with _db(app).reading() as session:
        counts = {row.key: row.failures for row in session.scalars(select(LoginThrottle))}
    assert counts == {"user:wang.li": 3, "ip:10.0.0.9": 3}


def test_old_failures_outside_the_window_start_a_new_count(app: Flask) -> None:
    make_staff(app, "wang.li", "nurse")
    for minutes in (0, 5, 10, 16, 20):  # the first three fall out of the 15-minute window
        with pytest.raises(accounts.LoginFailedError):
            accounts.login(_db(app), "wang.li", "wrong", NOW + timedelta(minutes=minutes), profile="test")
    accounts.login(_db(app), "wang.li", PASSWORD, NOW + timedelta(minutes=21), profile="test")


def test_disabled_staff_cannot_log_in_nor_act_through_the_tasks_api(app: Flask) -> None:
    admin = make_staff(app, "boss", "admin")
    staff_id = make_staff(app, "wang.li", "nurse")
    token = accounts.login(_db(app), "wang.li", PASSWORD, NOW, profile="test").token
    actor = Actor("a", "staff", str(admin), None)
    accounts.update_staff(_db(app), actor, staff_id, NOW, disabled=True)
    assert accounts.check_session(_db(app), token, NOW).reason == "ended"
    with pytest.raises(accounts.LoginFailedError):
        accounts.login(_db(app), "wang.li", PASSWORD, NOW, profile="test")
    with pytest.raises(tasks.UnknownStaffError, match="disabled"):
        tasks.staff_actor(_db(app), "a", staff_id, None)
    accounts.update_staff(_db(app), actor, staff_id, NOW, disabled=False)
    assert tasks.staff_actor(_db(app), "a", staff_id, None).label == f"staff:{staff_id}"
    assert _actions(app)[-3:] == ["staff-disable", "login-failed", "staff-enable"]


def test_role_changes_are_audited_one_by_one(app: Flask) -> None:
    admin = make_staff(app, "boss", "admin")
    staff_id = make_staff(app, "wang.li", "nurse")
    actor = Actor("a", "staff", str(admin), "10.0.0.1")
    accounts.update_staff(_db(app), actor, staff_id, NOW, roles=["reviewer", "nurse"])
    accounts.update_staff(_db(app), actor, staff_id, NOW, roles=["nurse", "reviewer"])  # no change
    with _db(app).reading() as session:
        rows = list(session.scalars(select(AuditEntry).where(AuditEntry.action == "role-change")))
    assert [(r.actor, r.detail, r.remote_addr) for r in rows] == [
        (f"staff:{admin}", f"staff:{staff_id} wang.li: nurse -> nurse,reviewer", "10.0.0.1")
    ]
    with pytest.raises(accounts.AccountError, match="unknown role 'surgeon'"):
        accounts.update_staff(_db(app), actor, staff_id, NOW, roles=["surgeon"])


def test_the_last_admin_cannot_be_removed(app: Flask) -> None:
    admin = make_staff(app, "boss", "admin")
    actor = Actor("a", "staff", str(admin), None)
    with pytest.raises(accounts.AccountError) as caught:
        accounts.update_staff(_db(app), actor, admin, NOW, roles=["nurse"])
    assert caught.value.code == "last-admin"
    with pytest.raises(accounts.AccountError):
        accounts.update_staff(_db(app), actor, admin, NOW, disabled=True)
    second = make_staff(app, "boss2", "admin")
    accounts.update_staff(_db(app), actor, second, NOW, disabled=True)  # another admin remains
    assert accounts.get_staff(_db(app), "a", second).disabled


def test_another_hospitals_staff_is_not_found(app: Flask) -> None:
    other = make_staff(app, "b.nurse", "nurse", hospital="b")
    assert [s.username for s in accounts.list_staff(_db(app), "a")] == []
    with pytest.raises(accounts.StaffNotFoundError):
        accounts.get_staff(_db(app), "a", other)
    with pytest.raises(accounts.StaffNotFoundError):
        accounts.update_staff(_db(app), ADMIN_A, other, NOW, roles=["admin"])


@pytest.mark.parametrize(
    ("username", "password", "roles", "code"),
    [
        ("a", PASSWORD, ["nurse"], "invalid-username"),
        ("wang li", PASSWORD, ["nurse"], "invalid-username"),
        ("wang.li", "short", ["nurse"], "password-too-short"),
        ("wang.li", "x" * 201, ["nurse"], "password-too-long"),
        ("wang.li.2026", "Wang.Li.2026", ["nurse"], "password-is-username"),
        ("wang.li", PASSWORD, [], "no-role"),
        ("wang.li", PASSWORD, ["nurse", "surgeon"], "unknown-role"),
    ],
)
def test_bad_account_input_is_refused_with_a_code(
    app: Flask, username: str, password: str, roles: list[str], code: str
) -> None:
    with pytest.raises(accounts.AccountError) as caught:
        accounts.create_account(_db(app), "a", username, password, roles, now=NOW, profile="test")
    assert caught.value.code == code
    with _db(app).reading() as session:
        assert session.scalar(select(Staff.id)) is None  # nothing half-written


def test_usernames_are_unique_across_hospitals(app: Flask) -> None:
    make_staff(app, "wang.li", "nurse", hospital="a")
    with pytest.raises(accounts.AccountError) as caught:
        make_staff(app, "WANG.LI", "nurse", hospital="b")
    assert caught.value.code == "username-taken"
