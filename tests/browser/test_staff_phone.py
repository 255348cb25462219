"""A phone is enough (issue 20 item 6): every staff page's top bar wraps on a 390-px screen
(the shared stylesheet, not one page's), nothing reaches past the screen's edge, and the nav's
links are tap-sized."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.browser.test_her_record import WIDER_THAN_THE_SCREEN


def test_a_nurse_on_a_phone_sees_no_sideways_scroll_and_tap_sized_nav(login_as: Callable[..., Any]) -> None:
    page = login_as("nurse")
    page.set_viewport_size({"width": 390, "height": 844})
    for path in ("/", "/staff/patients"):
        page.goto(path)
        wide = page.evaluate(WIDER_THAN_THE_SCREEN)
        assert page.evaluate("document.documentElement.scrollWidth") <= 390, (path, wide)
        links = page.locator(".main-nav a, .topbar .session a, .topbar .session button")
        assert links.count() >= 2, path
        for i in range(links.count()):
            box = links.nth(i).bounding_box()
            assert box is not None and box["height"] >= 44, (path, links.nth(i).inner_text(), box)


def test_a_nurse_is_refused_the_admin_pages_and_sees_no_link_to_them(login_as: Callable[..., Any]) -> None:
    """Issue 20 item 4 in a real browser: a nurse's home links her work, not the admin pages;
    typed in by hand, each admin page answers the refusal page in Chinese, not its content."""
    page = login_as("nurse")
    page.goto("/")
    nav = page.locator(".main-nav").inner_text()
    assert "工作台" in nav and "患者" in nav
    assert "团队" not in nav and page.locator('a[href^="/admin/"]').count() == 0
    for path in ("/admin/staff", "/admin/staff/new", "/staff/teams", "/editor/policy"):
        answer = page.goto(path)
        assert answer is not None and answer.status == 403, path
        body = page.locator("body").inner_text()
        assert "权限" in body, (path, body[:200])
        assert "Forbidden" not in body and "Staff and roles" not in body, path
