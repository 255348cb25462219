"""What staff see of the approval gate: the held count on the home page, and the warning banner
on every staff page while the hospital allows drafts (server-rendered; the test client)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask

from carepath.store.roles import ROLES
from tests.conftest import NOW, approve_item, set_hospital_settings
from tests.webapi.conftest import StaffBrowser, make_staff

BANNER = "演示模式：未经审核的内容也会发送给孕妇"


def _held_rows(app: Flask, contents: list[str], hospital: str = "a") -> None:
    """Due rows naming ``contents``, claimed once by the dispatcher (which holds the drafts)."""
    from carepath.channels.inbox import InboxChannel, MemoryInbox
    from carepath.delivery.dispatch_settings import HospitalDelivery
    from carepath.delivery.dispatcher import dispatch_once
    from tests.delivery.conftest import add_outbox, add_pregnancy

    db, cipher = app.extensions["carepath.db"], app.extensions["carepath.cipher"]
    _, pregnancy = add_pregnancy(db, cipher, 1, hospital=hospital)
    for n, content in enumerate(contents):
        add_outbox(db, pregnancy, f"k-{n}", kind="push", params={"content": content}, hospital=hospital)
    setup = HospitalDelivery(channels={"inbox": InboxChannel(MemoryInbox())})
    report = dispatch_once(db, NOW, lambda h: setup, cipher=cipher)
    assert report.held == len(contents)


def test_the_home_page_counts_the_held_messages_and_links_to_them(app: Flask, browser: StaffBrowser) -> None:
    make_staff(app, "li.shen", "reviewer")
    browser.login("li.shen")
    assert "未审核" not in browser.client.get("/").get_data(as_text=True)  # nothing held: nothing said
    _held_rows(app, ["week-20", "week-20", "week-21"])
    page = browser.client.get("/").get_data(as_text=True)
    assert "3 条消息因内容未审核而暂停发送" in page
    assert re.search(r'href="/editor/content/week-20"><code>week-20</code></a>\s*· 2 条暂停', page)
    assert 'href="/editor/review"' in page
    assert BANNER not in page  # drafts are not allowed: they are held, not sent

    approve_item(app.extensions["carepath.db"], "a", "content", "week-20")  # releases its two rows
    page = browser.client.get("/").get_data(as_text=True)
    assert "1 条消息因内容未审核而暂停发送" in page and "week-20" not in page


def test_another_hospitals_held_messages_are_not_counted(app: Flask, browser: StaffBrowser) -> None:
    _held_rows(app, ["week-20"], hospital="b")
    make_staff(app, "li.shen", "reviewer")
    browser.login("li.shen")
    assert "暂停发送" not in browser.client.get("/").get_data(as_text=True)


def _staff_pages(app: Flask) -> list[str]:
    """Every page a browser may GET without arguments, outside the signed API and callbacks."""
    skipped = (
        "/api",
        "/fhir",
        "/wechat",
        "/static",
        "/healthz",
        "/metrics",
        "/editor/api",
        "/editor/schemas",
        "/h5",  # her pages: not staff pages, no staff banner (drafts she is sent are the setting's)
        "/inbox",  # old links to her inbox items, redirected to /h5
    )
    pages = []
    for rule in app.url_map.iter_rules():
        if "GET" in (rule.methods or ()) and not rule.arguments and not rule.rule.startswith(skipped):
            pages.append(rule.rule)
    return sorted(pages)


def test_every_staff_page_warns_while_drafts_are_allowed(app: Flask, browser: StaffBrowser) -> None:
    make_staff(app, "all.roles", *ROLES)
    browser.login("all.roles")
    set_hospital_settings(app.extensions["carepath.db"], "a", drafts_allowed=True)
    pages = [
        *_staff_pages(app),
        "/editor/content/week-20",
        "/editor/history/content/week-20",
        "/no-such-page",
    ]
    shown = 0
    for path in pages:
        answer = browser.client.get(path, headers={"Accept": "text/html"})
        if answer.mimetype != "text/html" or answer.status_code in (301, 302):
            continue  # a redirect or a file, not a page
        assert BANNER in answer.get_data(as_text=True), path
        shown += 1
    assert shown >= 8 and "/" in pages and "/editor/review" in pages and "/admin/staff" in pages

    set_hospital_settings(app.extensions["carepath.db"], "a", drafts_allowed=False)
    assert BANNER not in browser.client.get("/").get_data(as_text=True)


@pytest.mark.parametrize("hospital", ["b"])
def test_only_the_hospital_that_allows_drafts_warns(app: Flask, browser: StaffBrowser, hospital: str) -> None:
    set_hospital_settings(app.extensions["carepath.db"], "a", drafts_allowed=True)
    make_staff(app, "other.nurse", "nurse", hospital=hospital)
    browser.login("other.nurse")
    assert BANNER not in browser.client.get("/").get_data(as_text=True)
    assert BANNER not in browser.client.get("/login").get_data(as_text=True)


def test_the_login_page_shows_no_banner(app: Flask, browser: Any) -> None:
    set_hospital_settings(app.extensions["carepath.db"], "a", drafts_allowed=True)
    assert BANNER not in browser.client.get("/login").get_data(as_text=True)  # no hospital yet
