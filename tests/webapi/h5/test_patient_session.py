"""Her session: her own cookie (not staff's), HttpOnly, SameSite=Lax, Secure on an https base
URL, idle expiry on the server, CSRF on her forms, sign-out."""

from __future__ import annotations

from datetime import timedelta

from flask import Flask
from sqlalchemy import func, select

from tests.conftest import Clock, set_hospital_settings
from tests.webapi.conftest import Api, StaffBrowser, make_staff
from tests.webapi.h5.conftest import csrf_of, register, sign_in_as


def _her_cookie_header(response: object) -> str:
    headers = [h for h in response.headers.getlist("Set-Cookie") if h.startswith("carepath_h5=")]  # type: ignore[attr-defined]
    assert len(headers) == 1, response.headers.getlist("Set-Cookie")  # type: ignore[attr-defined]
    return headers[0]


def _sessions(app: Flask) -> int:
    from carepath.store.models_sign_in import PatientSession

    with app.extensions["carepath.db"].reading() as session:
        return int(session.scalar(select(func.count()).select_from(PatientSession)) or 0)


def test_her_pages_send_nobody_signed_in_to_her_sign_in_page_with_next(app: Flask) -> None:
    answer = app.test_client().get("/h5/inbox?x=1")
    assert answer.status_code == 302
    assert answer.headers["Location"] == "/h5/sign-in?next=/h5/inbox?x%3D1"


def test_her_cookie_is_her_own_httponly_lax_and_only_sent_to_her_pages(app: Flask) -> None:
    answer = app.test_client().get("/h5/sign-in?hospital=a")
    assert answer.status_code == 200
    header = _her_cookie_header(answer)
    assert "HttpOnly" in header and "SameSite=Lax" in header and "Path=/h5" in header
    assert "Secure" not in header  # plain http, no https base URL
    assert not any(h.startswith("carepath_session=") for h in answer.headers.getlist("Set-Cookie"))


def test_her_cookie_is_secure_when_her_hospital_s_base_url_is_https(app: Flask) -> None:
    set_hospital_settings(app.extensions["carepath.db"], "a", public_base_url="https://mch.example")
    client = app.test_client()
    # TLS ends at the hospital's proxy: the app sees http, her base URL says https
    answer = client.get("/h5/sign-in?hospital=a", base_url="http://mch.example")
    assert "Secure" in _her_cookie_header(answer)


def test_signed_in_she_sees_her_home_and_a_staff_cookie_is_not_her_session(app: Flask, api: Api) -> None:
    patient = register(api, "p-101", 101, name="王小红")
    client = app.test_client()
    sign_in_as(client, app, patient)
    home = client.get("/h5/")
    assert home.status_code == 200
    page = home.get_data(as_text=True)
    assert "王小红" in page and "消息" in page and "问卷" in page and "我的数据" in page
    assert home.headers["Cache-Control"] == "no-store"
    make_staff(app, "nurse.one", "nurse")
    staff = StaffBrowser(app.test_client())
    assert staff.login("nurse.one").status_code in (302, 303)
    assert staff.client.get("/h5/").status_code == 302  # staff's cookie is not hers
    assert client.get("/").status_code == 302  # and hers is not staff's: the staff home wants a login


def test_an_idle_session_ends_on_the_server(app: Flask, api: Api, clock: Clock) -> None:
    patient = register(api, "p-102", 102)
    client = app.test_client()
    sign_in_as(client, app, patient)
    clock.now += timedelta(days=6)
    assert client.get("/h5/").status_code == 200  # used within the week: still hers
    clock.now += timedelta(days=7, minutes=1)
    assert client.get("/h5/").status_code == 302
    assert _sessions(app) == 0  # the idle row is gone


def test_sign_out_needs_the_form_s_csrf_token_and_ends_the_session(app: Flask, api: Api) -> None:
    patient = register(api, "p-103", 103)
    client = app.test_client()
    sign_in_as(client, app, patient)
    refused = client.post("/h5/sign-out", data={})
    assert refused.status_code == 400 and "页面已过期" in refused.get_data(as_text=True)
    assert _sessions(app) == 1
    token = csrf_of(client.get("/h5/").get_data(as_text=True))
    assert client.post("/h5/sign-out", data={"csrf_token": token}).status_code == 302
    assert _sessions(app) == 0
    assert client.get("/h5/").status_code == 302


def test_a_session_is_only_for_a_patient_of_her_own_hospital(app: Flask, api: Api) -> None:
    import pytest

    from carepath.store import patient_sessions

    patient = register(api, "p-104", 104)
    with pytest.raises(ValueError):
        patient_sessions.start(app.extensions["carepath.db"], patient, "b", "sms", app.config["CLOCK"]())


def test_staff_can_end_every_session_of_hers(app: Flask, api: Api) -> None:
    from carepath.store import patient_sessions

    patient = register(api, "p-105", 105)
    phone, tablet = app.test_client(), app.test_client()
    sign_in_as(phone, app, patient)
    sign_in_as(tablet, app, patient)
    assert patient_sessions.end_all(app.extensions["carepath.db"], "b", patient) == 0  # not b's
    assert patient_sessions.end_all(app.extensions["carepath.db"], "a", patient) == 2
    assert phone.get("/h5/").status_code == 302 and tablet.get("/h5/").status_code == 302


def test_an_address_of_hers_that_is_no_page_answers_in_her_words(app: Flask) -> None:
    client = app.test_client()
    html = {"Accept": "text/html"}
    missing = client.get("/h5/no-such-page", headers=html)
    assert missing.status_code == 404 and "没有这个页面" in missing.get_data(as_text=True)
    wrong_way = client.get("/h5/sign-out", headers=html)
    assert wrong_way.status_code == 405 and "这个页面不能这样打开" in wrong_way.get_data(as_text=True)
    staff = client.get("/no-such-page", headers=html)  # staff's pages keep their own
    assert staff.status_code == 404 and "没有这个页面。请从医院" not in staff.get_data(as_text=True)
    assert client.get("/h5/no-such-page").mimetype == "application/problem+json"  # not a browser


def test_a_new_session_says_who_she_is_as_checking_it_would(app: Flask, api: Api) -> None:
    """Signing her in reads nothing back: the identity ``started`` gives is ``check``'s."""
    from carepath.store import patient_sessions

    patient = register(api, "p-106", 106)
    db, now = app.extensions["carepath.db"], app.config["CLOCK"]()
    token, identity = patient_sessions.started(db, patient, "a", "sms", now)
    assert identity.pregnancy_id is not None  # her HIS registration's pregnancy
    assert patient_sessions.check(db, token, now) == identity
