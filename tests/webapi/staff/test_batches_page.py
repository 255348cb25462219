"""批量操作 (issue 21 item 4) through the pages: filter, preview, confirm, progress; the bad
inputs in Chinese; a push confirmed twice sends once; the second confirmation above 500."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from carepath.store import cohort_batches
from carepath.store.models import AuditEntry, OutboxRow, Pregnancy
from tests.conftest import approve_item
from tests.webapi.conftest import Api
from tests.webapi.staff.record_seed import logged_in, register


def _db(app: Flask) -> Any:
    return app.extensions["carepath.db"]


@pytest.fixture
def doctor(app: Flask) -> Any:
    app.config["BATCH_RUNNER"] = "inline"  # the batch runs in the request (the thread: browser test)
    browser, _ = logged_in(app, "doctor.wang", "doctor")
    return browser


@pytest.fixture
def women(api: Api) -> list[str]:
    return [register(api, f"p-{n:03d}", code="O44.1" if n <= 2 else None, n=n) for n in range(1, 4)]


def _token(page: str) -> str:
    found = re.search(r'name="request" value="([^"]+)"', page)
    assert found
    return found.group(1)


def _confirm(doctor: Any, form: dict[str, str]) -> tuple[Any, str]:
    checked = doctor.post("/staff/batches/check", form, token_from="/staff/batches")
    page = checked.get_data(as_text=True)
    assert checked.status_code == 200, page
    return checked, page


def test_the_page_needs_batch_run(app: Flask) -> None:
    nurse, _ = logged_in(app, "nurse.li", "nurse")
    refused = nurse.client.get("/staff/batches")
    assert refused.status_code == 403


def test_an_empty_filter_is_refused_saying_why(app: Flask, women: list[str], doctor: Any) -> None:
    answer = doctor.client.get("/staff/batches/preview?name=&tag=")
    assert answer.status_code == 422 and "请至少选择一个筛选条件" in answer.get_data(as_text=True)
    bad = doctor.client.get("/staff/batches/preview?week_from=abc")
    assert bad.status_code == 422 and "孕周须为 0 到 45 之间的整数" in bad.get_data(as_text=True)


def test_a_doctor_tags_a_filtered_cohort(app: Flask, women: list[str], doctor: Any) -> None:
    preview = doctor.client.get("/staff/batches/preview?risk_colour=orange")
    page = preview.get_data(as_text=True)
    assert preview.status_code == 200 and "符合筛选条件的孕妇共 2 位" in page
    assert page.count("王**") == 2 and "王小红" not in page
    form = {"risk_colour": "orange", "action": "tag", "target_tag": "孕期随访", "reason": "高危随访"}
    _, confirm = _confirm(doctor, form)
    assert "添加标签：孕期随访，共 2 位孕妇" in confirm and 'id="confirm-large"' not in confirm
    data = {
        "risk_colour": "orange",
        "action": "tag",
        "target": "孕期随访",
        "reason": "高危随访",
        "request": _token(confirm),
    }
    started = doctor.post("/staff/batches", data, token_from="/staff/batches")
    assert started.status_code == 302
    batch_page = doctor.client.get(started.headers["Location"]).get_data(as_text=True)
    assert 'data-state="done"' in batch_page and '<span id="batch-done">2</span>' in batch_page
    progress = doctor.client.get(started.headers["Location"] + "/progress").get_json()
    assert progress["state"] == "done" and progress["done"] == 2
    assert doctor.post("/staff/batches", data, token_from="/staff/batches").status_code == 302  # double click
    with _db(app).reading() as session:
        tagged = [
            p.id for p in session.scalars(select(Pregnancy)) if "孕期随访" in p.state["facts"].get("tags", [])
        ]
        started_audits = session.scalar(
            select(func.count())
            .select_from(AuditEntry)
            .where(AuditEntry.detail.like("batch %: tag 孕期随访 for 2 women%"))
        )
    assert sorted(tagged) == sorted(women[:2]) and started_audits == 1
    assert "孕期随访" in doctor.client.get("/staff/batches").get_data(as_text=True)


def test_bad_plan_item_and_tag_are_said_in_chinese(app: Flask, women: list[str], doctor: Any) -> None:
    base = {"status": "pregnant", "reason": "测试"}
    for form, words in (
        ({"action": "enrol", "target_enrol": "no-such-plan"}, "本院路径库中没有这个管理方案"),
        ({"action": "push", "target_push": "gdm-welcome"}, "尚未通过审核"),
        ({"action": "tag", "target_tag": ""}, "请选择或输入标签"),
        ({"action": "tag", "target_tag": "x", "reason": ""}, "请填写原因"),
    ):
        answer = doctor.post("/staff/batches/check", {**base, **form}, token_from="/staff/batches")
        assert answer.status_code == 422, form
        assert words in answer.get_data(as_text=True)


def test_a_push_confirmed_twice_sends_once_and_says_where_it_goes(
    app: Flask, women: list[str], doctor: Any
) -> None:
    approve_item(_db(app), "a", "content", "gdm-welcome")
    form = {"status": "pregnant", "action": "push", "target_push": "gdm-welcome", "reason": "孕期宣教"}
    _, confirm = _confirm(doctor, form)
    assert "其中 0 位已收到该内容的这一版本" in confirm and "每周摘要" in confirm
    data = {**form, "target": "gdm-welcome", "request": _token(confirm)}
    for _ in range(2):
        assert doctor.post("/staff/batches", data, token_from="/staff/batches").status_code == 302
    # a new batch of the same item: the confirm screen says all three have it
    _, again = _confirm(doctor, form)
    assert "其中 3 位已收到该内容的这一版本" in again
    doctor.post("/staff/batches", {**data, "request": _token(again)}, token_from="/staff/batches")
    with _db(app).reading() as session:
        pushes = session.scalar(select(func.count()).select_from(OutboxRow).where(OutboxRow.kind == "push"))
    assert pushes == 3


def test_above_500_women_a_second_confirmation_is_asked(
    app: Flask, women: list[str], doctor: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cohort_batches, "LARGE", 2)
    form = {"status": "pregnant", "action": "tag", "target_tag": "孕期随访", "reason": "测试"}
    _, confirm = _confirm(doctor, form)
    assert 'id="confirm-large"' in confirm
    data = {**form, "target": "孕期随访", "request": _token(confirm)}
    refused = doctor.post("/staff/batches", data, token_from="/staff/batches")
    assert refused.status_code == 422 and "请勾选二次确认" in refused.get_data(as_text=True)
    started = doctor.post("/staff/batches", {**data, "confirm_large": "yes"}, token_from="/staff/batches")
    assert started.status_code == 302
