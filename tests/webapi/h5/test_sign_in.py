"""Her sign-in against the fake WeChat and the fake Tencent SMS: web authorisation (state bound
to her cookie, each code once, the secret never in a page) and the one-time SMS code (hashed,
5 minutes, 5 tries, rate limits), every refusal in Chinese."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import NOW, Clock
from tests.fakes.providers import FakeProviders
from tests.webapi.conftest import Api
from tests.webapi.h5.conftest import csrf_of, register

WECHAT_UA = "Mozilla/5.0 (iPhone) AppleWebKit/605.1.15 Mobile/15E148 MicroMessenger/8.0.50 NetType/WIFI"
APPID = "wx-hospital"


def channels_file(tmp_path: Path, fake: FakeProviders, hospital: str = "a") -> Path:
    """A hospital's channels file pointing at the fake providers (secrets from the environment)."""
    config = {
        "hospital": hospital,
        "channels": {
            "wechat_template": {
                "appid": APPID,
                "secret_env": "CAREPATH_TEST_WX_SECRET",
                "base_url": fake.base_url,
            },
            "sms_tencent": {
                "secret_id_env": "CAREPATH_TEST_TENCENT_ID",
                "secret_key_env": "CAREPATH_TEST_TENCENT_KEY",
                "sdk_app_id": "1400006666",
                "sign_name": "市妇幼",
                "endpoint": f"{fake.base_url}/tencent/",
                "templates": {
                    "sign-in-code": "900001",
                    "checkup-reminder": "900002",
                    "inbox-digest": "900003",
                },
            },
        },
    }
    path = tmp_path / f"channels-{hospital}.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return path


@pytest.fixture
def fake() -> Iterator[FakeProviders]:
    with FakeProviders() as providers:
        yield providers


@pytest.fixture
def signing_in(
    app: Flask, fake: FakeProviders, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Flask]:
    monkeypatch.setenv("CAREPATH_TEST_WX_SECRET", "wx-secret")
    monkeypatch.setenv("CAREPATH_TEST_TENCENT_ID", "AKIDfake")
    monkeypatch.setenv("CAREPATH_TEST_TENCENT_KEY", "tencent-secret")
    app.config["CHANNELS_CONFIG"] = str(channels_file(tmp_path, fake))
    app.config["WECHAT_AUTHORIZE_URL"] = f"{fake.base_url}/connect/oauth2/authorize"
    yield app
    setup = app.extensions.pop("carepath.sign_in", None)
    if setup is not None:
        setup.close()  # its pooled HTTP client


def bind_openid(app: Flask, patient: int, openid: str) -> None:
    from carepath.store import consents

    with app.extensions["carepath.db"].transaction() as session:
        consents.bind(
            session, app.extensions["carepath.cipher"], hospital_id="a", patient_id=patient,
            kind="wechat_oa", value=openid, at=NOW, account=APPID,
        )  # fmt: skip


def through_wechat(client: FlaskClient, start: str) -> tuple[str, Any]:
    """Open ``start`` in "WeChat": follow our redirects to the fake's authorize page, let it
    send the browser back with a code; (the return URL, our answer to it)."""
    answer = client.get(start, headers={"User-Agent": WECHAT_UA})
    while answer.status_code == 302 and answer.headers["Location"].startswith("/"):
        answer = client.get(answer.headers["Location"], headers={"User-Agent": WECHAT_UA})
    authorize = answer.headers["Location"]
    assert "#wechat_redirect" in authorize and "secret" not in authorize
    back = httpx.get(authorize.split("#")[0], follow_redirects=False).headers["Location"]
    local = back.split("://", 1)[1].split("/", 1)[1]
    return "/" + local, client.get("/" + local, headers={"User-Agent": WECHAT_UA})


def test_a_bound_openid_signs_her_in_and_lands_where_she_was_going(
    signing_in: Flask, api: Api, fake: FakeProviders
) -> None:
    patient = register(api, "p-201", 201)
    bind_openid(signing_in, patient, "o-web-201")
    fake.web.openid = "o-web-201"
    client = signing_in.test_client()
    _, answer = through_wechat(client, "/h5/sign-in?hospital=a&next=/h5/inbox")
    assert answer.status_code == 302 and answer.headers["Location"] == "/h5/inbox"
    assert client.get("/h5/inbox").status_code == 200
    assert fake.web.redirects == ["http://localhost/h5/sign-in/wechat/return"]
    exchange = [r for r in fake.requests if r.route == "wechat.oauth_token"]
    assert len(exchange) == 1 and "secret=wx-secret" in exchange[0].path  # server to WeChat only


def test_an_unknown_openid_goes_to_registration_with_the_openid_pending(
    signing_in: Flask, fake: FakeProviders
) -> None:
    from tests.webapi.h5.conftest import her_session

    fake.web.openid = "o-nobody"
    client = signing_in.test_client()
    _, answer = through_wechat(client, "/h5/sign-in?hospital=a")
    assert answer.status_code == 302 and answer.headers["Location"] == "/h5/register"
    pending = her_session(client, signing_in)["wx_pending"]
    assert (pending["hospital"], pending["appid"], pending["openid"]) == ("a", APPID, "o-nobody")


def test_a_forged_or_foreign_state_is_refused_in_chinese(signing_in: Flask, fake: FakeProviders) -> None:
    client = signing_in.test_client()
    forged = client.get("/h5/sign-in/wechat/return?code=abc&state=forged", headers={"User-Agent": WECHAT_UA})
    assert forged.status_code == 400 and "登录链接已失效" in forged.get_data(as_text=True)
    # a state given to another browser: this browser never started that sign-in
    other = signing_in.test_client()
    back, _ = through_wechat(other, "/h5/sign-in?hospital=a")
    foreign = client.get(back, headers={"User-Agent": WECHAT_UA})
    assert foreign.status_code == 400 and "登录链接已失效" in foreign.get_data(as_text=True)


def test_a_code_is_used_once(signing_in: Flask, api: Api, fake: FakeProviders) -> None:
    patient = register(api, "p-202", 202)
    bind_openid(signing_in, patient, "o-web-202")
    fake.web.openid = "o-web-202"
    client = signing_in.test_client()
    back, first = through_wechat(client, "/h5/sign-in?hospital=a")
    assert first.status_code == 302
    code = re.search(r"code=([0-9a-f]+)", back).group(1)  # type: ignore[union-attr]
    # a fresh state of this browser, with the old code: refused before WeChat is asked again
    again = signing_in.test_client()
    again.get("/h5/sign-in?hospital=a", headers={"User-Agent": WECHAT_UA})
    start = again.get("/h5/sign-in/wechat", headers={"User-Agent": WECHAT_UA}).headers["Location"]
    state = re.search(r"state=([0-9a-f]+)", start).group(1)  # type: ignore[union-attr]
    exchanges = fake.count("wechat.oauth_token")
    reused = again.get(
        f"/h5/sign-in/wechat/return?code={code}&state={state}", headers={"User-Agent": WECHAT_UA}
    )
    assert reused.status_code == 400 and "已经用过" in reused.get_data(as_text=True)
    assert fake.count("wechat.oauth_token") == exchanges
    assert again.get("/h5/").status_code == 302  # not signed in


# --- SMS ---------------------------------------------------------------------------------------


def sent_codes(fake: FakeProviders) -> list[str]:
    return [
        r.payload["TemplateParamSet"][0]
        for r in fake.delivered("tencent.sms")
        if r.payload["TemplateId"] == "900001"
    ]


def ask_code(client: FlaskClient, phone: str) -> Any:
    token = csrf_of(client.get("/h5/sign-in?hospital=a").get_data(as_text=True))
    return client.post("/h5/sign-in/code", data={"csrf_token": token, "phone": phone})


def type_code(client: FlaskClient, code: str, page: Any) -> Any:
    return client.post(
        "/h5/sign-in/verify", data={"csrf_token": csrf_of(page.get_data(as_text=True)), "code": code}
    )


def test_her_phone_and_the_code_sign_her_in(signing_in: Flask, api: Api, fake: FakeProviders) -> None:
    register(api, "p-203", 203, phone="13900000203")
    client = signing_in.test_client()
    client.get("/h5/sign-in?hospital=a&next=/h5/inbox")
    asked = ask_code(client, "139 0000 0203")
    assert asked.status_code == 200 and "139****0203" in asked.get_data(as_text=True)
    (code,) = sent_codes(fake)
    assert re.fullmatch(r"\d{6}", code)
    assert fake.delivered("tencent.sms")[0].payload["PhoneNumberSet"] == ["+8613900000203"]
    signed = type_code(client, code, asked)
    assert signed.status_code == 302 and signed.headers["Location"] == "/h5/inbox"
    assert client.get("/h5/inbox").status_code == 200


def test_codes_are_stored_hashed(signing_in: Flask, fake: FakeProviders) -> None:
    from sqlalchemy import select

    from carepath.store.models_sign_in import SignInCode

    ask_code(signing_in.test_client(), "13900000299")
    (code,) = sent_codes(fake)
    with signing_in.extensions["carepath.db"].reading() as session:
        row = session.scalars(select(SignInCode)).one()
    assert code not in row.code_hash and "13900000299" not in row.phone_hash


def test_a_number_that_is_not_a_mainland_mobile_is_refused(signing_in: Flask, fake: FakeProviders) -> None:
    for typed in ("12345678901", "1390000020", "+1 415 555 0100", "abc"):
        answer = ask_code(signing_in.test_client(), typed)
        assert answer.status_code == 422 and "中国大陆的 11 位手机号码" in answer.get_data(as_text=True)
    assert fake.count("tencent.sms") == 0


def test_five_wrong_guesses_kill_the_code(signing_in: Flask, api: Api, fake: FakeProviders) -> None:
    register(api, "p-204", 204, phone="13900000204")
    client = signing_in.test_client()
    asked = ask_code(client, "13900000204")
    (code,) = sent_codes(fake)
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    page = asked
    for left in (4, 3, 2, 1):
        page = type_code(client, wrong, page)
        assert page.status_code == 422 and f"还可以再试 {left} 次" in page.get_data(as_text=True)
    fifth = type_code(client, wrong, page)
    assert fifth.status_code == 429 and "错误次数过多" in fifth.get_data(as_text=True)
    late = client.post(
        "/h5/sign-in/verify", data={"csrf_token": csrf_of(fifth.get_data(as_text=True)), "code": code}
    )
    assert late.status_code == 400 and "请先获取验证码" in late.get_data(as_text=True)
    assert client.get("/h5/").status_code == 302


def test_an_expired_code_is_refused(signing_in: Flask, api: Api, fake: FakeProviders, clock: Clock) -> None:
    register(api, "p-205", 205, phone="13900000205")
    client = signing_in.test_client()
    asked = ask_code(client, "13900000205")
    (code,) = sent_codes(fake)
    clock.now = NOW + timedelta(minutes=5, seconds=1)
    answer = type_code(client, code, asked)
    assert answer.status_code == 400 and "验证码已过期" in answer.get_data(as_text=True)


def test_codes_are_rate_limited_per_phone_and_per_address(
    signing_in: Flask, fake: FakeProviders, clock: Clock
) -> None:
    client = signing_in.test_client()
    assert ask_code(client, "13900000206").status_code == 200
    again = ask_code(client, "13900000206")
    assert again.status_code == 429 and "发送太频繁" in again.get_data(as_text=True)
    assert int(again.headers["Retry-After"]) <= 60
    signing_in.config["H5_CODES_PER_ADDRESS"] = 2
    assert ask_code(client, "13900000207").status_code == 200
    assert ask_code(client, "13900000208").status_code == 429  # a third number from this address
    assert len(sent_codes(fake)) == 2


def test_an_unknown_phone_is_offered_registration_only_after_its_code(
    signing_in: Flask, fake: FakeProviders
) -> None:
    client = signing_in.test_client()
    asked = ask_code(client, "13900000209")
    assert "建档" not in asked.get_data(as_text=True)  # the same page as for a registered phone
    (code,) = sent_codes(fake)
    answer = type_code(client, code, asked)
    page = answer.get_data(as_text=True)
    assert answer.status_code == 200 and "还没有建档" in page and 'href="/h5/register"' in page


def test_a_push_link_opened_in_wechat_by_an_unbound_woman_binds_her_wechat_after_her_code(
    signing_in: Flask, api: Api, fake: FakeProviders
) -> None:
    """Her invitation (item 6): registered by the HIS, no WeChat binding; the link of her
    first push, opened in WeChat, asks her phone's code once, then binds her openid."""
    register(api, "p-210", 210, phone="13900000210")
    fake.web.openid = "o-web-210"
    client = signing_in.test_client()
    _, answer = through_wechat(client, "/h5/sign-in?hospital=a&next=/h5/inbox/7")
    assert answer.status_code == 302 and answer.headers["Location"] == "/h5/sign-in?via=sms"
    page = client.get("/h5/sign-in?via=sms", headers={"User-Agent": WECHAT_UA})
    assert "您的微信会和您在医院的档案绑定" in page.get_data(as_text=True)
    asked = client.post(
        "/h5/sign-in/code", data={"csrf_token": csrf_of(page.get_data(as_text=True)), "phone": "13900000210"}
    )
    (code,) = sent_codes(fake)
    signed = type_code(client, code, asked)
    assert signed.status_code == 302 and signed.headers["Location"] == "/h5/inbox/7"
    # next time in WeChat: silent
    other = signing_in.test_client()
    _, again = through_wechat(other, "/h5/sign-in?hospital=a&next=/h5/inbox")
    assert again.status_code == 302 and again.headers["Location"] == "/h5/inbox"


def test_next_is_kept_only_as_a_local_path(signing_in: Flask, api: Api, fake: FakeProviders) -> None:
    register(api, "p-211", 211, phone="13900000211")
    for target in ("https://evil.example/h5/", "//evil.example/h5/", "/\\evil.example"):
        client = signing_in.test_client()
        client.get("/h5/sign-in", query_string={"hospital": "a", "next": target})
        asked = ask_code(client, "13900000211")
        code = sent_codes(fake)[-1]
        signed = type_code(client, code, asked)
        assert signed.status_code == 302 and signed.headers["Location"] == "/h5/", target
        fake.requests.clear()
        signing_in.config["CLOCK"].now += timedelta(minutes=2)  # past the one-a-minute limit
