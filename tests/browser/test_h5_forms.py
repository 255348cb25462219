"""Her forms in Debian's Chromium at a phone's size (issue 19 item 3): the BP log with a severe
reading and a headache shows the urgent advice and the hospital's emergency number at once, and
the doctor's urgent task is open in the store; an exam shows her score.

A server of its own with the shipped hypertension pathway published (the other browser tests
keep the examples' library)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from tests.browser.axe import PAGE_BUDGET, describe, first_load_bytes, serious_violations
from tests.browser.conftest import TIMEOUT_MS, LiveServer, serving
from tests.conftest import ROOT, resident_id, set_hospital_settings
from tests.webapi.h5.conftest import her_cookie
from tests.webapi.h5.test_her_forms import send_form

PHONE = {"width": 390, "height": 844}
EMERGENCY = "0571-87654321"


@pytest.fixture(scope="module")
def forms_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    from carepath.store import pathways

    with serving(tmp_path_factory.mktemp("forms")) as server:
        database = server.app.extensions["carepath.db"]
        path = ROOT / "carepath" / "pathways" / "hypertension.yaml"
        with database.transaction() as session:
            pathways.publish(session, {str(path): path.read_text(encoding="utf-8")}, server.clock())
        set_hospital_settings(database, "a", emergency_phone=EMERGENCY)
        yield server


def a_woman_with_hypertension(server: LiveServer, n: int) -> int:
    """A woman registered by the HIS with gestational hypertension (O13): in the pathway."""
    from carepath.store import events, registration
    from carepath.store.event_input import parse_event
    from carepath.store.models import Patient

    app, now = server.app, server.clock()
    lmp = (now - timedelta(days=200)).date().isoformat()
    raw = {
        "id": f"reg-forms-{n}",
        "type": "patient.registered",
        "occurred_at": now.isoformat(),
        "patient": {
            "his_id": f"forms-{n}",
            "id_number": resident_id(n),
            "phone": f"1391111{n:04d}",
            "name": "陈静",
        },
        "data": {"lmp": lmp, "gravida": 1, "para": 0, "diagnoses": [{"code": "O13", "name": "妊娠期高血压"}]},
    }
    db = app.extensions["carepath.db"]
    with db.transaction() as session:
        events.process(
            session,
            app.extensions["carepath.cipher"],
            registration.h5_actor(session, "a"),
            parse_event(raw, now),
            now,
        )
        patient = session.scalar(select(Patient.id).where(Patient.his_patient_id == f"forms-{n}"))
    assert patient is not None
    return int(patient)


def her_page(chromium: Any, server: LiveServer, patient: int) -> Any:
    """A phone's page signed in as her (her session row and cookie, as her sign-in ends)."""
    from carepath.store import patient_sessions

    app = server.app
    token = patient_sessions.start(app.extensions["carepath.db"], patient, "a", "demo", server.clock())
    context = chromium.new_context(base_url=server.url, locale="zh-CN", viewport=PHONE)
    context.set_default_timeout(TIMEOUT_MS)
    context.add_cookies(
        [{"name": app.config["H5_SESSION_COOKIE_NAME"], "value": her_cookie(app, {"her": token}),
          "domain": "127.0.0.1", "path": "/h5", "httpOnly": True, "sameSite": "Lax"}]
    )  # fmt: skip
    return context.new_page()


def small_targets(page: Any) -> list[str]:
    """Her tap targets (links, buttons, choices, fields) under 44 CSS px high."""
    return list(
        page.evaluate(
            """() => [...document.querySelectorAll('main a, main button, label.check, main input:not([type=hidden]), main textarea')]
                .filter(e => !e.closest('label.check') || e.matches('label.check'))
                .filter(e => e.getBoundingClientRect().height < 44)
                .map(e => e.outerHTML.slice(0, 80))"""
        )
    )


def test_a_severe_bp_with_a_headache_shows_urgent_advice_and_the_emergency_number_at_once(
    chromium: Any, forms_server: LiveServer
) -> None:
    from carepath.store.models import Pregnancy, StaffTask

    patient = a_woman_with_hypertension(forms_server, 451)
    bp = send_form(forms_server.app, patient, "bp-log", "browser-bp-451")
    page = her_page(chromium, forms_server, patient)
    page.goto("/h5/forms")
    page.get_by_role("link", name="家庭血压记录").click()
    page.wait_for_url(f"{forms_server.url}/h5/forms/{bp}")
    assert small_targets(page) == []
    violations = serious_violations(page)
    assert violations == [], describe(violations)
    page.get_by_label("测量日期").fill(forms_server.clock().date().isoformat())
    page.get_by_label("下午或晚上").check()
    page.get_by_label("收缩压（高压）").fill("166")
    page.get_by_label("舒张压（低压）").fill("104")
    page.get_by_label("都没有").check()
    page.get_by_label("头痛").check()  # clears 都没有 (the script), as the form says it must
    assert not page.get_by_label("都没有").is_checked()
    # The post and its redirect awaited as such (the address before and after is the same), so a
    # miss says which it was: no answer page, or an answer page without the advice.
    with (
        page.expect_navigation(),
        page.expect_response(lambda r: r.request.method == "POST" and f"/h5/forms/{bp}" in r.url) as posted,
    ):
        page.get_by_role("button", name="提交").click()
    assert posted.value.status == 303, posted.value.status  # saved, not refused with a field's error
    urgent = page.locator("#urgent")
    assert urgent.count() == 1, page.locator("main").inner_text()
    urgent.get_by_role("heading", name="请马上按下面的提示做").wait_for()
    assert urgent.is_visible() and urgent.bounding_box()["y"] < PHONE["height"]  # at once, on screen
    assert EMERGENCY in urgent.inner_text() and "紧急就医提醒" in urgent.inner_text()  # the advice is a draft
    assert (
        urgent.get_by_role("link", name=f"拨打急诊电话 {EMERGENCY}").get_attribute("href")
        == f"tel:{EMERGENCY}"
    )
    assert small_targets(page) == []
    violations = serious_violations(page)  # the answer page with its urgent advice
    assert violations == [], describe(violations)
    with forms_server.app.extensions["carepath.db"].reading() as session:
        mine = session.scalars(
            select(StaffTask)
            .join(Pregnancy, Pregnancy.id == StaffTask.pregnancy_id)
            .where(
                Pregnancy.patient_id == patient, StaffTask.status == "open", StaffTask.priority == "urgent"
            )
        ).all()
    assert any("头痛" in t.title for t in mine) and any("160/110" in t.title for t in mine)
    page.set_viewport_size({"width": 360, "height": 640})  # a small phone: nothing wider than it
    for path in (f"/h5/forms/{bp}", "/h5/forms"):
        page.goto(path)
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), path


def test_an_exam_shows_her_score(chromium: Any, forms_server: LiveServer) -> None:
    patient = a_woman_with_hypertension(forms_server, 452)
    exam = send_form(forms_server.app, patient, "course-exam", "browser-exam-452")
    page = her_page(chromium, forms_server, patient)
    assert first_load_bytes(page, f"/h5/forms/{exam}") <= PAGE_BUDGET  # the longest shipped form
    for fieldset in page.locator("fieldset").all():  # the first choice of each question
        fieldset.locator("input").first.check()
    page.get_by_role("button", name="提交").click()
    page.wait_for_url(f"{forms_server.url}/h5/forms/{exam}")
    score = page.locator("#exam-score")
    assert score.inner_text() == "得分 4 / 10"  # q4, q8, q9 and q10's right answers are their first choices
    page.get_by_text("建议再复习一下课程内容").wait_for()
    assert page.get_by_text("正确答案：24～28周").is_visible()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
