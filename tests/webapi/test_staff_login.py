"""Staff login through the Flask test client, on SQLite and PostgreSQL: sessions, CSRF,
throttling, logout, password change and the refusals of ``require``."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Flask
from sqlalchemy import select

from tests.conftest import Clock
from tests.webapi.conftest import PASSWORD, StaffBrowser, make_staff


def _audit(app: Flask) -> list[tuple[str, str, str]]:
    from carepath.store.models import AuditEntry

    with app.extensions["carepath.db"].reading() as session:
        rows = session.scalars(select(AuditEntry).order_by(AuditEntry.id))
        return [(r.action, r.actor, r.detail) for r in rows]


def _cookie(browser: StaffBrowser) -> str | None:
    cookie = browser.client.get_cookie("carepath_session")
    return cookie.value if cookie else None


def test_login_shows_the_chinese_home_page_and_is_audited(app: Flask, browser: StaffBrowser) -> None:
    staff_id = make_staff(app, "wang.li", "nurse")
    answer = browser.login("wang.li")
    assert answer.status_code == 302 and answer.headers["Location"] == "/"
    page = browser.client.get("/").get_data(as_text=True)
    assert '<html lang="zh-CN">' in page and "工作台" in page and "退出登录" in page
    assert ("login", f"staff:{staff_id}", "login wang.li") in _audit(app)


def test_the_session_cookie_is_httponly_lax_and_replaced_at_login(app: Flask, browser: StaffBrowser) -> None:
    make_staff(app, "wang.li", "nurse")
    browser.client.get("/login")
    before = _cookie(browser)
    answer = browser.login("wang.li")
    header = answer.headers["Set-Cookie"]
    assert "HttpOnly" in header and "SameSite=Lax" in header and "Secure" not in header
    after = _cookie(browser)
    assert before and after and before != after


def test_secure_cookie_when_configured(database_url: str, clock: Clock) -> None:
    from carepath.webapi import create_app
    from tests.conftest import FIELD_KEYS, LOOKUP_KEY

    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": database_url,
            "FIELD_KEYS": FIELD_KEYS,
            "LOOKUP_KEY": LOOKUP_KEY,
            "SECRET_KEY": "x",
            "SESSION_COOKIE_SECURE": True,
        }
    )
    answer = app.test_client().get("/login")
    assert "Secure" in answer.headers["Set-Cookie"]
    app.extensions["carepath.db"].dispose()


def test_wrong_password_and_unknown_user_get_the_same_answer(app: Flask, browser: StaffBrowser) -> None:
    make_staff(app, "wang.li", "nurse")
    wrong = browser.login("wang.li", "not the password")
    unknown = browser.login("nobody.here", "not the password")
    assert wrong.status_code == unknown.status_code == 401
    assert "用户名或密码错误" in wrong.get_data(as_text=True)
    assert "用户名或密码错误" in unknown.get_data(as_text=True)
    failed = [detail for action, _, detail in _audit(app) if action == "login-failed"]
    assert failed == ["failed login as 'wang.li'", "failed login as 'nobody.here'"]


def test_five_failures_lock_the_username_from_that_address_for_15_minutes(
    app: Flask, browser: StaffBrowser, clock: Clock
) -> None:
    make_staff(app, "wang.li", "nurse")
    codes = [browser.login("wang.li", f"guess {n}").status_code for n in range(5)]
    assert codes == [401, 401, 401, 401, 429]
    locked = browser.login("wang.li")  # even the right password
    assert locked.status_code == 429 and locked.headers["Retry-After"] == "900"
    assert "登录失败次数过多，请 15 分钟后再试" in locked.get_data(as_text=True)
    # another process (a second app on the same database) sees the same lock
    from carepath.webapi import create_app

    other = create_app(dict(app.config))
    assert StaffBrowser(other.test_client()).login("wang.li").status_code == 429
    other.extensions["carepath.db"].dispose()
    clock.now += timedelta(minutes=15, seconds=1)
    assert browser.login("wang.li").status_code == 302


def test_many_failures_from_one_address_lock_it(app: Flask, browser: StaffBrowser) -> None:
    app.config["LOGIN_MAX_FAILURES_PER_ADDRESS"] = 6
    make_staff(app, "wang.li", "nurse")
    for n in range(6):
        browser.login(f"user{n}", "guess")
    assert browser.login("wang.li").status_code == 429


def test_logout_ends_the_session_on_the_server(app: Flask, browser: StaffBrowser) -> None:
    make_staff(app, "wang.li", "nurse")
    browser.login("wang.li")
    stolen = _cookie(browser)
    answer = browser.logout()
    assert answer.status_code == 302 and answer.headers["Location"] == "/login"
    assert browser.client.get("/").status_code == 302
    # replaying the cookie captured before logout does not log anyone in
    replay = app.test_client()
    replay.set_cookie("carepath_session", stolen or "")
    assert replay.get("/").headers["Location"].startswith("/login")
    assert [a for a, _, _ in _audit(app) if a in ("login", "logout")] == ["login", "logout"]


def test_idle_session_expires(app: Flask, browser: StaffBrowser, clock: Clock) -> None:
    make_staff(app, "wang.li", "nurse")
    browser.login("wang.li")
    clock.now += timedelta(minutes=29)
    assert browser.client.get("/").status_code == 200  # activity keeps it alive
    clock.now += timedelta(minutes=29)
    assert browser.client.get("/").status_code == 200
    clock.now += timedelta(minutes=31)
    answer = browser.client.get("/admin/staff", headers={"Accept": "application/json"})
    assert answer.status_code == 401 and answer.json["code"] == "session-expired"


def test_post_without_csrf_token_is_refused(app: Flask, browser: StaffBrowser) -> None:
    make_staff(app, "wang.li", "nurse")
    page = browser.client.post("/login", data={"username": "wang.li", "password": PASSWORD})
    assert page.status_code == 400 and "表单已过期" in page.get_data(as_text=True)
    browser.login("wang.li")
    api = browser.client.post("/logout", headers={"Accept": "application/json"})
    assert api.status_code == 400 and api.mimetype == "application/problem+json"
    assert api.json["code"] == "csrf-failed"
    assert browser.client.get("/").status_code == 200  # still logged in


def test_csrf_token_in_header_is_accepted(app: Flask, browser: StaffBrowser) -> None:
    make_staff(app, "wang.li", "nurse")
    browser.login("wang.li")
    token = browser.csrf("/")
    answer = browser.client.post("/logout", headers={"X-CSRFToken": token})
    assert answer.status_code == 302
    assert browser.client.get("/").status_code == 302


def test_anonymous_is_sent_to_login_or_gets_401(app: Flask, browser: StaffBrowser) -> None:
    page = browser.client.get("/admin/staff?x=1")
    assert page.status_code == 302 and page.headers["Location"] == "/login?next=/admin/staff?x%3D1"
    api = browser.client.get("/admin/staff", headers={"Accept": "application/json"})
    assert api.status_code == 401 and api.json["code"] == "login-required"


def test_login_returns_to_next_but_never_to_another_site(app: Flask, browser: StaffBrowser) -> None:
    make_staff(app, "wang.li", "admin")
    answer = browser.post("/login", {"username": "wang.li", "password": PASSWORD, "next": "/admin/staff"})
    assert answer.headers["Location"] == "/admin/staff"
    browser.logout()
    for evil in ("https://evil.example/", "//evil.example/x", "/\\evil.example"):
        answer = browser.post("/login", {"username": "wang.li", "password": PASSWORD, "next": evil})
        assert answer.headers["Location"] == "/", evil
        browser.logout()


def test_a_role_without_the_permission_is_refused_and_audited(app: Flask, browser: StaffBrowser) -> None:
    nurse = make_staff(app, "wang.li", "nurse")
    browser.login("wang.li")
    page = browser.client.get("/admin/staff")
    assert page.status_code == 403 and "staff.manage" in page.get_data(as_text=True)
    api = browser.client.get("/admin/staff", headers={"Accept": "application/json"})
    assert api.status_code == 403 and api.json["code"] == "permission-denied"
    assert api.json["permission"] == "staff.manage"
    post = browser.post(
        "/admin/staff/new", {"username": "x.y", "name": "x", "password": PASSWORD}, token_from="/"
    )
    assert post.status_code == 403
    refused = [(actor, detail) for action, actor, detail in _audit(app) if action == "refused"]
    assert [detail for _, detail in refused] == [
        "staff.manage needed for /admin/staff",
        "staff.manage needed for /admin/staff",
        "staff.manage needed for /admin/staff/new",
    ]
    assert {actor for actor, _ in refused} == {f"staff:{nurse}"}


def test_password_change_ends_other_sessions(app: Flask, browser: StaffBrowser) -> None:
    make_staff(app, "wang.li", "nurse")
    browser.login("wang.li")
    laptop = StaffBrowser(app.test_client())
    laptop.login("wang.li")
    wrong = browser.post("/account/password", _change("wrong password!", "a new password 2026"))
    assert wrong.status_code == 422 and "当前密码不正确" in wrong.get_data(as_text=True)
    short = browser.post("/account/password", _change(PASSWORD, "short"))
    assert short.status_code == 422 and "密码至少 10 个字符" in short.get_data(as_text=True)
    differ = browser.post(
        "/account/password", {**_change(PASSWORD, "a new password 2026"), "new_password_again": "x"}
    )
    assert differ.status_code == 422
    ok = browser.post("/account/password", _change(PASSWORD, "a new password 2026"))
    assert ok.status_code == 302
    assert browser.client.get("/").status_code == 200  # this browser got a fresh session
    assert laptop.client.get("/").status_code == 302  # the other one is logged out
    assert laptop.login("wang.li").status_code == 401
    assert laptop.login("wang.li", "a new password 2026").status_code == 302
    assert "password-change" in [a for a, _, _ in _audit(app)]


def _change(old: str, new: str) -> dict[str, Any]:
    return {"old_password": old, "new_password": new, "new_password_again": new}


def test_language_switch_to_english(app: Flask, browser: StaffBrowser) -> None:
    answer = browser.client.get("/language/en?next=/login")
    assert answer.headers["Location"] == "/login"
    page = browser.client.get("/login").get_data(as_text=True)
    assert '<html lang="en">' in page and "Staff login" in page
    make_staff(app, "wang.li", "nurse")
    browser.login("wang.li")  # the choice survives the new session
    assert '<html lang="en">' in browser.client.get("/").get_data(as_text=True)
    assert browser.client.get("/language/en?next=https://evil.example").headers["Location"] == "/"


def test_signed_api_needs_no_csrf_token(api: Any) -> None:
    from tests.webapi.conftest import registration

    assert api.post("/api/v1/events", registration()).status_code in (200, 201)


def test_guessing_the_current_password_locks_like_a_login(app: Flask, browser: StaffBrowser) -> None:
    make_staff(app, "wang.li", "nurse")
    browser.login("wang.li")
    codes = [
        browser.post("/account/password", _change(f"guess {n}", "a new password 2026")).status_code
        for n in range(6)
    ]
    assert codes == [422, 422, 422, 422, 422, 429]
    assert StaffBrowser(app.test_client()).login("wang.li").status_code == 429


def test_another_hospitals_staff_page_is_not_found(app: Flask, browser: StaffBrowser) -> None:
    other = make_staff(app, "b.nurse", "nurse", hospital="b")
    make_staff(app, "boss", "admin")
    browser.login("boss")
    page = browser.client.get(f"/admin/staff/{other}")
    assert page.status_code == 404 and "本院没有这位医护人员" in page.get_data(as_text=True)
    post = browser.post(f"/admin/staff/{other}", {"name": "x", "roles": "admin"}, token_from="/admin/staff")
    assert post.status_code == 404


def test_admin_screen_creates_edits_and_disables(app: Flask, browser: StaffBrowser) -> None:
    make_staff(app, "boss", "admin")
    browser.login("boss")
    form = {
        "name": "李护士",
        "username": "li.hushi",
        "job": "nurse",
        "password": "a long password",
        "roles": "nurse",
    }
    assert browser.post("/admin/staff/new", form).status_code == 302
    again = browser.post("/admin/staff/new", form)
    assert again.status_code == 422 and "该用户名已被使用" in again.get_data(as_text=True)
    no_role = browser.post("/admin/staff/new", {**form, "username": "x.y", "roles": []})
    assert no_role.status_code == 422 and "请至少选择一个角色" in no_role.get_data(as_text=True)
    forged = browser.post("/admin/staff/new", {**form, "username": "x.z", "roles": "superuser"})
    assert forged.status_code == 422 and "未知角色" in forged.get_data(as_text=True)

    nurse = StaffBrowser(app.test_client())
    assert nurse.login("li.hushi", "a long password").status_code == 302
    from carepath.store import accounts

    staff_id = accounts.find_username(app.extensions["carepath.db"], "li.hushi").id  # type: ignore[union-attr]
    edit = {
        "name": "李护士",
        "username": "li.hushi",
        "job": "nurse",
        "roles": ["nurse", "analyst"],
        "disabled": "on",
    }
    assert browser.post(f"/admin/staff/{staff_id}", edit).status_code == 302
    assert nurse.client.get("/").status_code == 302  # disabled: her session ended
    listing = browser.client.get("/admin/staff").get_data(as_text=True)
    assert "已停用" in listing and "数据分析员" in listing
    actions = [a for a, _, _ in _audit(app)]
    assert {"staff-create", "role-change", "staff-disable"} <= set(actions)


def test_staff_pages_forbid_framing_and_foreign_scripts(app: Flask, browser: StaffBrowser) -> None:
    page = browser.client.get("/login")
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    assert page.headers["X-Frame-Options"] == "DENY" and "Cache-Control" not in page.headers
    make_staff(app, "wang.li", "nurse")
    browser.login("wang.li")
    assert browser.client.get("/").headers["Cache-Control"] == "no-store"


def test_behind_a_trusted_proxy_the_client_address_is_throttled(app: Flask) -> None:
    from carepath.webapi import create_app

    proxied = create_app({**app.config, "TRUSTED_PROXIES": 1, "LOGIN_MAX_FAILURES_PER_ADDRESS": 3})
    make_staff(app, "wang.li", "nurse")

    def person(address: str) -> StaffBrowser:
        client = proxied.test_client()
        client.environ_base["HTTP_X_FORWARDED_FOR"] = address
        return StaffBrowser(client)

    guesser = person("203.0.113.7")
    for n in range(3):  # one client behind the proxy guesses three names
        guesser.login(f"user{n}", "guess")
    assert person("203.0.113.8").login("wang.li").status_code == 302  # a colleague is not locked
    assert person("203.0.113.7").login("wang.li").status_code == 429
    proxied.extensions["carepath.db"].dispose()


def test_account_me_tells_the_page_who_is_logged_in(app: Flask, browser: StaffBrowser) -> None:
    assert browser.client.get("/account/me", headers={"Accept": "application/json"}).status_code == 401
    staff_id = make_staff(app, "wang.li", "content_author", "analyst")
    browser.login("wang.li")
    me = browser.client.get("/account/me").json
    assert me["id"] == staff_id and me["hospital"] == "a" and me["roles"] == ["content_author", "analyst"]
    assert "pathway.edit" in me["permissions"] and "staff.manage" not in me["permissions"]


def test_a_browser_gets_a_page_for_404_and_scripts_get_problem_json(
    app: Flask, browser: StaffBrowser
) -> None:
    page = browser.client.get(
        "/admin/stafff", headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
    )
    assert (
        page.status_code == 404
        and page.mimetype == "text/html"
        and "没有这个页面" in page.get_data(as_text=True)
    )
    api = browser.client.get("/api/v1/nothing", headers={"Accept": "text/html"})
    assert api.status_code == 404 and api.mimetype == "application/problem+json"
    bare = browser.client.get("/admin/stafff")
    assert bare.status_code == 404 and bare.json["code"] == "not-found"
    wrong_method = browser.client.delete("/login", headers={"Accept": "text/html"})
    assert wrong_method.status_code in (400, 405)  # CSRF or method: never a traceback
