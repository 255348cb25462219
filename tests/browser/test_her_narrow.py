"""Her pages at 390 px, as walking the demo found them (issue 19's "Done when"): an unread badge
beside a long title stays one pill (it wrapped into a two-line blob); a quoted note in a
lesson or a checkup uses the width of the card (a browser's default blockquote margins took
80 px of 358); the hospital's emergency number is never split across two lines.

She is registered through the HIS API on the shared live server, in a hospital of this module's
own (``h5narrow``)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest

from tests.browser.conftest import TIMEOUT_MS, LiveServer
from tests.conftest import resident_id, set_hospital_settings
from tests.webapi.conftest import Api, Integrator, registration
from tests.webapi.h5.conftest import her_cookie

HOSPITAL = "h5narrow"
PHONE = {"width": 390, "height": 844}
EMERGENCY = "0571-00000000"
LONG_TITLE = "欢迎加入妊娠期高血压疾病孕期管理"


@dataclass
class _Now:
    now: datetime


@pytest.fixture(scope="module")
def her(live_server: LiveServer) -> tuple[int, int]:
    """A woman of ``h5narrow``: an unread item with a long title holding a quoted note, and a
    BP log sent to her; (her patient id, the form's id)."""
    from sqlalchemy import select

    from carepath.store import tenants
    from carepath.store.models import Patient
    from tests.webapi.h5.test_her_forms import send_form
    from tests.webapi.h5.test_her_inbox import file_item

    app, now = live_server.app, live_server.clock()
    database = app.extensions["carepath.db"]
    with database.transaction() as session:
        tenants.ensure_hospital(session, HOSPITAL, "市妇幼保健院", now)
        key = tenants.create_api_key(session, app.extensions["carepath.cipher"], HOSPITAL, "his", now)
    set_hospital_settings(database, HOSPITAL, emergency_phone=EMERGENCY)
    api = Api(app.test_client(), Integrator(key.key_id, key.secret, HOSPITAL), _Now(now))  # type: ignore[arg-type]
    event = registration(
        "p-narrow-1", "reg-narrow-1", id_number=resident_id(882), phone="13900000882", name="钱小梅"
    )
    event["occurred_at"] = now.isoformat()
    event["data"].update(lmp=((now + timedelta(hours=8)).date() - timedelta(weeks=26)).isoformat())
    answer = api.post("/api/v1/events", event)
    assert answer.status_code in (200, 201, 202), json.dumps(answer.get_json(), ensure_ascii=False)
    with database.reading() as session:
        patient = session.scalar(
            select(Patient.id).where(Patient.his_patient_id == "p-narrow-1", Patient.hospital_id == HOSPITAL)
        )
    assert patient is not None
    note = "这两项备查内容按指南修改，我们还没有核对原文，请以医生的安排为准。" * 2
    file_item(app, patient, "k-narrow-1", title=LONG_TITLE, body=f"## 这次检查什么\n\n- 血压\n\n> {note}")
    return int(patient), send_form(app, patient, "bp-log", "k-narrow-bp")


def _signed_in(chromium: Any, server: LiveServer, patient: int) -> Any:
    from carepath.store import patient_sessions

    app = server.app
    token = patient_sessions.start(app.extensions["carepath.db"], patient, HOSPITAL, "demo", server.clock())
    context = chromium.new_context(base_url=server.url, locale="zh-CN", viewport=PHONE)
    context.set_default_timeout(TIMEOUT_MS)
    context.add_cookies(
        [
            {
                "name": app.config["H5_SESSION_COOKIE_NAME"],
                "value": her_cookie(app, {"her": token}),
                "domain": "127.0.0.1",
                "path": "/h5",
                "httpOnly": True,
                "sameSite": "Lax",
            }
        ]
    )  # fmt: skip  (as her sign-in sets it: her form's CSRF token lives in it)
    return context.new_page()


def test_her_badges_quotes_and_the_emergency_number_fit_a_phone(
    chromium: Any, live_server: LiveServer, her: tuple[int, int]
) -> None:
    patient, form = her
    page = _signed_in(chromium, live_server, patient)
    page.goto("/h5/inbox")
    badge = page.locator("li", has_text=LONG_TITLE).locator(".badge").bounding_box()
    assert badge is not None and badge["width"] > badge["height"], badge  # a pill, not a blob

    page.get_by_role("link", name=LONG_TITLE).click()
    page.locator("blockquote").wait_for()
    quote, body = (page.locator(s).bounding_box() for s in ("blockquote", ".body"))
    assert quote is not None and body is not None
    assert quote["width"] >= body["width"] - 24, (quote, body)  # the card's width, not 80 px less

    page.goto(f"/h5/forms/{form}")
    page.get_by_label("测量日期").fill(live_server.clock().date().isoformat())
    page.get_by_label("上午").check()
    page.get_by_label("收缩压（高压）").fill("118")
    page.get_by_label("舒张压（低压）").fill("76")
    page.get_by_label("都没有").check()
    page.get_by_role("button", name="提交").click()
    page.locator("#emergency-note").wait_for()
    split = page.evaluate(
        """(number) => {
            const walker = document.createTreeWalker(document.querySelector('main'), NodeFilter.SHOW_TEXT);
            const lines = [];
            for (let node = walker.nextNode(); node; node = walker.nextNode()) {
                const at = node.textContent.indexOf(number);
                if (at < 0) continue;
                const range = document.createRange();
                range.setStart(node, at);
                range.setEnd(node, at + number.length);
                lines.push(new Set([...range.getClientRects()].map(r => Math.round(r.top))).size);
            }
            return lines;
        }""",
        EMERGENCY,
    )
    assert split and all(lines == 1 for lines in split), split  # each number on one line
    page.context.close()
