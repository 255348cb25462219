"""Her home (首页) in Chromium at a phone's size (issue 19): at 390×844 it has no serious axe-core
violation (labels, names, AA contrast), nor have her inbox and item pages; its first load is
≤ 150 KB (fonts aside), every link and button is a 44 px target, and its folded texts open
without JavaScript; a smoke at 360×640.

She is registered through the HIS API on the shared live server, in a hospital of this module's
own (``h5home``: drafts allowed; other modules count hospital ``a``'s and ``b``'s women), 26
weeks pregnant today."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest

from tests.browser.axe import PAGE_BUDGET, describe, first_load_bytes, serious_violations
from tests.browser.conftest import TIMEOUT_MS, LiveServer
from tests.conftest import resident_id, set_hospital_settings
from tests.webapi.conftest import Api, Integrator, registration
from tests.webapi.h5.conftest import her_cookie

HOSPITAL = "h5home"
PHONE = {"width": 390, "height": 844}
SMALL_PHONE = {"width": 360, "height": 640}


@dataclass
class _Now:
    now: datetime


@pytest.fixture(scope="module")
def her(live_server: LiveServer) -> int:
    """A woman of hospital ``h5home`` 26+0 today, with an unread item."""
    from sqlalchemy import select

    from carepath.store import tenants
    from carepath.store.models import Patient
    from tests.webapi.h5.test_her_inbox import file_item

    app, now = live_server.app, live_server.clock()
    database = app.extensions["carepath.db"]
    with database.transaction() as session:
        tenants.ensure_hospital(session, HOSPITAL, "市妇幼保健院", now)
        key = tenants.create_api_key(session, app.extensions["carepath.cipher"], HOSPITAL, "his", now)
    set_hospital_settings(database, HOSPITAL, drafts_allowed=True, emergency_phone="0571-87061501")
    api = Api(app.test_client(), Integrator(key.key_id, key.secret, HOSPITAL), _Now(now))  # type: ignore[arg-type]
    event = registration(
        "p-home-1", "reg-home-1", id_number=resident_id(881), phone="13900000881", name="赵小芳"
    )
    lmp = (now + timedelta(hours=8)).date() - timedelta(weeks=26)
    stamp = now.isoformat()
    event["occurred_at"] = stamp
    event["data"].update(lmp=lmp.isoformat(), enrolled_at=stamp)
    answer = api.post("/api/v1/events", event)
    assert answer.status_code in (200, 201, 202), json.dumps(answer.get_json(), ensure_ascii=False)
    with database.reading() as session:
        patient = session.scalar(
            select(Patient.id).where(Patient.his_patient_id == "p-home-1", Patient.hospital_id == HOSPITAL)
        )
    assert patient is not None
    file_item(app, patient, "k-home-1", title="孕期课程", body="## 孕期课程\n\n正文")
    return int(patient)


def _signed_in(
    chromium: Any, server: LiveServer, patient: int, viewport: dict[str, int], **options: Any
) -> Any:
    from carepath.store import patient_sessions

    app = server.app
    token = patient_sessions.start(app.extensions["carepath.db"], patient, HOSPITAL, "demo", server.clock())
    context = chromium.new_context(base_url=server.url, locale="zh-CN", viewport=viewport, **options)
    context.set_default_timeout(TIMEOUT_MS)
    name = app.config["H5_SESSION_COOKIE_NAME"]
    cookie = her_cookie(app, {"her": token})
    context.add_cookies([{"name": name, "value": cookie, "url": f"{server.url}/h5/"}])
    return context


def _small_targets(page: Any) -> list[str]:
    """Links, buttons and summaries smaller than 44×44 CSS px (her thumb's target)."""
    return list(
        page.evaluate(
            """() => [...document.querySelectorAll('a, button, summary, input:not([type=hidden])')]
              .filter(e => { const r = e.getBoundingClientRect(); return r.width < 44 || r.height < 44; })
              .map(e => e.outerHTML.slice(0, 80))"""
        )
    )


def test_her_home_at_390_passes_axe_weighs_under_150_kb_and_has_thumb_targets(
    chromium: Any, live_server: LiveServer, her: int
) -> None:
    context = _signed_in(chromium, live_server, her, PHONE)
    try:
        page = context.new_page()
        weight = first_load_bytes(page, "/h5/")
        assert weight <= PAGE_BUDGET, weight
        page.get_by_role("heading", name="赵小芳", level=1).wait_for()
        assert page.get_by_text("孕26周", exact=True).is_visible()
        assert page.get_by_text("市妇幼保健院").is_visible()
        page.get_by_role("heading", name="本周课程：孕26周").wait_for()
        assert page.get_by_role("link", name="消息 1 条未读").is_visible()
        violations = serious_violations(page)
        assert violations == [], describe(violations)
        assert _small_targets(page) == []
        # a folded text opens on a tap, with JavaScript or without (it is <details>)
        page.get_by_text("这次检查什么").first.click()
        assert page.locator("details[open]").count() == 1
        # her inbox and an item of it, reached from the home, pass the same checks
        page.get_by_role("link", name="消息 1 条未读").click()
        page.get_by_role("heading", name="消息", level=1).wait_for()
        for where in ("inbox", "item"):
            violations = serious_violations(page)
            assert violations == [], (where, describe(violations))
            assert _small_targets(page) == [], where
            if where == "inbox":
                page.get_by_role("link", name="孕期课程").click()
                page.get_by_role("heading", name="孕期课程", level=1).wait_for()
    finally:
        context.close()


def test_her_home_at_360_by_640_fits_without_javascript(
    chromium: Any, live_server: LiveServer, her: int
) -> None:
    context = _signed_in(chromium, live_server, her, SMALL_PHONE, java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto("/h5/")
        page.get_by_role("heading", name="赵小芳", level=1).wait_for()
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        assert page.get_by_role("link", name="问卷", exact=True).is_visible()
        assert page.get_by_role("link", name="我的数据").is_visible()
        page.get_by_text("阅读本周课程全文").click()  # <details>: no script needed
        page.get_by_role("heading", name="宝宝这一周").last.wait_for()
        assert page.locator("details[open]").count() == 1
    finally:
        context.close()
