"""The demo-mode banner in a real Chromium, on the staff home at desktop size."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.browser.conftest import Account, LiveServer, log_in


def test_the_drafts_banner_tops_the_staff_home_at_desktop_size(
    new_page: Callable[[], Any], make_account: Callable[..., Account], live_server: LiveServer
) -> None:
    from carepath.store import hospital_settings, tenants
    from carepath.store.scope import Actor

    database = live_server.app.extensions["carepath.db"]
    now = live_server.clock()
    with database.transaction() as session:  # a hospital of its own: the others keep no banner
        tenants.ensure_hospital(session, "drafts", "演示医院", now)
        hospital_settings.update(
            session, "drafts", {"drafts_allowed": True}, actor=Actor("drafts", "test", "browser"), now=now
        )
    account = make_account("nurse", hospital="drafts")
    page = new_page()
    page.set_viewport_size({"width": 1280, "height": 800})
    log_in(page, account.username, account.password)
    page.wait_for_url(f"{live_server.url}/")
    banner = page.get_by_role("alert")
    assert banner.inner_text() == "演示模式：未经审核的内容也会发送给孕妇"
    assert banner.is_visible()
    box = banner.bounding_box()
    header = page.locator("header.topbar").bounding_box()
    assert box is not None and header is not None
    assert box["y"] >= header["y"] + header["height"] - 1 and box["y"] < 200  # right under the top bar
    assert box["width"] >= 1200  # across the page
    colour = page.evaluate("() => getComputedStyle(document.getElementById('drafts-banner')).backgroundColor")
    assert colour != "rgba(0, 0, 0, 0)"  # styled, not a bare line of text

    other = make_account("nurse")  # hospital a sends only approved content: no banner
    second = new_page()
    log_in(second, other.username, other.password)
    second.wait_for_url(f"{live_server.url}/")
    assert second.get_by_role("alert").count() == 0
