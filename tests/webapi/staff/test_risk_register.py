"""高危专案 (issue 21 item 1) through the pages as a browser uses them: the list masked and paged,
its filters said in Chinese (a bad one refused in Chinese, never a 500), the queue and a doctor's
confirmation from it through her record's own colour path, back to the queue; the export."""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
from flask import Flask
from openpyxl import load_workbook
from sqlalchemy import select

from carepath.store import risk_register
from carepath.store.models import AuditEntry, Pregnancy
from tests.webapi.conftest import Api
from tests.webapi.staff.record_seed import logged_in, register


def _audits(app: Flask, action: str) -> list[AuditEntry]:
    with app.extensions["carepath.db"].reading() as session:
        return list(session.scalars(select(AuditEntry).where(AuditEntry.action == action)))


@pytest.fixture
def oranges(api: Api) -> list[str]:
    """Three women whose placenta praevia made a rule suggest orange; one with no diagnosis."""
    return [register(api, f"p-{n:03d}", n=n) for n in range(1, 4)] + [register(api, "p-004", code=None, n=4)]


def test_the_register_lists_her_masked_by_colour_with_the_2017_filters_explained(
    app: Flask, oranges: list[str]
) -> None:
    browser, _ = logged_in(app, "nurse.li", "nurse")
    response = browser.client.get("/staff/register")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "高危专案" in page and "王**" in page and "王小红" not in page
    assert "13812340001" not in page and "138****0001" in page
    assert all(f"/staff/patients/{p}" in page for p in oranges)
    assert page.index(oranges[0]) < page.index(oranges[3])  # orange before the one without
    assert "O44.1 妊娠期糖尿病" in page  # her diagnosis with the title the HIS sent (record_seed's)
    assert "专案管理" in page and "规范" in page  # what the filters mean, in words
    assert 'id="preset-unconfirmed"' in page and 'id="preset-quiet"' in page and 'id="preset-overdue"' in page
    assert "待医生确认" in page or "待确认" in page
    assert len(_audits(app, "list")) == 4


def test_the_home_page_links_the_register_for_whoever_may_read_patients(app: Flask) -> None:
    nurse, _ = logged_in(app, "nurse.li", "nurse")
    assert "/staff/register" in nurse.client.get("/").get_data(as_text=True)
    author, _ = logged_in(app, "author.he", "content_author")
    assert "/staff/register" not in author.client.get("/").get_data(as_text=True)
    assert author.client.get("/staff/register").status_code == 403
    assert author.client.get("/staff/register/export.xlsx").status_code == 403


def test_the_list_pages_by_keyset(app: Flask, oranges: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    browser, _ = logged_in(app, "nurse.li", "nurse")
    monkeypatch.setattr(risk_register, "PAGE_SIZE", 2)
    first = browser.client.get("/staff/register?colour=orange").get_data(as_text=True)
    found = re.search(r'id="next-page" href="([^"]+)"', first)
    assert found and "colour=orange" in found.group(1)
    second = browser.client.get(found.group(1).replace("&amp;", "&")).get_data(as_text=True)
    shown = [p for p in oranges[:3] if f'data-pregnancy="{p}"' in first]
    rest = [p for p in oranges[:3] if f'data-pregnancy="{p}"' in second]
    assert len(shown) == 2 and len(rest) == 1 and set(shown + rest) == set(oranges[:3])
    assert 'id="next-page"' not in second
    assert "OFFSET" not in first


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("colour=blue", "colour"),
        ("confirmation=maybe", "confirmation"),
        ("status=x", "status"),
        ("quiet=1&days=0", "days"),
        ("quiet=1&days=abc", "days"),
        ("quiet=1&days=99999", "days"),
    ],
    ids=["colour", "confirmation", "status", "days-zero", "days-text", "days-too-many"],
)
def test_a_filter_it_does_not_know_is_said_in_chinese(
    app: Flask, oranges: list[str], query: str, field: str
) -> None:
    browser, _ = logged_in(app, "nurse.li", "nurse")
    response = browser.client.get(f"/staff/register?{query}")
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    message = re.search(rf'data-field="{field}">([^<]+)<', page)
    assert message and re.search(r"[\u4e00-\u9fff]", message.group(1)), page
    assert f"/staff/patients/{oranges[0]}" in page  # the list still shows, without that filter
    assert browser.client.get(f"/staff/register/export.xlsx?{query}").status_code == 422


def test_the_queue_names_the_rule_and_a_nurse_cannot_confirm(app: Flask, oranges: list[str]) -> None:
    browser, _ = logged_in(app, "nurse.li", "nurse")
    page = browser.client.get("/staff/register/queue").get_data(as_text=True)
    assert all(f'data-pregnancy="{p}"' in page for p in oranges[:3])
    # her age suggested yellow (no diagnosis): after the oranges, the highest first
    assert page.index(f'data-pregnancy="{oranges[2]}"') < page.index(f'data-pregnancy="{oranges[3]}"')
    assert "妊娠风险五色分级" in page and "建议" in page and "前置胎盘" in page  # the rule, in words
    assert 'class="confirm"' not in page and 'id="no-confirm"' in page


def _confirm_form(page: str, pregnancy_id: str) -> dict[str, str]:
    item = page[page.index(f'data-pregnancy="{pregnancy_id}"') :]
    item = item[: item.index("</form>")]
    fields = dict(re.findall(r'<input type="hidden" name="([a-z_]+)" value="([^"]*)"', item))
    return {k: v.replace("&amp;", "&") for k, v in fields.items()}


def test_a_doctor_confirms_from_the_queue_and_comes_back_to_it(app: Flask, oranges: list[str]) -> None:
    browser, _ = logged_in(app, "doctor.wang", "doctor")
    page = browser.client.get("/staff/register/queue?status=pregnant").get_data(as_text=True)
    form = _confirm_form(page, oranges[0])
    assert form["next"] == "/staff/register/queue?status=pregnant"
    sent = {**form, "colour": "red", "note": "复查B超：完全性前置胎盘"}
    answer = browser.client.post(f"/staff/patients/{oranges[0]}/colour", data=sent)
    assert answer.status_code == 302 and answer.headers["Location"].endswith(
        "/staff/register/queue?status=pregnant"
    )
    back = browser.client.get(answer.headers["Location"]).get_data(as_text=True)
    assert "已确认风险分级" in back  # the record's own message
    assert f'data-pregnancy="{oranges[0]}"' not in back and f'data-pregnancy="{oranges[1]}"' in back
    with app.extensions["carepath.db"].reading() as session:
        facts = session.get(Pregnancy, oranges[0]).state["facts"]  # type: ignore[union-attr]
    assert (facts["risk_colour"], facts["risk_colour_status"]) == ("red", "confirmed")
    # the same form sent again is one confirmation (the record's one-time request token)
    again = browser.client.post(f"/staff/patients/{oranges[0]}/colour", data=sent)
    assert again.status_code == 302 and again.headers["Location"].endswith(
        "/staff/register/queue?status=pregnant"
    )


def test_a_confirmation_never_returns_to_another_site(app: Flask, oranges: list[str]) -> None:
    browser, _ = logged_in(app, "doctor.wang", "doctor")
    targets = ("https://evil.example/staff/register", "//evil.example/staff/register", "/staff/patients")
    for pregnancy_id, target in zip(oranges[:3], targets, strict=True):
        form = _confirm_form(browser.client.get("/staff/register/queue").get_data(as_text=True), pregnancy_id)
        answer = browser.client.post(
            f"/staff/patients/{pregnancy_id}/colour", data={**form, "colour": "orange", "next": target}
        )
        assert answer.headers["Location"].endswith(f"/staff/patients/{pregnancy_id}"), target


def test_a_bad_colour_from_the_queue_is_said_on_her_record(app: Flask, oranges: list[str]) -> None:
    browser, _ = logged_in(app, "doctor.wang", "doctor")
    form = _confirm_form(browser.client.get("/staff/register/queue").get_data(as_text=True), oranges[2])
    answer = browser.client.post(f"/staff/patients/{oranges[2]}/colour", data={**form, "colour": "blue"})
    assert answer.status_code == 422 and "请选择颜色" in answer.get_data(as_text=True)


def test_the_export_is_the_filtered_list_masked_and_audited(app: Flask, oranges: list[str]) -> None:
    browser, _ = logged_in(app, "nurse.li", "nurse")
    response = browser.client.get("/staff/register/export.xlsx?colour=orange")
    assert response.status_code == 200
    assert response.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    sheet = load_workbook(io.BytesIO(response.data)).active
    assert sheet is not None
    rows: list[Any] = list(sheet.iter_rows(values_only=True))
    assert rows[0][0] == "姓名" and "风险颜色" in rows[0]
    assert len(rows) == 4 and all(row[0] == "王**" for row in rows[1:])
    flat = " ".join(str(v) for row in rows for v in row)
    assert "王小红" not in flat and "13812340001" not in flat and "O44.1" in flat
    exported = _audits(app, "export")
    assert sorted(a.pregnancy_id for a in exported) == sorted(oranges[:3])
    assert all("colour=orange" in a.detail for a in exported)
