"""工作台 on a ward nurse's phone (390×844), in a real Chromium: an urgent task opened by a HIS
event appears on her page without reloading; she claims it, records the outcome, and it
leaves her list.

Hospital ``ws`` is this test's own (its pathway is published for it alone), so the shared live
server's other tests see nothing of it. The page polls every second here (every 15 s in
production, ``WORKSPACE_POLL_SECONDS``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from carepath.store import pathways, tenants
from tests.browser.conftest import LiveServer, log_in
from tests.webapi.conftest import Api, Integrator
from tests.webapi.staff.workspace_seed import PATHWAY, URGENT, team

HOSPITAL = "ws"


class _Now:
    """The signing clock of ``Api``: the live server's own time."""

    def __init__(self, live_server: LiveServer) -> None:
        self.live_server = live_server

    @property
    def now(self) -> Any:
        return self.live_server.clock()


@pytest.fixture
def ward(live_server: LiveServer) -> Iterator[Api]:
    """Hospital ``ws`` with the test pathway and a HIS key; the page polls every second."""
    app = live_server.app
    db, now = app.extensions["carepath.db"], live_server.clock()
    with db.transaction() as session:
        tenants.ensure_hospital(session, HOSPITAL, "病区测试医院", now)
        pathways.publish(session, {"workspace-test.yaml": PATHWAY}, now, hospital_id=HOSPITAL)
        key = tenants.create_api_key(session, app.extensions["carepath.cipher"], HOSPITAL, "his", now)
    app.config["WORKSPACE_POLL_SECONDS"] = 1
    yield Api(app.test_client(), Integrator(key.key_id, key.secret, HOSPITAL), _Now(live_server))  # type: ignore[arg-type]
    app.config.pop("WORKSPACE_POLL_SECONDS")


def _tap_target_ok(page: Any, selector: str) -> bool:
    box = page.locator(selector).first.bounding_box()
    return box is not None and box["height"] >= 44


def test_an_urgent_task_appears_without_reloading_and_she_works_it_on_a_phone(
    new_page: Callable[[], Any], make_account: Callable[..., Any], live_server: LiveServer, ward: Api
) -> None:
    nurse = make_account("nurse", hospital=HOSPITAL)
    team(live_server.app, nurse.staff_id, hospital=HOSPITAL, name="病区一组")  # her default team
    page = new_page()
    page.set_viewport_size({"width": 390, "height": 844})
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    log_in(page, nurse.username, nurse.password)
    page.wait_for_url(f"{live_server.url}/")
    page.locator("#home-pages").get_by_role("link", name="工作台").click()
    page.wait_for_selector("#work-empty")
    page.evaluate("window.notReloaded = true")

    # the HIS posts her registration and a diagnosis: the pathway opens an urgent task
    now = live_server.clock().isoformat(timespec="seconds")
    registered = ward.post(
        "/api/v1/events",
        {
            "id": "ws-reg-1",
            "type": "patient.registered",
            "occurred_at": now,
            "patient": {"his_id": "ws-001", "name": "陈静", "phone": "13711112222"},
            "data": {"lmp": "2026-01-05", "birth_date": "1990-04-12", "gravida": 1, "para": 0},
        },
    )
    assert registered.status_code == 201, registered.get_json()
    diagnosed = ward.post(
        "/api/v1/events",
        {
            "id": "ws-dx-1",
            "type": "diagnosis.added",
            "occurred_at": now,
            "patient": {"his_id": "ws-001"},
            "data": {"code": "O14.1", "name": "重度子痫前期"},
        },
    )
    assert diagnosed.status_code == 201, diagnosed.get_json()

    # it appears by itself, urgent, her name masked; the page was not reloaded
    row = page.locator('.work-item[data-priority="urgent"]')
    row.wait_for()
    assert URGENT in row.inner_text() and "陈*" in row.inner_text() and "陈静" not in page.content()
    assert page.locator("#new-urgent").is_visible()
    assert page.evaluate("window.notReloaded") is True
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # no sideways scrolling
    assert _tap_target_ok(page, ".work-link")

    # she opens it, claims it and records the outcome
    row.locator("a").click()
    page.wait_for_selector("#task-title")
    assert "陈静" in page.locator("#her").inner_text()  # opened: in full (audited)
    assert _tap_target_ok(page, "#claim")
    page.locator("#claim").click()
    page.wait_for_selector("#release")
    assert "由您处理" in page.locator("#task-state").inner_text()
    page.get_by_label("没有").first.check()  # bleeding: none
    page.locator("#item-contractions").get_by_label("没有").check()
    page.locator("#outcome").fill("已电话联系，嘱立即来院复测血压")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.locator("#record-outcome").click()
    page.wait_for_url(f"{live_server.url}/staff/work")
    assert "结果已记录" in page.content()
    assert page.locator('.work-item[data-priority="urgent"]').count() == 0
    assert errors == []
