"""Login lockout on SQLite and PostgreSQL: per username *and* address, so guesses from
elsewhere cannot lock a doctor out; the per-username ceiling that holds until an admin unlocks;
the same answer for unknown usernames; counts exact under concurrency."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from flask import Flask
from sqlalchemy import select

from carepath.store import accounts
from carepath.store.db import Database
from carepath.store.models import AuditEntry, LoginThrottle, Staff
from carepath.store.scope import Actor
from tests.conftest import NOW
from tests.webapi.conftest import PASSWORD, make_staff


def _db(app: Flask) -> Database:
    return app.extensions["carepath.db"]


def _audit(app: Flask, action: str) -> list[tuple[str, str, str | None, str]]:
    with _db(app).reading() as session:
        rows = session.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id))
        return [(r.hospital_id, r.actor, r.remote_addr, r.detail) for r in rows]


def _fail(app: Flask, username: str, address: str, when: timedelta = timedelta(0)) -> Exception:
    """One failed login; the error it got (failed or locked)."""
    try:
        accounts.login(_db(app), username, "a wrong guess", NOW + when, remote_addr=address, profile="test")
    except (accounts.LoginFailedError, accounts.LoginLockedError) as exc:
        return exc
    raise AssertionError("a wrong password logged in")


def _login(app: Flask, username: str, address: str, when: timedelta = timedelta(0)) -> accounts.LoginResult:
    return accounts.login(_db(app), username, PASSWORD, NOW + when, remote_addr=address, profile="test")


def test_five_failures_from_one_address_do_not_lock_the_doctor_out_elsewhere(app: Flask) -> None:
    make_staff(app, "dr.zhang", "doctor")
    errors = [_fail(app, "dr.zhang", "198.51.100.7") for _ in range(5)]
    assert [e.code for e in errors] == ["login-failed"] * 4 + ["login-locked"]
    with pytest.raises(accounts.LoginLockedError) as locked:  # that address, even the right password
        _login(app, "dr.zhang", "198.51.100.7")
    assert locked.value.retry_after == 900 and not locked.value.held
    assert _login(app, "dr.zhang", "10.1.2.3").identity.username == "dr.zhang"  # her own PC
    assert _login(app, "dr.zhang", "198.51.100.7", timedelta(minutes=15, seconds=1))  # it passes


def test_twenty_failures_from_many_addresses_lock_the_account_until_an_admin_unlocks(app: Flask) -> None:
    admin = make_staff(app, "boss", "admin")
    doctor = make_staff(app, "dr.zhang", "doctor")
    errors = [_fail(app, "dr.zhang", f"203.0.113.{n}") for n in range(20)]
    assert [e.code for e in errors] == ["login-failed"] * 19 + ["account-locked"]
    for address, when in (("10.1.2.3", timedelta(0)), ("10.1.2.3", timedelta(days=2))):
        with pytest.raises(accounts.LoginLockedError) as locked:
            _login(app, "dr.zhang", address, when)  # the right password, from her own PC, days later
        assert locked.value.held and locked.value.code == "account-locked"
    view = accounts.get_staff(_db(app), "a", doctor)
    assert view.locked_at == NOW and view.locked_reason == "20 failed logins within 60 minutes"
    assert _audit(app, "account-locked") == [
        (
            "a",
            "login:dr.zhang",
            "203.0.113.19",
            f"staff:{doctor} dr.zhang: 20 failed logins within 60 minutes; locked until an admin unlocks it",
        )
    ]

    accounts.unlock(_db(app), Actor("a", "staff", str(admin), "10.0.0.1"), doctor, NOW + timedelta(days=2))
    assert _login(app, "dr.zhang", "10.1.2.3", timedelta(days=2)).identity.staff_id == doctor
    assert accounts.get_staff(_db(app), "a", doctor).locked_at is None
    [(hospital, actor, address, detail)] = _audit(app, "account-unlock")
    assert (hospital, actor, address) == ("a", f"staff:{admin}", "10.0.0.1")
    assert detail.startswith(f"staff:{doctor} dr.zhang unlocked (locked since 2026-07-10T07:00:00")


def test_the_ceiling_counts_within_its_window_only(app: Flask) -> None:
    make_staff(app, "dr.zhang", "doctor")
    for n in range(19):
        _fail(app, "dr.zhang", f"203.0.113.{n}")
    later = timedelta(minutes=61)  # the hour has passed: a new count starts
    assert _fail(app, "dr.zhang", "203.0.113.99", later).code == "login-failed"
    assert _login(app, "dr.zhang", "10.1.2.3", later)


def test_a_success_does_not_reset_the_ceiling(app: Flask) -> None:
    """Her own login does not buy a guesser elsewhere another 19 tries."""
    make_staff(app, "dr.zhang", "doctor")
    for n in range(19):
        _fail(app, "dr.zhang", f"203.0.113.{n}")
    _login(app, "dr.zhang", "10.1.2.3")
    assert _fail(app, "dr.zhang", "203.0.113.50").code == "account-locked"


def test_unknown_usernames_get_the_same_answers(app: Flask) -> None:
    make_staff(app, "dr.zhang", "doctor")
    answers = {}
    for name in ("dr.zhang", "nobody.here"):
        errors = [_fail(app, name, "198.51.100.7") for _ in range(6)]
        errors += [_fail(app, name, f"203.0.113.{n}") for n in range(20)]
        errors.append(_fail(app, name, "10.9.9.9", timedelta(days=1)))
        answers[name] = [(type(e), e.code, str(e), getattr(e, "retry_after", None)) for e in errors]
    assert answers["dr.zhang"] == answers["nobody.here"]
    assert answers["nobody.here"][-1][1] == "account-locked"
    unknown_lock = _audit(app, "account-locked")[-1]
    assert unknown_lock[:2] == ("-", "login:nobody.here") and "no such account" in unknown_lock[3]


@pytest.mark.parametrize("spelling", ["DR.ZHANG", " dr.zhang\t", "Dr.Zhang\u3000"])
def test_case_and_whitespace_do_not_escape_the_count(app: Flask, spelling: str) -> None:
    make_staff(app, "dr.zhang", "doctor")
    for _ in range(4):
        _fail(app, "dr.zhang", "198.51.100.7")
    assert _fail(app, spelling, "198.51.100.7").code == "login-locked"
    for n in range(15):
        _fail(app, spelling if n % 2 else "dr.zhang", f"203.0.113.{n}")
    assert _fail(app, spelling, "203.0.113.200").code == "account-locked"


def test_an_overlong_username_never_reaches_the_account(app: Flask) -> None:
    make_staff(app, "d" * 64, "doctor", password=PASSWORD)
    with pytest.raises(accounts.LoginFailedError):  # the first 64 characters are not the name
        accounts.login(_db(app), "d" * 64 + "x", PASSWORD, NOW, remote_addr="10.1.2.3", profile="test")


def test_a_held_name_nobody_had_is_clear_for_a_new_account(app: Flask) -> None:
    for n in range(20):
        _fail(app, "li.hushi", f"203.0.113.{n}")
    make_staff(app, "li.hushi", "nurse")
    assert _login(app, "li.hushi", "10.1.2.3")


def test_a_renamed_account_stays_locked(app: Flask) -> None:
    admin = make_staff(app, "boss", "admin")
    doctor = make_staff(app, "dr.zhang", "doctor")
    for n in range(20):
        _fail(app, "dr.zhang", f"203.0.113.{n}")
    accounts.update_staff(_db(app), Actor("a", "staff", str(admin)), doctor, NOW, username="zhang.yisheng")
    with pytest.raises(accounts.LoginLockedError):
        _login(app, "zhang.yisheng", "10.1.2.3")


def test_unlock_is_only_for_the_admins_own_hospital(app: Flask) -> None:
    other = make_staff(app, "b.doctor", "doctor", hospital="b")
    with pytest.raises(accounts.StaffNotFoundError):
        accounts.unlock(_db(app), Actor("a", "staff", "1"), other, NOW)
    with pytest.raises(accounts.StaffNotFoundError):
        accounts.unlock_username(_db(app), "nobody.here", NOW)


def test_guessing_the_current_password_counts_towards_the_ceiling(app: Flask) -> None:
    doctor = make_staff(app, "dr.zhang", "doctor")
    identity = _login(app, "dr.zhang", "10.1.2.3").identity
    for n in range(19):
        _fail(app, "dr.zhang", f"203.0.113.{n}")
    with pytest.raises(accounts.AccountError):
        accounts.change_password(
            _db(app),
            identity,
            "a wrong guess",
            "a new good password",
            NOW,
            remote_addr="10.7.7.7",
            profile="test",
        )
    assert accounts.get_staff(_db(app), "a", doctor).locked_at == NOW
    assert len(_audit(app, "account-locked")) == 1


@pytest.mark.timeout(120)
def test_concurrent_failures_from_two_processes_hold_the_account_once(app: Flask) -> None:
    """Two engines (as two processes would have), 3 threads each, every attempt from its own
    address: every failure is counted, the ceiling is reached exactly once, and each attempt
    is either a counted failure or refused as locked."""
    doctor = make_staff(app, "dr.zhang", "doctor")
    limits = accounts.ThrottleLimits(account_ceiling=20)
    engines = [Database(_db(app).url), Database(_db(app).url)]
    outcomes: list[str] = []
    errors: list[BaseException] = []

    def guess(db: Database, worker: int) -> None:
        for n in range(6):
            try:
                accounts.login(
                    db,
                    "dr.zhang",
                    "wrong",
                    NOW,
                    remote_addr=f"10.{worker}.0.{n}",
                    limits=limits,
                    profile="test",
                )
            except (accounts.LoginFailedError, accounts.LoginLockedError) as exc:
                outcomes.append(exc.code)
            except BaseException as exc:
                errors.append(exc)

    threads = [threading.Thread(target=guess, args=(engines[w % 2], w)) for w in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for db in engines:
        db.dispose()
    assert errors == [] and len(outcomes) == 36
    with _db(app).reading() as session:
        ceiling = session.scalars(select(LoginThrottle).where(LoginThrottle.key == "user:dr.zhang")).one()
        staff = session.get(Staff, doctor)
        assert staff is not None and staff.locked_at is not None
    failed = len(_audit(app, "login-failed"))
    assert ceiling.failures == failed >= 20  # every counted failure audited, none lost
    assert ceiling.held_at is not None and len(_audit(app, "account-locked")) == 1
    refused_before_hashing = outcomes.count("account-locked") - (failed - 19)
    assert refused_before_hashing == len(_audit(app, "login-locked")) == 36 - failed


@pytest.mark.timeout(120)
def test_concurrent_failures_below_the_ceiling_are_all_counted(app: Flask) -> None:
    make_staff(app, "dr.zhang", "doctor")
    limits = accounts.ThrottleLimits(account_ceiling=1000)
    engines = [Database(_db(app).url), Database(_db(app).url)]
    errors: list[BaseException] = []

    def guess(db: Database, worker: int) -> None:
        for n in range(5):
            try:
                accounts.login(
                    db,
                    "DR.Zhang ",
                    "wrong",
                    NOW,
                    remote_addr=f"10.{worker}.1.{n}",
                    limits=limits,
                    profile="test",
                )
            except accounts.LoginFailedError:
                pass
            except BaseException as exc:
                errors.append(exc)

    threads = [threading.Thread(target=guess, args=(engines[w % 2], w)) for w in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for db in engines:
        db.dispose()
    assert errors == []
    with _db(app).reading() as session:
        counts = {row.key: row.failures for row in session.scalars(select(LoginThrottle))}
    assert counts["user:dr.zhang"] == 30
    assert sum(1 for key in counts if key.startswith("pair:dr.zhang|")) == 30
