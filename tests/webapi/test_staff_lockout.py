"""Login lockout and the password rules through the Flask test client, on SQLite and
PostgreSQL: guesses from other addresses cannot lock a doctor out, the account ceiling holds
until an admin unlocks it on /admin/staff, and the pages say so in Chinese."""

from __future__ import annotations

from typing import Any

from flask import Flask
from sqlalchemy import select

from tests.webapi.conftest import PASSWORD, StaffBrowser, make_staff


def _from(app: Flask, address: str) -> StaffBrowser:
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return StaffBrowser(client)


def _audit(app: Flask, action: str) -> list[tuple[str, str]]:
    from carepath.store.models import AuditEntry

    with app.extensions["carepath.db"].reading() as session:
        rows = session.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id))
        return [(r.actor, r.detail) for r in rows]


def _answer(response: Any) -> tuple[int, str | None, str]:
    return response.status_code, response.headers.get("Retry-After"), response.get_data(as_text=True)


def test_five_anonymous_failures_from_elsewhere_do_not_lock_the_doctor_out(app: Flask) -> None:
    make_staff(app, "dr.zhang", "doctor")
    stranger = _from(app, "198.51.100.7")
    codes = [stranger.login("dr.zhang", f"guess {n}").status_code for n in range(5)]
    assert codes == [401, 401, 401, 401, 429]
    assert stranger.login("dr.zhang").status_code == 429  # that address, even the right password
    assert _from(app, "10.1.2.3").login("dr.zhang").status_code == 302  # her own PC


def test_twenty_failures_lock_the_account_until_an_admin_unlocks_it_on_the_page(app: Flask) -> None:
    make_staff(app, "boss", "admin")
    make_staff(app, "dr.zhang", "doctor")
    codes = [_from(app, f"203.0.113.{n}").login("dr.zhang", "guess").status_code for n in range(20)]
    assert codes == [401] * 19 + [429]
    locked = _from(app, "10.1.2.3").login("dr.zhang")
    status, retry_after, page = _answer(locked)
    assert status == 429 and retry_after is None  # no time: only an admin ends this lock
    assert "登录失败次数过多，账号已锁定，请联系管理员解锁。" in page

    admin = _from(app, "10.0.0.1")
    assert admin.login("boss").status_code == 302
    listing = admin.client.get("/admin/staff").get_data(as_text=True)
    assert listing.count("已锁定") == 1 and listing.count('class="unlock"') == 1
    staff_id = _staff_id(app, "dr.zhang")
    edit = admin.client.get(f"/admin/staff/{staff_id}").get_data(as_text=True)
    assert "因登录失败次数过多，自 2026-07-10 15:00 起已锁定。" in edit
    unlocked = admin.post(f"/admin/staff/{staff_id}/unlock", {}, token_from="/admin/staff")
    assert unlocked.status_code == 302
    assert "已解锁" in admin.client.get("/admin/staff").get_data(as_text=True)
    assert _from(app, "10.1.2.3").login("dr.zhang").status_code == 302
    [(actor, detail)] = _audit(app, "account-unlock")
    assert actor == f"staff:{_staff_id(app, 'boss')}" and detail.startswith(
        f"staff:{staff_id} dr.zhang unlocked"
    )
    [(actor, _detail)] = _audit(app, "account-locked")
    assert actor == "login:dr.zhang"


def test_an_unknown_username_gets_the_very_same_pages(app: Flask) -> None:
    make_staff(app, "dr.zhang", "doctor")
    answers: dict[str, list[tuple[int, str | None, str]]] = {}
    for name in ("dr.zhang", "nobody.here"):
        steps = [_from(app, "198.51.100.7").login(name, "guess") for _ in range(6)]
        steps += [_from(app, f"203.0.113.{n}").login(name, "guess") for n in range(20)]
        answers[name] = [_answer(step) for step in steps]
    # the page repeats the typed username: compare with it taken out
    mine = [(s, r, p.replace("dr.zhang", "NAME")) for s, r, p in answers["dr.zhang"]]
    theirs = [(s, r, p.replace("nobody.here", "NAME")) for s, r, p in answers["nobody.here"]]
    assert [a[:2] for a in mine] == [a[:2] for a in theirs]
    assert [_message(a[2]) for a in mine] == [_message(a[2]) for a in theirs]


def _message(page: str) -> str:
    import re

    found = re.search(r'<p class="error" role="alert">([^<]*)</p>', page)
    return found.group(1) if found else ""


def _staff_id(app: Flask, username: str) -> int:
    from carepath.store import accounts

    found = accounts.find_username(app.extensions["carepath.db"], username)
    assert found is not None
    return found.id


def test_only_an_admin_of_the_same_hospital_unlocks(app: Flask) -> None:
    make_staff(app, "wang.li", "nurse")
    other = make_staff(app, "b.doctor", "doctor", hospital="b")
    make_staff(app, "boss", "admin")
    nurse = _from(app, "10.0.0.2")
    nurse.login("wang.li")
    refused = nurse.post(f"/admin/staff/{other}/unlock", {}, token_from="/")
    assert refused.status_code == 403
    admin = _from(app, "10.0.0.1")
    admin.login("boss")
    assert admin.post(f"/admin/staff/{other}/unlock", {}, token_from="/admin/staff").status_code == 404
    assert _audit(app, "account-unlock") == []


def test_the_password_rules_speak_chinese_on_the_pages(app: Flask) -> None:
    make_staff(app, "boss", "admin")
    admin = _from(app, "10.0.0.1")
    admin.login("boss")
    form = {"name": "李护士", "username": "li.hushi", "job": "nurse", "roles": "nurse"}
    for password, message in (
        (" " * 10, "密码不能只有空格。"),
        ("1234567890", "密码过于简单"),
        ("password12", "这是最常见的密码之一，请换一个。"),
        ("woaini1314", "这是最常见的密码之一，请换一个。"),
        ("li.hushi.2026", "密码不能包含用户名。"),
    ):
        page = admin.post("/admin/staff/new", {**form, "password": password})
        assert page.status_code == 422 and message in page.get_data(as_text=True), password
    change = {"old_password": PASSWORD, "new_password": "qq12345678", "new_password_again": "qq12345678"}
    page = admin.post("/account/password", change)
    assert page.status_code == 422 and "这是最常见的密码之一" in page.get_data(as_text=True)


def test_a_nul_in_the_username_is_an_unknown_name_not_a_500(app: Flask, browser: StaffBrowser) -> None:
    """PostgreSQL cannot store NUL: before, the lookup itself raised (500 on PostgreSQL)."""
    make_staff(app, "wang.li", "nurse")
    for name in ("wang\x00li", "wang.li\x00"):
        assert browser.login(name, "a guess\x00").status_code == 401
    assert ("login:wang\ufffdli", "failed login as 'wang\ufffdli'") in _audit(app, "login-failed")
