"""查找孕妇 in a real Chromium on a phone-sized screen (issue 21 item 2, Done-when "finds a woman
by name"): a doctor types a woman's name on 患者, finds her masked among the results, and opens
her record from the result; the form fits 390 px without sideways scrolling."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from carepath.store import events, tenants
from carepath.store.models import ApiKey
from carepath.store.scope import Actor
from tests.browser.conftest import LiveServer
from tests.browser.test_her_record import WIDER_THAN_THE_SCREEN
from tests.conftest import resident_id


def _woman(live_server: LiveServer, his_id: str, name: str, n: int) -> str:
    """A woman of hospital ``a``, registered through the event service; her pregnancy id."""
    app = live_server.app
    db, cipher = app.extensions["carepath.db"], app.extensions["carepath.cipher"]
    now = live_server.clock()
    with db.transaction() as session:
        key = tenants.create_api_key(session, cipher, "a", f"his-find-{his_id}", now)
    with db.reading() as session:
        integrator = session.get(ApiKey, key.key_id).integrator_id  # type: ignore[union-attr]
    registered = events.post_event(
        db,
        cipher,
        Actor("a", "integrator", str(integrator)),
        {
            "id": f"find-browser-{his_id}",
            "type": "patient.registered",
            "occurred_at": (now - timedelta(hours=1)).isoformat(),
            "patient": {
                "his_id": his_id,
                "id_number": resident_id(n),
                "name": name,
                "phone": f"1390000{n:04d}",
            },
            "data": {"lmp": (now - timedelta(days=150)).date().isoformat(), "birth_date": "1991-05-06"},
        },
        now,
    )
    return str(registered.body["pregnancy"])


def test_a_doctor_finds_a_woman_by_name_on_a_phone_and_opens_her_record(
    login_as: Callable[..., Any], live_server: LiveServer
) -> None:
    wanted = _woman(live_server, "find-browser-1", "周晓燕", 411)
    _woman(live_server, "find-browser-2", "周晓", 412)  # a name that begins the same: not her
    page = login_as("doctor")
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto("/staff/patients")
    assert page.locator("h1").inner_text() == "患者"
    assert page.evaluate("document.documentElement.scrollWidth") <= 390, page.evaluate(WIDER_THAN_THE_SCREEN)
    page.get_by_label("姓名").fill("周晓燕")
    page.get_by_role("button", name="查找").click()
    rows = page.locator("tr.woman.found")
    rows.first.wait_for()
    assert rows.count() == 1 and rows.first.get_attribute("data-pregnancy") == wanted
    assert "周**" in rows.first.inner_text() and "周晓燕" not in rows.first.inner_text()
    assert page.url.endswith("/staff/patients")  # the name never went into the address
    assert page.evaluate("document.documentElement.scrollWidth") <= 390, page.evaluate(WIDER_THAN_THE_SCREEN)
    rows.first.get_by_role("link", name="打开").click()
    page.wait_for_url(f"**/staff/patients/{wanted}")


def test_a_bad_week_range_is_said_in_chinese_on_the_page(login_as: Callable[..., Any]) -> None:
    page = login_as("nurse")
    page.goto("/staff/patients")
    page.locator("#more-filters summary").click()
    page.get_by_label("起始孕周").fill("30")
    page.get_by_label("截止孕周").fill("20")
    page.get_by_role("button", name="查找").click()
    assert "孕周范围的起点晚于终点" in page.locator("#error-week_to").inner_text()
