"""The account lock in a real Chromium: guesses from many addresses lock a nurse's account;
the admin sees it locked on /admin/staff and unlocks it with one button; she logs in again."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import suppress
from typing import Any

from tests.browser.conftest import Account, LiveServer, log_in


def _guess_from_many_addresses(live_server: LiveServer, username: str) -> None:
    from carepath.store import accounts

    for n in range(20):
        with suppress(accounts.LoginFailedError, accounts.LoginLockedError):
            accounts.login(
                live_server.app.extensions["carepath.db"],
                username,
                "a wrong guess",
                live_server.clock(),
                remote_addr=f"203.0.113.{n}",
                profile="test",
            )


def test_admin_unlocks_an_account_locked_by_guesses(
    login_as: Callable[..., Any],
    make_account: Callable[..., Account],
    new_page: Callable[[], Any],
    live_server: LiveServer,
) -> None:
    nurse = make_account("nurse")
    _guess_from_many_addresses(live_server, nurse.username)
    page = new_page()
    log_in(page, nurse.username, nurse.password)
    assert page.locator("#login-error").inner_text() == "登录失败次数过多，账号已锁定，请联系管理员解锁。"

    admin = login_as("admin")
    admin.goto("/admin/staff")
    row = admin.locator(f"tr[data-username='{nurse.username}']")
    assert "已锁定" in row.inner_text()
    row.get_by_role("button", name="解锁").click()
    assert admin.locator(".flash").inner_text() == f"已解锁 测试{nurse.username}，可以重新登录。"
    assert admin.locator(f"tr[data-username='{nurse.username}'] button.unlock").count() == 0

    log_in(page, nurse.username, nurse.password)
    page.wait_for_url(f"{live_server.url}/")
