"""Her record in a real Chromium on a phone-sized screen (issue 20): a doctor opens a woman
whose placenta praevia made a rule suggest orange, and confirms it; the page fits 390 px and
its buttons are tap-sized. (The pages' sections, actions and refusals: tests/webapi/staff.)"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from carepath.store import events, tenants
from carepath.store.models import ApiKey, Pregnancy
from carepath.store.scope import Actor
from tests.browser.conftest import LiveServer
from tests.conftest import resident_id

#: The elements that reach past the screen's right edge (the assertion's message).
WIDER_THAN_THE_SCREEN = """() => [...document.querySelectorAll('body *')]
  .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1)
  .map(e => `${e.tagName}#${e.id}.${e.className} ${Math.round(e.getBoundingClientRect().right)}`)
  .slice(0, 10)"""


def _orange_woman(live_server: LiveServer) -> str:
    """A woman of hospital ``a`` registered and diagnosed O44.1 through the event service."""
    app = live_server.app
    db, cipher = app.extensions["carepath.db"], app.extensions["carepath.cipher"]
    now = live_server.clock()
    with db.transaction() as session:
        key = tenants.create_api_key(session, cipher, "a", "his-record-browser", now)
    with db.reading() as session:
        integrator = session.get(ApiKey, key.key_id).integrator_id  # type: ignore[union-attr]
    actor = Actor("a", "integrator", str(integrator))
    at = (now - timedelta(hours=1)).isoformat()
    patient = {"his_id": "record-browser-1", "id_number": resident_id(321), "name": "李小梅"}
    registered = events.post_event(
        db,
        cipher,
        actor,
        {
            "id": "record-browser-reg",
            "type": "patient.registered",
            "occurred_at": at,
            "patient": patient,
            "data": {"lmp": (now - timedelta(days=180)).date().isoformat(), "birth_date": "1990-04-12"},
        },
        now,
    )
    events.post_event(
        db,
        cipher,
        actor,
        {
            "id": "record-browser-dx",
            "type": "diagnosis.added",
            "occurred_at": at,
            "patient": {"his_id": "record-browser-1"},
            "data": {"code": "O44.1"},
        },
        now,
    )
    return str(registered.body["pregnancy"])


def test_a_doctor_confirms_a_suggested_orange_on_her_phone(
    login_as: Callable[..., Any], live_server: LiveServer
) -> None:
    pregnancy_id = _orange_woman(live_server)
    page = login_as("doctor")
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"/staff/patients/{pregnancy_id}")
    assert page.locator("#colour-now").inner_text() == "橙色"
    assert "尚未确认" in page.locator("#colour-status").inner_text()
    assert page.locator("#colour-choice").input_value() == "orange"  # the suggestion is preselected
    # a phone is enough: nothing wider than the screen, the buttons a finger can hit
    wide = page.evaluate(WIDER_THAN_THE_SCREEN)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390, wide
    button = page.locator("#confirm-colour-button").bounding_box()
    assert button is not None and button["height"] >= 44
    page.locator("#confirm-colour input[name=note]").fill("B超证实前置胎盘")
    page.locator("#confirm-colour-button").click()
    page.wait_for_url(f"**/staff/patients/{pregnancy_id}")
    assert "医生已确认" in page.locator("#colour-status").inner_text()
    assert "已确认风险分级：橙色" in page.locator(".flash").inner_text()
    assert "B超证实前置胎盘" in page.locator("#risk-history").inner_text()
    with live_server.app.extensions["carepath.db"].reading() as session:
        pregnancy = session.get(Pregnancy, pregnancy_id)
        assert pregnancy is not None
        assert pregnancy.state["facts"]["risk_colour_status"] == "confirmed"
    assert errors == []
