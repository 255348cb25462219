"""高危专案 in a real Chromium on a phone-sized screen (issue 21 item 1): a doctor opens the queue of
suggested colours, reads which rule suggested a woman's orange (her placenta praevia), confirms it
there and lands back on the queue, which no longer holds her; the pages fit 390 px and the buttons
are tap-sized. (The filters, pages and refusals: tests/webapi/staff/test_risk_register.py.)"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from carepath.store import events, tenants
from carepath.store.models import ApiKey, Pregnancy
from carepath.store.scope import Actor
from tests.browser.conftest import LiveServer
from tests.browser.test_her_record import WIDER_THAN_THE_SCREEN
from tests.conftest import resident_id


def _orange_woman(live_server: LiveServer) -> str:
    """A woman of hospital ``a`` due in about a month (first among the oranges), diagnosed O44.1
    through the event service: a rule suggests orange."""
    app = live_server.app
    db, cipher = app.extensions["carepath.db"], app.extensions["carepath.cipher"]
    now = live_server.clock()
    with db.transaction() as session:
        key = tenants.create_api_key(session, cipher, "a", "his-register-browser", now)
    with db.reading() as session:
        integrator = session.get(ApiKey, key.key_id).integrator_id  # type: ignore[union-attr]
    actor = Actor("a", "integrator", str(integrator))
    at = (now - timedelta(hours=1)).isoformat()
    patient = {"his_id": "register-browser-1", "id_number": resident_id(654), "name": "赵小燕"}
    registered = events.post_event(
        db,
        cipher,
        actor,
        {
            "id": "register-browser-reg",
            "type": "patient.registered",
            "occurred_at": at,
            "patient": patient,
            "data": {"lmp": (now - timedelta(days=250)).date().isoformat(), "birth_date": "1996-04-12"},
        },
        now,
    )
    events.post_event(
        db,
        cipher,
        actor,
        {
            "id": "register-browser-dx",
            "type": "diagnosis.added",
            "occurred_at": at,
            "patient": {"his_id": "register-browser-1"},
            "data": {"code": "O44.1"},
        },
        now,
    )
    return str(registered.body["pregnancy"])


def test_a_doctor_confirms_a_suggested_orange_from_the_queue_on_her_phone(
    login_as: Callable[..., Any], live_server: LiveServer
) -> None:
    pregnancy_id = _orange_woman(live_server)
    page = login_as("doctor")
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto("/")
    page.get_by_role("link", name="高危专案").click()
    page.wait_for_url("**/staff/register")
    assert page.locator(f'tr.woman[data-pregnancy="{pregnancy_id}"]').count() == 1
    assert page.evaluate("document.documentElement.scrollWidth") <= 390, page.evaluate(WIDER_THAN_THE_SCREEN)
    page.locator("#to-queue").click()
    page.wait_for_url("**/staff/register/queue")
    item = page.locator(f'li.queue-item[data-pregnancy="{pregnancy_id}"]')
    assert "赵*" in item.inner_text() and "赵小燕" not in page.content()  # masked
    assert "前置胎盘" in item.inner_text() and "建议" in item.inner_text()  # the rule, in words
    assert item.locator("select.colour-choice").input_value() == "orange"  # the suggestion preselected
    assert page.evaluate("document.documentElement.scrollWidth") <= 390, page.evaluate(WIDER_THAN_THE_SCREEN)
    button = item.locator("button.confirm-button")
    box = button.bounding_box()
    assert box is not None and box["height"] >= 44
    item.locator("input[name=note]").fill("B超证实前置胎盘")
    button.click()
    page.wait_for_url("**/staff/register/queue")
    assert "已确认风险分级：橙色" in page.locator(".flash").inner_text()
    assert page.locator(f'li.queue-item[data-pregnancy="{pregnancy_id}"]').count() == 0
    with live_server.app.extensions["carepath.db"].reading() as session:
        pregnancy = session.get(Pregnancy, pregnancy_id)
        assert pregnancy is not None
        facts = pregnancy.state["facts"]
        assert (facts["risk_colour"], facts["risk_colour_status"]) == ("orange", "confirmed")
        assert facts["confirmed_risk"]["note"] == "B超证实前置胎盘"
    page.goto("/staff/register?colour=orange")
    row = page.locator(f'tr.woman[data-pregnancy="{pregnancy_id}"]')
    assert "已确认" in row.inner_text() and "待医生确认" not in row.inner_text()
    assert errors == []
