"""Staff login in a real Chromium: the Chinese UI, wrong passwords, the lock, logout, the admin
screen, refusals and CSRF."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from tests.browser.conftest import Account, LiveServer, log_in


def test_login_page_renders_chinese_with_real_glyphs(page: Any) -> None:
    page.goto("/login")
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    assert page.locator("h1").inner_text() == "医护人员登录"
    # Two different characters drawn in the page's font give different pixels; a missing CJK
    # font would draw the same empty box (tofu) for both.
    same = page.evaluate(
        """() => {
            const font = getComputedStyle(document.querySelector('h1')).fontFamily;
            const draw = (ch) => {
                const c = document.createElement('canvas'); c.width = 40; c.height = 40;
                const g = c.getContext('2d'); g.font = '32px ' + font; g.fillText(ch, 2, 32);
                return c.toDataURL();
            };
            return draw('孕') === draw('妇');
        }"""
    )
    assert not same, "Chinese characters render as boxes: install fonts-wqy-microhei"


def test_login_and_logout(page: Any, make_account: Callable[..., Account], live_server: LiveServer) -> None:
    account = make_account("nurse", name="王丽")
    log_in(page, account.username, account.password)
    page.wait_for_url(f"{live_server.url}/")
    assert page.locator("h1").inner_text() == "王丽，您好"
    assert page.locator(".badge").all_inner_texts() == ["护士"]
    page.get_by_role("button", name="退出登录").click()
    page.wait_for_url(re.compile(r"/login$"))
    assert page.locator(".flash").inner_text() == "您已退出登录。"
    page.goto("/")
    assert page.url.startswith(f"{live_server.url}/login?next=")


def test_wrong_password_is_refused(page: Any, make_account: Callable[..., Account]) -> None:
    account = make_account("nurse")
    log_in(page, account.username, "not the password")
    assert page.locator("#login-error").inner_text() == "用户名或密码错误。"
    assert page.get_by_label("用户名").input_value() == account.username  # kept for the retry
    assert page.get_by_label("密码").input_value() == ""


def test_five_failures_lock_the_account(page: Any, make_account: Callable[..., Account]) -> None:
    account = make_account("nurse")
    for n in range(5):
        log_in(page, account.username, f"guess {n}")
    assert page.locator("#login-error").inner_text() == "登录失败次数过多，请 15 分钟后再试。"
    log_in(page, account.username, account.password)
    assert "登录失败次数过多" in page.locator("#login-error").inner_text()


def test_admin_creates_staff_and_assigns_a_role(
    login_as: Callable[..., Any], new_page: Callable[[], Any], live_server: LiveServer
) -> None:
    admin = login_as("admin")
    admin.get_by_role("link", name="用户及角色管理").first.click()
    admin.get_by_role("link", name="新建账号").click()
    admin.get_by_label("姓名").fill("李审核")
    admin.get_by_label("用户名").fill("li.shenhe")
    admin.get_by_label("密码").fill("a long enough password")
    admin.get_by_label("审核人").check()
    admin.get_by_role("button", name="保存").click()
    row = admin.locator("tr[data-username='li.shenhe']")
    row.wait_for()  # the list page after the redirect (all_inner_texts does not wait)
    assert row.locator(".badge").all_inner_texts() == ["审核人"]
    assert admin.locator(".flash").inner_text() == "已创建账号 li.shenhe。"

    row.get_by_role("link", name="编辑").click()
    admin.get_by_label("内容编辑").check()
    admin.get_by_role("button", name="保存").click()
    assert admin.locator("tr[data-username='li.shenhe'] .badge").all_inner_texts() == ["内容编辑", "审核人"]

    reviewer = new_page()
    log_in(reviewer, "li.shenhe", "a long enough password")
    reviewer.wait_for_url(f"{live_server.url}/")
    # what the role allows, in words (the permission's id only in a tooltip, for support)
    granted = reviewer.locator("ul.permissions")
    assert "审核并批准他人编写的路径草稿" in granted.inner_text()
    assert "pathway.review" not in granted.inner_text()
    assert granted.locator('li[title="pathway.review"]').count() == 1
    assert reviewer.get_by_role("link", name="用户及角色管理").count() == 0


def test_admin_sees_only_their_hospitals_staff(
    login_as: Callable[..., Any], make_account: Callable[..., Account]
) -> None:
    other = make_account("nurse", hospital="b")
    admin = login_as("admin")
    admin.goto("/admin/staff")
    assert admin.locator(f"tr[data-username='{other.username}']").count() == 0
    answer = admin.goto(f"/admin/staff/{other.staff_id}")
    assert answer.status == 404


def test_non_admin_is_refused_the_admin_screen(login_as: Callable[..., Any]) -> None:
    nurse = login_as("nurse")
    assert nurse.get_by_role("link", name="用户及角色管理").count() == 0
    answer = nurse.goto("/admin/staff")
    assert answer.status == 403
    assert nurse.locator("h1").inner_text() == "无权访问"


def test_post_without_csrf_token_is_refused(login_as: Callable[..., Any], live_server: LiveServer) -> None:
    nurse = login_as("nurse")
    bare = nurse.evaluate(
        """async () => {
            const r = await fetch('/logout', {method: 'POST', headers: {'Accept': 'application/json'}});
            return [r.status, (await r.json()).code];
        }"""
    )
    assert bare == [400, "csrf-failed"]
    nurse.reload()
    assert nurse.locator("h1").inner_text().endswith("您好")  # still logged in

    # a form whose token was removed gets the "expired form" page
    nurse.evaluate("document.querySelector('form.inline input[name=csrf_token]').remove()")
    nurse.get_by_role("button", name="退出登录").click()
    assert nurse.locator("h1").inner_text() == "表单已过期"

    # the page's helper sends the token: the same request then works
    nurse.goto("/")
    status = nurse.evaluate("async () => (await carepath.fetch('/logout', {method: 'POST'})).status")
    assert status == 200  # the redirect to the login page, followed
    nurse.goto("/")
    assert "/login" in nurse.url


def test_idle_session_expires_and_login_returns_to_the_page(
    login_as: Callable[..., Any], live_server: LiveServer
) -> None:
    admin = login_as("admin")
    admin.goto("/admin/staff")
    live_server.clock.advance(minutes=31)
    try:
        # a page still open (an editor mid-sentence) learns why, and can keep its text
        api = admin.evaluate(
            "async () => { const r = await carepath.fetch('/admin/staff'); return [r.status, (await r.json()).code]; }"
        )
        assert api == [401, "session-expired"]
        admin.reload()
        assert admin.locator("h1").inner_text() == "医护人员登录"
        admin.get_by_label("用户名").fill(admin.account.username)
        admin.get_by_label("密码").fill(admin.account.password)
        admin.get_by_role("button", name="登录").click()
        admin.wait_for_url(f"{live_server.url}/admin/staff")
    finally:
        live_server.clock.advance(minutes=-31)
