"""Her registration pages (issue 18 items 4, 5 and 7) through Flask's client, on both databases:
each bad input a Chinese message next to its field with nothing written; another woman's ID
number shows nothing of her; a registered woman is signed in and lands on her inbox."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from carepath.store.models import Consent, Patient, Pregnancy
from carepath.store.models_registration import Registration
from tests.conftest import resident_id, set_hospital_settings
from tests.fakes.providers import FakeProviders
from tests.registration_fields import form_fields
from tests.webapi.conftest import Api
from tests.webapi.h5.conftest import csrf_of, register
from tests.webapi.h5.test_sign_in import fake, sent_codes, signing_in  # noqa: F401  (fixtures)


def _check(body: str) -> str:
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    return body + "10X98765432"[sum(int(d) * w for d, w in zip(body, weights, strict=True)) % 11]


MANS_NUMBER = _check("33010219900412181")  # an odd 17th digit: a man's number, her partner's maybe


@pytest.fixture(autouse=True)
def shipped_library(app: Flask) -> None:
    from carepath.engine.catalogue import PATHWAYS_DIR
    from carepath.store import demo, pathways

    demo.publish_examples(app.extensions["carepath.db"], PATHWAYS_DIR, app.config["CLOCK"]())
    pathways.clear_cache()
    set_hospital_settings(app.extensions["carepath.db"], "a", drafts_allowed=True)


def open_form(client: FlaskClient) -> dict[str, str]:
    page = client.get("/h5/register?hospital=a")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    token = re.search(r'name="token" value="([^"]+)"', html)
    assert token
    return {"csrf_token": csrf_of(html), "token": token.group(1)}


def submit(client: FlaskClient, hidden: dict[str, str], **override: Any) -> Any:
    return client.post("/h5/register", data={**hidden, **form_fields(1, **override)})


def rows(app: Flask) -> dict[str, int]:
    with app.extensions["carepath.db"].reading() as session:
        return {
            m.__tablename__: session.scalar(select(func.count()).select_from(m)) or 0
            for m in (Patient, Pregnancy, Consent, Registration)
        }


def error_next_to(html: str, field: str) -> str:
    match = re.search(rf'id="{re.escape(field)}-error" role="alert">([^<]+)<', html)
    assert match, f"no message next to {field}"
    return match.group(1)


def test_a_new_woman_registers_and_lands_on_her_inbox_with_her_lesson(app: Flask) -> None:
    client = app.test_client()
    hidden = open_form(client)
    cookie_name = app.config["H5_SESSION_COOKIE_NAME"]
    before_submit = client.get_cookie(cookie_name, path="/h5")
    assert before_submit is not None
    answer = submit(client, hidden)
    assert answer.status_code == 302 and answer.headers["Location"].endswith("/h5/inbox")
    inbox = client.get("/h5/inbox").get_data(as_text=True)
    assert "18周" in inbox, inbox  # the school's lesson of her week, filed at once
    # a double tap: the second request left with the cookie the first had
    client.set_cookie(cookie_name, before_submit.value, path="/h5")
    again = submit(client, hidden)
    assert again.status_code == 302 and again.headers["Location"].endswith("/h5/inbox")
    # the back button and the form sent again after she is signed in: refused, nothing written
    late = submit(client, hidden)
    assert late.status_code in (302, 400) and "Traceback" not in late.get_data(as_text=True)
    assert rows(app)["patients"] == 1 and rows(app)["pregnancies"] == 1 and rows(app)["registrations"] == 1


@pytest.mark.parametrize(
    ("override", "field", "words"),
    [
        (
            {"id_number": resident_id(1)[:17] + ("0" if resident_id(1)[17] != "0" else "1")},
            "id_number",
            "校验位",
        ),
        ({"id_number": MANS_NUMBER}, "id_number", "男性"),
        ({"dating_method": "edd", "edd": "2027-06-25"}, "edd", "超过40周"),
        ({"phone": "85291234567"}, "phone", "中国大陆手机号码"),
        ({"phone": "+1 650 555 0100"}, "phone", "中国大陆手机号码"),
        ({"lmp": "2026-08-01"}, "lmp", "不能晚于今天"),
        ({"gravida": "1", "para": "1"}, "para", "产次"),
        ({"notice": ""}, "notice", "隐私政策"),
        ({"consent_health": ""}, "consent_health", "单独同意"),
    ],
)
def test_bad_input_is_a_chinese_message_next_to_its_field_and_writes_nothing(
    app: Flask, override: dict[str, str], field: str, words: str
) -> None:
    client = app.test_client()
    hidden = open_form(client)
    before = rows(app)
    answer = submit(client, hidden, **override)
    assert answer.status_code == 422
    html = answer.get_data(as_text=True)
    assert words in error_next_to(html, field)
    assert 'value="张丽"' in html  # what she typed is kept
    assert rows(app) == before


def test_a_form_not_opened_in_this_browser_is_refused(app: Flask) -> None:
    mine, other = app.test_client(), app.test_client()
    hidden = open_form(mine)
    theirs = open_form(other)
    forged = submit(mine, {**hidden, "token": theirs["token"]})
    assert forged.status_code == 400 and "页面已过期" in forged.get_data(as_text=True)
    assert rows(app)["registrations"] == 0


def test_another_womans_id_number_shows_nothing_of_her(app: Flask, api: Api) -> None:
    register(api, "p-9", 1, phone="13812349876", name="王小红")
    client = app.test_client()
    answer = submit(client, open_form(client), name="冒名者", phone="13700001111")
    assert answer.status_code == 302 and answer.headers["Location"].endswith("/h5/register/prove")
    page = client.get("/h5/register/prove").get_data(as_text=True)
    assert "请到护士站核对身份" in page and re.search(r"R\d{6}", page)
    # her request's reference is six random digits: "R331385" holds "138" by chance (seen once)
    shown = re.sub(r"R\d{6}", "R######", page)
    for hers in ("9876", "138", "王小红", resident_id(1)[-4:], "1990"):
        assert hers not in shown
    assert client.get("/h5/inbox").status_code == 302  # not signed in as her
    with app.extensions["carepath.db"].reading() as session:
        assert session.scalar(select(func.count()).select_from(Pregnancy)) == 1


def test_without_an_sms_channel_the_proof_page_offers_only_the_desk(app: Flask, api: Api) -> None:
    register(api, "p-9", 1)  # a phone on file, but this hospital sends no SMS (the demo's case)
    client = app.test_client()
    submit(client, open_form(client))
    page = client.get("/h5/register/prove").get_data(as_text=True)
    assert "发送验证码" not in page and 'id="send-code"' not in page
    assert "<h2>请到护士站核对身份</h2>" in page


def test_a_nurse_confirms_her_and_her_page_signs_her_in(app: Flask, api: Api) -> None:
    from carepath.store import registration
    from carepath.store.scope import Actor

    register(api, "p-9", 1)
    client = app.test_client()
    submit(client, open_form(client))
    page = client.get("/h5/register/prove").get_data(as_text=True)
    reference = re.search(r"R\d{6}", page)
    assert reference
    registration.confirm_at_desk(
        app.extensions["carepath.db"], app.extensions["carepath.cipher"], Actor("a", "staff", "5"),
        reference.group(0), resident_id(1), now=app.config["CLOCK"](),
    )  # fmt: skip
    reloaded = client.get("/h5/register/prove")
    assert reloaded.status_code == 302 and reloaded.headers["Location"].endswith("/h5/inbox")
    assert client.get("/h5/inbox").status_code == 200


def test_her_id_number_on_file_is_proven_by_a_code_to_the_phone_on_file(
    signing_in: Flask,  # noqa: F811  (the sign-in tests' fixture: SMS through the fake Tencent)
    api: Api,
    fake: FakeProviders,  # noqa: F811
) -> None:
    register(api, "p-9", 1, phone="13812349876")
    client = signing_in.test_client()
    submit(client, open_form(client), phone="13700001111")  # the form's phone is not where it goes
    page = client.get("/h5/register/prove").get_data(as_text=True)
    sent = client.post("/h5/register/prove/send", data={"csrf_token": csrf_of(page)})
    assert sent.status_code == 302
    (delivered,) = fake.delivered("tencent.sms")
    assert delivered.payload["PhoneNumberSet"] == ["+8613812349876"]
    page = client.get(sent.headers["Location"]).get_data(as_text=True)
    assert "验证码已发送" in page and "9876" not in page
    wrong = client.post("/h5/register/prove/check", data={"csrf_token": csrf_of(page), "code": "000000"})
    if delivered.payload["TemplateParamSet"][0] != "000000":
        assert wrong.status_code == 422 and "还可以再试 4 次" in wrong.get_data(as_text=True)
    (code,) = sent_codes(fake)
    done = client.post("/h5/register/prove/check", data={"csrf_token": csrf_of(page), "code": code})
    assert done.status_code == 302 and done.headers["Location"].endswith("/h5/inbox")
    assert client.get("/h5/inbox").status_code == 200
    with signing_in.extensions["carepath.db"].reading() as session:
        assert session.scalar(select(func.count()).select_from(Patient)) == 1
        assert session.scalar(select(Registration.proven_by)) == "sms"


def test_a_code_for_a_form_that_no_longer_waits_is_a_chinese_page(app: Flask, api: Api) -> None:
    from datetime import timedelta

    from carepath.store import registration

    register(api, "p-9", 1)
    client = app.test_client()
    hidden = open_form(client)  # this hospital sends no SMS: its proof page has no code form
    submit(client, hidden)
    app.config["CLOCK"].now += registration.PENDING_LIFETIME + timedelta(minutes=1)
    for path in ("/h5/register/prove/send", "/h5/register/prove/check"):
        answer = client.post(path, data={"csrf_token": hidden["csrf_token"], "code": "123456"})
        assert answer.status_code == 302 and answer.headers["Location"].endswith("/h5/register/prove")
    expired = client.get("/h5/register/prove")
    assert expired.status_code == 404 and "超过24小时" in expired.get_data(as_text=True)
    assert rows(app)["pregnancies"] == 1


def test_a_mistyped_id_number_corrected_after_the_proof_page_registers_her(app: Flask, api: Api) -> None:
    register(api, "p-9", 1)
    client = app.test_client()
    hidden = open_form(client)
    assert submit(client, hidden).headers["Location"].endswith("/h5/register/prove")  # someone else's
    stale = submit(client, hidden, id_number=resident_id(2))  # the back button: that form is spent
    assert stale.status_code == 400 and "页面已过期" in stale.get_data(as_text=True)
    fixed = submit(client, open_form(client), id_number=resident_id(2))
    assert fixed.status_code == 302 and fixed.headers["Location"].endswith("/h5/inbox")


def test_the_scan_url_names_her_hospital_and_her_registration_counts_on_its_source(app: Flask) -> None:
    from carepath.store import sources

    now = app.config["CLOCK"]()
    with app.extensions["carepath.db"].transaction() as session:
        card = sources.create(session, sources.plan(session, "a", now), now, "test")
        card_id, code = card.id, card.code
    client = app.test_client()
    assert client.get(f"/h5/s/{code}").headers["Location"] == "/h5/register"
    page = client.get("/h5/register").get_data(as_text=True)  # two hospitals: the source says which
    token = re.search(r'name="token" value="([^"]+)"', page)
    assert token
    answer = client.post(
        "/h5/register", data={"csrf_token": csrf_of(page), "token": token.group(1), **form_fields(1)}
    )
    assert answer.headers["Location"].endswith("/h5/inbox")
    with app.extensions["carepath.db"].reading() as session:
        assert sources.counts(session, [card_id])[card_id].registrations == 1
        assert session.scalar(select(Registration.source)) == code
