"""/staff/audit (issue 21 item 6): an auditor reads a registration in Chinese with the woman
masked, filters by who and by her patient number, pages, and exports CSV (masked, audited);
an unknown action written by a later writer shows readably; a nurse reads her own entries only
(我的操作记录), whatever she asks for."""

from __future__ import annotations

from datetime import timedelta

from flask import Flask
from sqlalchemy import func, insert, select

from carepath.store.models import AuditEntry
from tests.conftest import NOW
from tests.webapi.conftest import Api, StaffBrowser, make_staff
from tests.webapi.h5.conftest import register

PAGE = "/staff/audit"


def test_the_auditor_reads_a_registration_in_chinese(app: Flask, api: Api, browser: StaffBrowser) -> None:
    make_staff(app, "audit.wu", "admin")
    register(api, "p-901", 901, name="孙晓燕")
    browser.login("audit.wu")
    page = browser.client.get(PAGE).get_data(as_text=True)
    assert "审计日志" in page and "记录事件：建档登记" in page and "孙**（病案号 p-901）" in page
    assert "晓燕" not in page and "员工登录" in page
    filtered = browser.client.get(PAGE, query_string={"target": "p-901", "action": "change"}).get_data(
        as_text=True
    )
    assert "建档登记" in filtered and "员工登录" not in filtered
    unknown = browser.client.get(PAGE, query_string={"target": "nobody"})
    assert unknown.status_code == 422 and "没有这个病案号的孕妇" in unknown.get_data(as_text=True)
    backwards = browser.client.get(PAGE, query_string={"since": "2026-07-09", "until": "2026-07-01"})
    assert backwards.status_code == 422 and "开始日期晚于结束日期" in backwards.get_data(as_text=True)


def test_unknown_actions_render_and_pages_follow_the_cursor(app: Flask, browser: StaffBrowser) -> None:
    make_staff(app, "audit.wu", "admin")
    db = app.extensions["carepath.db"]
    with db.transaction() as session:
        session.execute(
            insert(AuditEntry),
            [
                {"hospital_id": "a", "actor": "desk:1", "action": "desk-scan", "detail": f"card read {i}",
                 "at": NOW - timedelta(minutes=i), "count": 1}
                for i in range(60)
            ],
        )  # fmt: skip
    browser.login("audit.wu")
    first = browser.client.get(PAGE, query_string={"action": "desk-scan"}).get_data(as_text=True)
    assert "其他操作（desk-scan）" in first and "系统（desk:1）" in first and 'id="next-page"' in first
    assert first.count('class="entry"') == 50
    cursor = first.split('id="next-page" href="')[1].split('"')[0].replace("&amp;", "&")
    second = browser.client.get(cursor).get_data(as_text=True)
    assert second.count('class="entry"') == 10 and "card read 59" in second and "card read 0<" not in second


def test_the_export_is_masked_csv_and_audited(app: Flask, api: Api, browser: StaffBrowser) -> None:
    make_staff(app, "audit.wu", "admin")
    register(api, "p-902", 902, name="钱美玲", phone="13900000902")
    browser.login("audit.wu")
    response = browser.client.get(f"{PAGE}/export.csv", query_string={"target": "p-902"})
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert body.startswith("\ufeff时间,操作人,操作,对象,内容")
    assert "钱**" in body and "美玲" not in body and "13900000902" not in body
    with app.extensions["carepath.db"].reading() as session:
        audited = session.scalar(
            select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "export")
        )
    assert audited == 1


def test_a_nurse_reads_only_her_own_actions(app: Flask, api: Api, browser: StaffBrowser) -> None:
    make_staff(app, "nurse.li", "nurse")
    register(api, "p-901", 901, name="孙晓燕")  # written by the HIS, not by her
    browser.login("nurse.li")
    home = browser.client.get("/").get_data(as_text=True)
    assert "我的操作记录" in home and "审计日志" not in home
    for asked in ({}, {"who": "system"}, {"target": "p-901"}):
        page = browser.client.get(PAGE, query_string=asked)
        text = page.get_data(as_text=True)
        assert page.status_code in (200, 422) and "我的操作记录" in text
        assert "记录事件：建档登记" not in text  # the HIS's entry is not hers to read
    own = browser.client.get(PAGE).get_data(as_text=True)
    assert "员工登录" in own  # her own sign-in is
    export = browser.client.get(f"{PAGE}/export.csv").get_data(as_text=True)
    assert "员工登录" in export and "建档登记" not in export
