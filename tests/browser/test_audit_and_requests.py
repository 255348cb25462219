"""The audit log viewer and the requests queue in Chromium (issue 21 items 5 and 6).

- A woman registered through the HIS event is read in the audit log, in Chinese, masked.
- A woman whose pregnancy is ongoing asks on her data page to delete her data; the records
  office opens the queue from the staff home, is told why it cannot be done (nothing is
  deleted), answers her, and she reads the answer on her page.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from carepath.store import events, tenants
from carepath.store.models import ApiKey, Consent, Patient
from carepath.store.scope import Actor
from tests.browser.conftest import TIMEOUT_MS, LiveServer
from tests.conftest import resident_id
from tests.webapi.h5.conftest import her_cookie


def _registered(live_server: LiveServer, his_id: str, n: int, name: str) -> int:
    """A pregnant woman of hospital ``a`` registered through the HIS event; her patient id."""
    from sqlalchemy import select

    app = live_server.app
    db, cipher = app.extensions["carepath.db"], app.extensions["carepath.cipher"]
    now = live_server.clock()
    with db.transaction() as session:
        key = tenants.create_api_key(session, cipher, "a", f"his-{his_id}", now)
    with db.reading() as session:
        integrator = session.get(ApiKey, key.key_id).integrator_id  # type: ignore[union-attr]
    events.post_event(
        db,
        cipher,
        Actor("a", "integrator", str(integrator)),
        {
            "id": f"reg-{his_id}",
            "type": "patient.registered",
            "occurred_at": (now - timedelta(hours=1)).isoformat(),
            "patient": {
                "his_id": his_id,
                "id_number": resident_id(n),
                "name": name,
                "phone": f"139000{n:05d}",
            },
            "data": {"lmp": (now - timedelta(days=150)).date().isoformat(), "birth_date": "1990-04-12"},
        },
        now,
    )
    with db.reading() as session:
        found = session.scalar(select(Patient.id).where(Patient.his_patient_id == his_id))
    assert found is not None
    return int(found)


@pytest.fixture
def her_context(chromium: Any, live_server: LiveServer) -> Iterator[Any]:
    """A factory of phone-sized contexts signed in as a woman (her session and cookie)."""
    from carepath.store import patient_sessions

    contexts: list[Any] = []

    def make(patient: int) -> Any:
        app = live_server.app
        token = patient_sessions.start(
            app.extensions["carepath.db"], patient, "a", "demo", live_server.clock()
        )
        context = chromium.new_context(
            base_url=live_server.url, locale="zh-CN", viewport={"width": 390, "height": 844}
        )
        context.set_default_timeout(TIMEOUT_MS)
        name = app.config["H5_SESSION_COOKIE_NAME"]
        cookie = her_cookie(app, {"her": token})
        # path /h5, as the app sets it: the app's next cookie (with her CSRF secret) replaces it
        context.add_cookies([{"name": name, "value": cookie, "domain": "127.0.0.1", "path": "/h5"}])
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


def test_the_audit_viewer_shows_a_registration_in_chinese(login_as: Any, live_server: LiveServer) -> None:
    _registered(live_server, "audit-browser-1", 611, "郑小雨")
    page = login_as("admin")
    page.get_by_role("link", name="审计日志").click()
    page.wait_for_url("**/staff/audit")
    page.get_by_label("病案号或孕期档案编号").fill("audit-browser-1")
    page.get_by_role("button", name="筛选").click()
    page.wait_for_url("**/staff/audit?*")
    row = page.locator("tr.entry", has_text="记录事件：建档登记")
    assert row.count() == 1
    text = row.inner_text()
    assert "对接系统：his-audit-browser-1" in text and "修改" in text
    assert "郑**（病案号 audit-browser-1）" in text and "小雨" not in page.content()


def test_a_deletion_request_while_pregnant_is_explained_not_executed(
    login_as: Any, her_context: Any, live_server: LiveServer
) -> None:
    from sqlalchemy import func, select

    patient = _registered(live_server, "audit-browser-2", 612, "冯晓岚")
    her = her_context(patient)
    her.goto("/h5/my-data")
    her.get_by_label("删除我的个人信息").check()
    her.get_by_role("button", name="提交申请").click()
    her.wait_for_url("**/h5/my-data/requests/*")

    db = live_server.app.extensions["carepath.db"]
    with db.reading() as session:
        consents = session.scalar(
            select(func.count())
            .select_from(Consent)
            .where(Consent.patient_id == patient, Consent.withdrawn_at.is_(None))
        )
    page = login_as("admin")
    page.get_by_role("link", name="孕妇申请").click()
    page.wait_for_url("**/staff/requests")
    row = page.locator("tr.request", has_text="冯**")
    assert "孕期进行中" in row.inner_text()
    row.get_by_role("link", name="处理").click()
    assert page.locator("#open-pregnancy").is_visible()
    page.get_by_label("已办理：解除她的消息绑定并撤回接收消息的同意，病历继续保存").check()
    page.get_by_role("button", name="保存处理结果").click()
    assert "没有删除任何信息" in page.locator("#request-error").inner_text()
    assert page.locator("#request-status").inner_text() == "已收到"
    with db.reading() as session:  # nothing was executed: her consents stand
        assert consents == session.scalar(
            select(func.count())
            .select_from(Consent)
            .where(Consent.patient_id == patient, Consent.withdrawn_at.is_(None))
        )
    page.get_by_label("未予办理：向她说明原因").check()
    assert "您的孕期保健仍在进行中" in page.get_by_label("给她的答复").input_value()
    page.get_by_role("button", name="保存处理结果").click()
    page.wait_for_url("**/staff/requests")
    assert page.locator("#decided-requests tr.decided", has_text="冯**").inner_text().count("未予办理") == 1

    her.goto("/h5/my-data")
    her.get_by_role("link", name="删除我的个人信息").click()
    assert "未予办理" in her.content() and "您的孕期保健仍在进行中" in her.content()
