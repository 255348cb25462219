"""批量操作 in a real Chromium (issue 21 item 4): a doctor filters the women by a tag, sees how
many and a masked sample, gives a reason, confirms, and watches the batch (run by a thread of
the server) reach its end without reloading; the women carry the new tag.

Hospital ``bt`` is this test's own, so the shared live server's other tests see nothing of it.
The page polls every second here (``BATCH_POLL_SECONDS``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import select

from carepath.store import tenants
from carepath.store.models import Pregnancy
from tests.browser.conftest import LiveServer, log_in
from tests.webapi.conftest import Api, Integrator

HOSPITAL = "bt"


class _Now:
    def __init__(self, live_server: LiveServer) -> None:
        self.live_server = live_server

    @property
    def now(self) -> Any:
        return self.live_server.clock()


@pytest.fixture
def his(live_server: LiveServer) -> Iterator[Api]:
    app = live_server.app
    db, now = app.extensions["carepath.db"], live_server.clock()
    with db.transaction() as session:
        tenants.ensure_hospital(session, HOSPITAL, "批量测试医院", now)
        key = tenants.create_api_key(session, app.extensions["carepath.cipher"], HOSPITAL, "his", now)
    app.config["BATCH_POLL_SECONDS"] = 1
    yield Api(app.test_client(), Integrator(key.key_id, key.secret, HOSPITAL), _Now(live_server))  # type: ignore[arg-type]
    app.config.pop("BATCH_POLL_SECONDS")


def _woman(his: Api, live_server: LiveServer, n: int, tag: str | None) -> None:
    now = live_server.clock().isoformat(timespec="seconds")
    answer = his.post(
        "/api/v1/events",
        {
            "id": f"bt-reg-{n}",
            "type": "patient.registered",
            "occurred_at": now,
            "patient": {"his_id": f"bt-{n:03d}", "name": "李芳", "phone": f"1390000{n:04d}"},
            "data": {"lmp": "2026-03-02", "birth_date": "1992-05-20", "gravida": 1, "para": 0},
        },
    )
    assert answer.status_code == 201, answer.get_json()
    if tag:
        tagged = his.post(
            "/api/v1/events",
            {
                "id": f"bt-tag-{n}",
                "type": "tag.added",
                "occurred_at": now,
                "patient": {"his_id": f"bt-{n:03d}"},
                "data": {"tag": tag},
            },
        )
        assert tagged.status_code == 201, tagged.get_json()


def test_a_doctor_tags_a_filtered_cohort(
    new_page: Callable[[], Any], make_account: Callable[..., Any], live_server: LiveServer, his: Api
) -> None:
    for n in range(1, 5):
        _woman(his, live_server, n, "双胎" if n <= 3 else None)
    doctor = make_account("doctor", hospital=HOSPITAL)
    page = new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    log_in(page, doctor.username, doctor.password)
    page.wait_for_url(f"{live_server.url}/")
    page.locator("#home-pages").get_by_role("link", name="批量操作").click()
    page.wait_for_selector("#filter-form")

    # an empty filter is refused, saying why
    page.locator("#preview-button").click()
    assert "请至少选择一个筛选条件" in page.locator("#batch-error").inner_text()

    page.locator("#filter-tag").fill("双胎")
    page.locator("#preview-button").click()
    page.wait_for_selector("#cohort-count")
    assert "共 3 位" in page.locator("#cohort-count").inner_text()
    assert page.locator("#cohort-sample .woman").count() == 3
    assert "李*" in page.locator("#cohort-sample").inner_text() and "李芳" not in page.content()

    page.locator("#target-tag").fill("双胎随访")
    page.locator("#batch-reason").fill("双胎妊娠专案随访")
    page.locator("#check-button").click()
    page.wait_for_selector("#confirm-summary")
    assert "添加标签：双胎随访，共 3 位孕妇" in page.locator("#confirm-summary").inner_text()
    page.locator("#confirm-button").click()

    page.wait_for_selector('#batch[data-state="done"]', timeout=30_000)
    assert page.locator("#batch-done").inner_text() == "3"
    assert page.locator("#batch-state").inner_text() == "已完成"
    assert errors == []
    with live_server.app.extensions["carepath.db"].reading() as session:
        tagged = [
            p.id
            for p in session.scalars(select(Pregnancy).where(Pregnancy.hospital_id == HOSPITAL))
            if "双胎随访" in p.state["facts"].get("tags", [])
        ]
    assert len(tagged) == 3
