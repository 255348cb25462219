"""Her sign-in in Chromium at a phone's size (390×844): a push link → her sign-in (the SMS code
from the fake Tencent SMS, or silently through the fake WeChat) → that item; another woman's
item is not hers; five wrong codes kill the code. Each refusal is read in Chinese."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import TIMEOUT_MS, LiveServer
from tests.fakes.providers import FakeProviders
from tests.webapi.h5.test_her_inbox import file_item
from tests.webapi.h5.test_sign_in import WECHAT_UA, channels_file, sent_codes

PHONE_SIZE = {"width": 390, "height": 844}
_numbers = iter(range(600, 700))


@pytest.fixture
def fake() -> Iterator[FakeProviders]:
    with FakeProviders() as providers:
        yield providers


@pytest.fixture
def her_server(
    live_server: LiveServer, fake: FakeProviders, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[LiveServer]:
    """The live server as hospital ``a``'s her pages, its channels at the fake providers."""
    monkeypatch.setenv("CAREPATH_TEST_WX_SECRET", "wx-secret")
    monkeypatch.setenv("CAREPATH_TEST_TENCENT_ID", "AKIDfake")
    monkeypatch.setenv("CAREPATH_TEST_TENCENT_KEY", "tencent-secret")
    config = live_server.app.config
    saved = {k: config.get(k) for k in ("CHANNELS_CONFIG", "WECHAT_AUTHORIZE_URL", "H5_HOSPITAL")}
    config.update(
        CHANNELS_CONFIG=str(channels_file(tmp_path, fake)),
        WECHAT_AUTHORIZE_URL=f"{fake.base_url}/connect/oauth2/authorize",
        H5_HOSPITAL="a",
    )
    yield live_server
    config.update(saved)
    setup = live_server.app.extensions.pop("carepath.sign_in", None)
    if setup is not None:
        setup.close()


@pytest.fixture
def phone_page(chromium: Any, live_server: LiveServer) -> Iterator[Callable[..., Any]]:
    contexts: list[Any] = []

    def make(*, wechat: bool = False) -> Any:
        extra = {"user_agent": WECHAT_UA} if wechat else {}
        context = chromium.new_context(base_url=live_server.url, locale="zh-CN", viewport=PHONE_SIZE, **extra)
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


def a_woman(
    server: LiveServer, *, phone: str, openid: str | None = None, title: str = "孕期课程", body: str = ""
) -> tuple[int, int]:
    """A woman of hospital ``a`` (her phone, maybe her openid bound) with one item; (patient, item)."""
    from tests.delivery.conftest import add_pregnancy

    app = server.app
    n = next(_numbers)
    patient, _ = add_pregnancy(
        app.extensions["carepath.db"], app.extensions["carepath.cipher"], n, consent=False,
        openid=openid, phone=phone, hospital="a", account="wx-hospital",
    )  # fmt: skip
    return patient, file_item(
        app, patient, f"browser-{n}", title=title, body=body or f"## {title}\n\n正文 {n}"
    )


def no_horizontal_overflow(page: Any) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"))


def test_a_push_link_signs_her_in_by_sms_and_lands_on_the_item(
    her_server: LiveServer, fake: FakeProviders, phone_page: Callable[..., Any]
) -> None:
    long_link = "https://example.org/" + "a" * 120  # an unbroken line must wrap, not widen the page
    _, item = a_woman(
        her_server, phone="13900000601", title="第一次产检", body=f"## 第一次产检\n\n{long_link}"
    )
    _, other_item = a_woman(her_server, phone="13900000602", title="别人的课程")
    page = phone_page()
    page.goto(f"/h5/inbox/{item}")  # the link her SMS carried (its host is the hospital's)
    page.get_by_label("手机号").fill("13900000601")
    page.get_by_role("button", name="获取验证码").click()
    page.get_by_text("验证码已发送到 139****0601").wait_for()
    assert no_horizontal_overflow(page)
    (code,) = sent_codes(fake)
    page.get_by_label("验证码").fill(f"{(int(code) + 1) % 10**6:06d}")
    page.get_by_role("button", name="登录").click()
    page.get_by_text("验证码不对，还可以再试 4 次。").wait_for()
    page.get_by_label("验证码").fill(code)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(f"{her_server.url}/h5/inbox/{item}")
    page.get_by_role("heading", name="第一次产检", level=1).wait_for()
    # her pages fit a small phone (360×640), and with large text: zoom 150% on that phone is a
    # layout viewport of 240 CSS px, which is what is set here
    for size in (PHONE_SIZE, {"width": 360, "height": 640}, {"width": 240, "height": 427}):
        page.set_viewport_size(size)
        for path in (f"/h5/inbox/{item}", "/h5/inbox", "/h5/"):
            page.goto(path)
            assert no_horizontal_overflow(page), (size, path)
    page.set_viewport_size(PHONE_SIZE)
    page.goto(f"/h5/inbox/{other_item}")  # another woman's item: not hers
    page.get_by_text("没有这条内容，或者它不属于您。").wait_for()
    assert "别人的课程" not in page.content()


def test_inside_wechat_a_push_link_signs_her_in_silently(
    her_server: LiveServer, fake: FakeProviders, phone_page: Callable[..., Any]
) -> None:
    _, item = a_woman(her_server, phone="13900000603", openid="o-browser-603", title="产检提醒")
    fake.web.openid = "o-browser-603"
    page = phone_page(wechat=True)
    page.goto(f"/h5/inbox/{item}")
    page.get_by_role("heading", name="产检提醒", level=1).wait_for()
    # the browser keeps the authorize URL's #wechat_redirect across the redirects back
    assert page.url.split("#")[0] == f"{her_server.url}/h5/inbox/{item}"
    assert fake.count("wechat.oauth_token") == 1 and fake.count("tencent.sms") == 0
    page.goto("/h5/")
    page.get_by_role("link", name="消息").wait_for()
    page.get_by_role("link", name="问卷", exact=True).wait_for()  # issue 19: her forms are open
    page.goto("/h5/sign-in/wechat/return?code=forged&state=forged")
    page.get_by_text("登录链接已失效或不是从本页面发起的").wait_for()


def test_five_wrong_codes_kill_the_code(
    her_server: LiveServer, fake: FakeProviders, phone_page: Callable[..., Any]
) -> None:
    a_woman(her_server, phone="13900000604")
    page = phone_page()
    page.goto("/h5/sign-in")
    page.get_by_label("手机号").fill("13900000604")
    page.get_by_role("button", name="获取验证码").click()
    (code,) = sent_codes(fake)
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    for left in (4, 3, 2, 1):
        page.get_by_label("验证码").fill(wrong)
        page.get_by_role("button", name="登录").click()
        page.get_by_text(f"还可以再试 {left} 次").wait_for()
    page.get_by_label("验证码").fill(wrong)
    page.get_by_role("button", name="登录").click()
    page.get_by_text("验证码错误次数过多，已失效。请重新获取验证码。").wait_for()
