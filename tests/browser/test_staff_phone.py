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
