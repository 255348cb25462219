"""建档登记, /staff/desk (issue 21 item 3): a nurse registers a woman with her form, her consent
as recorded, the card reader's answer mapped; bad input refused in Chinese. On both databases."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from carepath.store.models import AuditEntry, Consent, Patient, Pregnancy
from tests.conftest import resident_id, set_hospital_settings
from tests.registration_fields import form_fields
from tests.webapi.conftest import StaffBrowser, make_staff

PAGE = "/staff/desk"


@pytest.fixture(autouse=True)
def shipped_library(app: Flask) -> None:
    from carepath.engine.catalogue import PATHWAYS_DIR
    from carepath.store import demo, pathways

    demo.publish_examples(app.extensions["carepath.db"], PATHWAYS_DIR, NOW_OF(app))
    pathways.clear_cache()


def NOW_OF(app: Flask) -> Any:  # noqa: N802 (the tests' clock, read like a constant)
    return app.config["CLOCK"]()


def nurse(app: Flask, browser: StaffBrowser) -> int:
    staff_id = make_staff(app, "nurse.li", "nurse")
    assert browser.login("nurse.li").status_code in (302, 303)
    return staff_id


def submit(browser: StaffBrowser, **override: Any) -> Any:
    """Open the desk's form (its CSRF and one-time token) and send it as the nurse filled it."""
    page = browser.client.get(PAGE).get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page)
    token = re.search(r'name="token" value="([^"]+)"', page)
    assert csrf and token
    fields = form_fields(1, **{"consent_method": "paper", **override})
    return browser.client.post(PAGE, data={"csrf_token": csrf.group(1), "token": token.group(1), **fields})


def count(app: Flask, model: Any) -> int:
    with app.extensions["carepath.db"].reading() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def test_the_desk_is_on_the_staff_home_in_chinese_without_a_reader_button(
    app: Flask, browser: StaffBrowser
) -> None:
    nurse(app, browser)
    home = browser.client.get("/").get_data(as_text=True)
    assert 'href="/staff/desk"' in home and "建档登记" in home
    response = browser.client.get(PAGE)
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and "<title>建档登记" in page
    assert 'id="id_number"' in page and "身高体重与孕产次" in page  # her form's own fields
    assert "她的知情同意" in page and 'name="consent_method"' in page
    assert 'id="read-card"' not in page  # no reader service configured
    assert "connect-src" not in response.headers["Content-Security-Policy"]


def test_a_configured_reader_shows_its_button_and_only_its_origin_may_be_asked(
    app: Flask, browser: StaffBrowser
) -> None:
    set_hospital_settings(
        app.extensions["carepath.db"], "a", id_reader_url="http://127.0.0.1:18080/api/readcard"
    )
    nurse(app, browser)
    response = browser.client.get(PAGE)
    page = response.get_data(as_text=True)
    assert 'id="read-card"' in page and 'data-reader-url="http://127.0.0.1:18080/api/readcard"' in page
    assert "connect-src 'self' http://127.0.0.1:18080;" in response.headers["Content-Security-Policy"]


def test_a_nurse_registers_a_woman_and_sees_the_binding_qr(app: Flask, browser: StaffBrowser) -> None:
    staff_id = nurse(app, browser)
    sent = submit(browser)
    assert sent.status_code == 302, sent.get_data(as_text=True)[:2000]
    match = re.fullmatch(r"/staff/desk/(.+)/registered", sent.headers["Location"])
    assert match
    result = browser.client.get(sent.headers["Location"]).get_data(as_text=True)
    assert "张丽 已建档" in result and 'id="bind-qr"' in result and "<svg" in result
    assert "/h5/sign-in" in result or "/h5/signin" in result or "hospital=a" in result
    with app.extensions["carepath.db"].reading() as session:
        consents = session.scalars(select(Consent)).all()
        assert consents and {(c.source, c.method) for c in consents} == {(f"staff:{staff_id}", "paper")}
        actions = set(
            session.scalars(select(AuditEntry.action).where(AuditEntry.pregnancy_id == match.group(1)))
        )
    assert {"register", "read"} <= actions


def test_the_same_form_sent_twice_is_refused_the_second_time(app: Flask, browser: StaffBrowser) -> None:
    nurse(app, browser)
    page = browser.client.get(PAGE).get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page)
    token = re.search(r'name="token" value="([^"]+)"', page)
    assert csrf and token
    data = {"csrf_token": csrf.group(1), "token": token.group(1), **form_fields(1, consent_method="tablet")}
    assert browser.client.post(PAGE, data=data).status_code == 302
    again = browser.client.post(PAGE, data=data)
    assert again.status_code == 400 and "这份表单已经提交过" in again.get_data(as_text=True)
    assert count(app, Patient) == 1


def test_an_id_number_failing_its_check_digit_is_refused_in_chinese(
    app: Flask, browser: StaffBrowser
) -> None:
    nurse(app, browser)
    number = resident_id(1)
    wrong = number[:-1] + ("0" if number[-1] != "0" else "1")
    refused = submit(browser, id_number=wrong)
    page = refused.get_data(as_text=True)
    assert refused.status_code == 422 and "校验位" in page and 'aria-invalid="true"' in page
    assert f'value="{wrong}"' in page  # the form kept as typed
    assert count(app, Patient) == 0 and count(app, Consent) == 0


def test_no_consent_recorded_no_registration(app: Flask, browser: StaffBrowser) -> None:
    nurse(app, browser)
    refused = submit(browser, consent_method=None, consent_health=None)
    page = refused.get_data(as_text=True)
    assert refused.status_code == 422
    assert "没有她本人的同意不能建档" in page and "没有她本人对处理健康信息的单独同意，不能建档" in page
    assert count(app, Patient) == 0


def test_a_woman_on_file_is_linked_not_registered_twice(app: Flask, browser: StaffBrowser) -> None:
    nurse(app, browser)
    first = submit(browser)
    pregnancy_id = first.headers["Location"].split("/")[3]
    again = submit(browser, name="张丽丽")
    page = again.get_data(as_text=True)
    assert again.status_code == 409 and "她已经建档" in page
    assert f'href="/staff/patients/{pregnancy_id}"' in page
    assert count(app, Patient) == 1 and count(app, Pregnancy) == 1


def test_staff_without_the_permission_are_refused(app: Flask, browser: StaffBrowser) -> None:
    make_staff(app, "analyst.chen", "analyst")
    browser.login("analyst.chen")
    assert browser.client.get(PAGE).status_code == 403
    assert browser.client.get("/staff/desk/p-1/registered").status_code == 403


def test_another_hospitals_result_page_is_not_found(app: Flask, browser: StaffBrowser) -> None:
    nurse(app, browser)
    assert browser.client.get("/staff/desk/no-such-pregnancy/registered").status_code == 404


def card(browser: StaffBrowser, answer: Any) -> Any:
    token = browser.csrf(PAGE)
    return browser.client.post(f"{PAGE}/card", json=answer, headers={"X-CSRFToken": token})


def test_the_readers_answer_is_mapped_to_the_form_and_its_number_checked(
    app: Flask, browser: StaffBrowser
) -> None:
    nurse(app, browser)
    read = card(browser, {"name": "王芳", "sex": "女", "birthDate": "19900412", "idNumber": resident_id(5),
                          "address": "某路1号"})  # fmt: skip
    assert read.status_code == 200
    assert read.get_json() == {
        "fields": {
            "name": "王芳",
            "id_number": resident_id(5),
            "birth_date": "1990-04-12",
            "id_type": "resident",
        },
        "problems": {},
        "format": "generic",
    }
    number = resident_id(5)
    wrong = card(browser, {"name": "王芳", "idNumber": number[:-1] + ("0" if number[-1] != "0" else "1")})
    assert "校验位" in wrong.get_json()["problems"]["id_number"]
    unreadable = card(browser, {"error": "no card"})
    assert unreadable.status_code == 422 and "无法识别" in unreadable.get_json()["problem"]


def test_her_records_bind_page_of_a_missing_pregnancy_is_not_found(app: Flask, browser: StaffBrowser) -> None:
    """Its refusal used to answer 500 on SQLite (answered inside the transaction holding the lock)."""
    nurse(app, browser)
    assert browser.client.get("/staff/patients/no-such-pregnancy/bind").status_code == 404


def test_her_own_form_waiting_for_proof_is_confirmed_with_her_card(app: Flask, browser: StaffBrowser) -> None:
    from carepath.store import registration
    from carepath.store.registration_form import check_form
    from tests.registration_fields import getters

    staff_id = nurse(app, browser)
    first = submit(browser)  # she is on file (registered here before)
    assert first.status_code == 302
    db, cipher = app.extensions["carepath.db"], app.extensions["carepath.cipher"]
    get, get_list = getters(form_fields(1, phone="13700001111"))
    pending = registration.register(
        db, cipher, "a", "her-phone", check_form(get, get_list, NOW_OF(app)), now=NOW_OF(app)
    )
    assert isinstance(pending, registration.ProofNeeded)

    def confirm(reference: str, number: str) -> Any:
        return browser.post(
            f"{PAGE}/confirm", {"reference": reference, "card_number": number}, token_from=PAGE
        )

    wrong = confirm(pending.reference, resident_id(2))
    assert wrong.status_code == 422 and "与她填表时的证件号码不一致" in wrong.get_data(as_text=True)
    unknown = confirm("R000000" if pending.reference != "R000000" else "R000001", resident_id(1))
    assert unknown.status_code == 404 and "没有以这个建档编号等待核对的表单" in unknown.get_data(as_text=True)
    blank = confirm("", "")
    assert blank.status_code == 422
    done = confirm(pending.reference.lower(), resident_id(1))
    assert done.status_code == 302 and done.headers["Location"].endswith("/registered")
    outcome = registration.outcome(db, cipher, "her-phone", NOW_OF(app))  # her page, reloaded, signs her in
    assert isinstance(outcome, registration.Registered) and outcome.proven_by == f"staff:{staff_id}"
    with db.reading() as session:
        details = list(session.scalars(select(AuditEntry.detail).where(AuditEntry.action == "register")))
    assert any(d.endswith("(her own form) confirmed at the desk") for d in details)
