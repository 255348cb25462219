"""查找孕妇 on 患者 (issue 21 item 2), through the page as a browser uses it: the form POSTed
with its CSRF token, results masked and linked to her record, each listed woman audited, every
bad field said in Chinese beside it (422), never a 500; no filter shows my teams' women."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from carepath.store import search
from carepath.store.models import AuditEntry
from carepath.webapi.staff import patient_search
from tests.conftest import resident_id
from tests.webapi.conftest import Api, registration
from tests.webapi.staff.record_seed import in_care, logged_in, team


def _register(api: Api, his_id: str, name: str, phone: str, n: int) -> str:
    event = registration(his_id, f"reg-{his_id}", name=name, id_number=resident_id(n), phone=phone)
    answer = api.post("/api/v1/events", event)
    assert answer.status_code == 201, answer.get_json()
    return str(answer.get_json()["pregnancy"])


@pytest.fixture
def women(api: Api) -> dict[str, str]:
    return {
        "hong": _register(api, "p-1", "王小红", "13812345678", 1),
        "hong2": _register(api, "p-2", "王小红", "13900001111", 2),
        "hua": _register(api, "p-3", "李华", "13700002222", 3),
    }


@pytest.fixture
def nurse(app: Flask) -> Any:
    return logged_in(app, "nurse.li", "nurse")


def _find(browser: Any, **fields: str) -> Any:
    return browser.post("/staff/patients", fields, token_from="/staff/patients")


def _listed(page: str) -> list[str]:
    return re.findall(r'<tr class="woman found" data-pregnancy="([^"]+)"', page)


def test_the_page_offers_the_search_in_chinese_above_my_women(
    app: Flask, women: dict[str, str], nurse: Any
) -> None:
    browser, nurse_id = nurse
    in_care(app, women["hua"], team(app, members=((nurse_id, "nurse"),)))
    page = browser.client.get("/staff/patients").get_data(as_text=True)
    for words in (
        "患者",
        "查找孕妇",
        "姓名",
        "手机尾号",
        "证件号码",
        "更多条件",
        "起始孕周",
        "诊断",
        "管理方案",
        "我的孕妇",
    ):
        assert words in page, words
    assert 'method="post"' in page and f"/staff/patients/{women['hua']}" in page
    assert f"/staff/patients/{women['hong']}" not in page  # not of my team: found only by a search


def test_a_woman_is_found_by_her_exact_name_masked_linked_and_audited(
    app: Flask, women: dict[str, str], nurse: Any
) -> None:
    browser, _ = nurse
    answer = _find(browser, name=" 王 小红 ")
    page = answer.get_data(as_text=True)
    assert answer.status_code == 200
    assert sorted(_listed(page)) == sorted([women["hong"], women["hong2"]])
    assert "王小红" not in page.replace('value="王 小红"', "") and "王**" in page
    assert "138****5678" in page and "13812345678" not in page
    assert f'href="/staff/patients/{women["hong"]}"' in page
    with app.extensions["carepath.db"].reading() as session:
        listed = {
            e.pregnancy_id for e in session.scalars(select(AuditEntry).where(AuditEntry.action == "list"))
        }
    assert {women["hong"], women["hong2"]} <= listed
    one = _find(browser, name="王小红", phone_last4="1111").get_data(as_text=True)
    assert _listed(one) == [women["hong2"]]
    none = _find(browser, name="王小").get_data(as_text=True)
    assert _listed(none) == [] and "没有符合这些筛选条件的孕妇" in none


def test_no_filter_shows_my_women_and_a_name_never_goes_into_a_url(
    app: Flask, women: dict[str, str], nurse: Any
) -> None:
    browser, nurse_id = nurse
    in_care(app, women["hua"], team(app, members=((nurse_id, "nurse"),)))
    page = _find(browser).get_data(as_text=True)
    assert "我的孕妇" in page and f"/staff/patients/{women['hua']}" in page and not _listed(page)
    ignored = browser.client.get("/staff/patients?name=王小红").get_data(as_text=True)
    assert not _listed(ignored)  # GET lists my women; the search is a POST


@pytest.mark.parametrize(
    "case",
    [
        ({"week_from": "30", "week_to": "20"}, "week_to", "孕周范围的起点晚于终点"),
        ({"week_from": "abc"}, "week_from", "0 到 45 之间的整数"),
        (
            {"id_number": resident_id(1)[:-1] + ("0" if resident_id(1)[-1] != "0" else "1")},
            "id_number",
            "校验位不符",
        ),
        ({"id_number": "12"}, "id_number", "5 到 20 位"),
        ({"phone_last4": "5678"}, "phone_last4", "需与姓名一起查找"),
        ({"name": "王小红", "phone_last4": "56"}, "phone_last4", "后四位"),
        ({"diagnosis": "糖尿病"}, "diagnosis", "ICD-10 编码"),
        ({"source": "nosuch"}, "source", "本院没有这个来源"),
        ({"pathway": "no-such-plan"}, "pathway", "没有"),
        ({"risk_colour": "blue"}, "risk_colour", "请从列表中选择"),
        ({"name": "王" * 41}, "name", "40"),
    ],
    ids=[str(n) for n in range(11)],
)
def test_bad_input_is_said_in_chinese_beside_its_field(
    app: Flask, women: dict[str, str], nurse: Any, case: tuple[dict[str, str], str, str]
) -> None:
    fields, field, words = case
    browser, _ = nurse
    answer = _find(browser, **fields)
    page = answer.get_data(as_text=True)
    assert answer.status_code == 422
    error = re.search(rf'<span class="field-error" id="error-{field}">([^<]*)</span>', page)
    assert error and words in error.group(1), page[page.find("field-error") - 200 :][:600]
    assert not _listed(page)


def test_a_name_too_common_for_its_phone_is_said_too_broad(
    app: Flask, women: dict[str, str], nurse: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    browser, _ = nurse
    monkeypatch.setattr(search, "PHONE_SCAN_LIMIT", 1)
    answer = _find(browser, name="王小红", phone_last4="1111")
    assert answer.status_code == 422 and "同名孕妇太多" in answer.get_data(as_text=True)


def test_results_page_on_with_the_same_filters(
    app: Flask, women: dict[str, str], nurse: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    browser, _ = nurse
    monkeypatch.setattr(patient_search, "PAGE", 2)
    first = _find(browser, week_from="26", week_to="26").get_data(as_text=True)
    assert len(_listed(first)) == 2 and 'id="next-found"' in first
    after = re.search(r'name="after" value="([^"]+)"', first)
    assert after
    second = _find(browser, week_from="26", week_to="26", after=after.group(1)).get_data(as_text=True)
    assert len(_listed(second)) == 1 and set(_listed(first)).isdisjoint(_listed(second))


def test_the_diagnosis_is_shown_with_its_title(
    app: Flask, api: Api, women: dict[str, str], nurse: Any
) -> None:
    from tests.webapi.conftest import diagnosis

    assert api.post("/api/v1/events", diagnosis("p-3", "dx-3", "O24.401")).status_code == 201
    browser, _ = nurse
    page = _find(browser, diagnosis="o24").get_data(as_text=True)
    assert _listed(page) == [women["hua"]]
    assert 'id="diagnosis-title"' in page and '<option value="O24">' in page
