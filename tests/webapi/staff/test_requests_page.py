"""/staff/requests (issue 21 item 5): the records office lists women's requests, a deletion
for a woman whose pregnancy is ongoing is explained (not executed) and answered, a correction
of her phone is applied; she reads the decision on her data page. A nurse is refused."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import select

from carepath.store import her_requests
from carepath.store.models import Patient
from carepath.store.models_requests import HerRequest
from tests.conftest import NOW
from tests.webapi.conftest import Api, StaffBrowser, make_staff
from tests.webapi.h5.conftest import register

PAGE = "/staff/requests"


def ask(app: Flask, patient_id: int, kind: str, text: str = "") -> int:
    db, cipher = app.extensions["carepath.db"], app.extensions["carepath.cipher"]
    view, _ = her_requests.submit(
        db, cipher, hospital_id="a", patient_id=patient_id, kind=kind, text=text, now=NOW
    )
    return view.id


def status_of(app: Flask, request_id: int) -> str:
    with app.extensions["carepath.db"].reading() as session:
        row = session.get(HerRequest, request_id)
        assert row is not None
        return row.status


def test_a_deletion_while_pregnant_is_explained_and_answered(
    app: Flask, api: Api, browser: StaffBrowser
) -> None:
    make_staff(app, "records.he", "admin")
    her = register(api, "p-801", 801, name="周丽")
    asked = ask(app, her, "deletion", "请删除我的全部信息")
    browser.login("records.he")
    queue = browser.client.get(PAGE).get_data(as_text=True)
    assert "孕妇申请" in queue and "删除我的个人信息" in queue and "周*" in queue and "周丽" not in queue
    assert "孕期进行中" in queue
    path = f"{PAGE}/{asked}"
    page = browser.client.get(path).get_data(as_text=True)
    assert "为什么现在不能执行删除" in page and "您的孕期保健仍在进行中" in page
    tried = browser.post(
        f"{path}/decide", {"kind": "deletion", "outcome": "done", "decision": "已删除"}, token_from=path
    )
    assert tried.status_code == 422
    assert "没有删除任何信息" in tried.get_data(as_text=True) and status_of(app, asked) == "received"
    answered = browser.post(
        f"{path}/decide",
        {"kind": "deletion", "outcome": "refused", "decision": "孕期保健仍在进行，病历需要保存。"},
        token_from=path,
    )
    assert answered.status_code == 302 and status_of(app, asked) == "refused"
    decided = browser.client.get(PAGE).get_data(as_text=True)
    assert "没有待处理的申请" in decided and "未予办理" in decided


def test_a_phone_correction_is_applied_and_a_bad_one_is_said_in_chinese(
    app: Flask, api: Api, browser: StaffBrowser
) -> None:
    make_staff(app, "records.he", "admin")
    her = register(api, "p-802", 802, phone="13900000802")
    asked = ask(app, her, "correction", "我的手机号换成13900000899了")
    browser.login("records.he")
    path = f"{PAGE}/{asked}"
    bad = browser.post(
        f"{path}/decide",
        {"kind": "correction", "field": "phone", "value": "123", "outcome": "done", "decision": "已更正"},
        token_from=path,
    )
    assert bad.status_code == 422 and "手机号码为 11 位" in bad.get_data(as_text=True)
    good = browser.post(
        f"{path}/decide",
        {
            "kind": "correction",
            "field": "phone",
            "value": "13900000899",
            "outcome": "done",
            "decision": "已更正",
        },
        token_from=path,
    )
    assert good.status_code == 302 and status_of(app, asked) == "done"
    cipher = app.extensions["carepath.cipher"]
    with app.extensions["carepath.db"].reading() as session:
        phone = session.scalar(select(Patient.phone_sealed).where(Patient.id == her))
    assert cipher.open(phone) == "13900000899"


def test_a_nurse_is_refused_and_another_hospitals_request_is_not_found(
    app: Flask, api: Api, browser: StaffBrowser
) -> None:
    make_staff(app, "nurse.li", "nurse")
    make_staff(app, "records.b", "admin", hospital="b")
    her = register(api, "p-803", 803)
    asked = ask(app, her, "deletion")
    browser.login("nurse.li")
    assert browser.client.get(PAGE).status_code == 403
    browser.logout()
    browser.login("records.b")
    assert browser.client.get(f"{PAGE}/{asked}").status_code == 404
