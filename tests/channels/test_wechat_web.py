"""Web authorisation's code exchange against the fake WeChat: the openid once, WeChat's refusals
as ``CodeRefusedError``, and the appsecret never in a log line."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from carepath.channels.base import make_http_client
from carepath.channels.wechat_web import CodeRefusedError, WebAccount, authorize_url, exchange_code
from tests.fakes.providers import FakeProviders


@pytest.fixture
def fake() -> Iterator[FakeProviders]:
    with FakeProviders() as providers:
        yield providers


def a_code(fake: FakeProviders, account: WebAccount) -> str:
    url = authorize_url(account, "https://mch.example/h5/sign-in/wechat/return", "s1")
    assert url.endswith("#wechat_redirect") and "secret" not in url
    back = httpx.get(url.split("#")[0], follow_redirects=False).headers["Location"]
    query = parse_qs(urlsplit(back).query)
    assert query["state"] == ["s1"]
    return query["code"][0]


def test_a_code_gives_the_openid_once_and_the_secret_stays_out_of_logs(
    fake: FakeProviders, caplog: pytest.LogCaptureFixture
) -> None:
    account = WebAccount(
        "wx-hospital",
        "wx-secret",
        api_url=fake.base_url,
        authorize_url=f"{fake.base_url}/connect/oauth2/authorize",
    )
    fake.web.openid = "o-42"
    code = a_code(fake, account)
    with make_http_client() as client, caplog.at_level(logging.INFO, logger="httpx"):
        assert exchange_code(client, account, code) == "o-42"
        with pytest.raises(CodeRefusedError) as used:
            exchange_code(client, account, code)
        with pytest.raises(CodeRefusedError) as unknown:
            exchange_code(client, account, "not-a-code")
    assert (used.value.errcode, unknown.value.errcode) == (40163, 40029)
    assert "sns/oauth2/access_token" in caplog.text and "wx-secret" not in caplog.text


def test_a_wrong_secret_is_refused(fake: FakeProviders) -> None:
    account = WebAccount(
        "wx-hospital",
        "not-the-secret",
        api_url=fake.base_url,
        authorize_url=f"{fake.base_url}/connect/oauth2/authorize",
    )
    code = a_code(fake, account)
    with make_http_client() as client, pytest.raises(CodeRefusedError) as refused:
        exchange_code(client, account, code)
    assert refused.value.errcode == 40125
