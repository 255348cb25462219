"""Her registration in Debian's Chromium at a phone's size (issue 18 item 4): the scan URL, the
form, her inbox with the lesson of her week; the layout at 360×640 and at 150 % zoom.

A server of its own (the shipped library, whose school enrols every pregnancy; drafts allowed,
as in the demo), so the other browser tests keep their library."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser.conftest import TIMEOUT_MS, LiveServer, serving
from tests.conftest import resident_id, set_hospital_settings
from tests.fakes.providers import FakeProviders
from tests.webapi.h5.test_sign_in import channels_file, sent_codes

PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeProviders]:
    with FakeProviders() as providers:
        yield providers


@pytest.fixture(scope="module")
def h5_server(tmp_path_factory: pytest.TempPathFactory, fake: FakeProviders) -> Iterator[LiveServer]:
    """Her pages with the shipped library, a source to scan, and SMS through the fake Tencent."""
    from carepath.engine.catalogue import PATHWAYS_DIR
    from carepath.store import demo, pathways, sources

    folder = tmp_path_factory.mktemp("h5")
    secrets = {"CAREPATH_TEST_WX_SECRET": "wx-secret", "CAREPATH_TEST_TENCENT_ID": "AKIDfake",
               "CAREPATH_TEST_TENCENT_KEY": "tencent-secret"}  # fmt: skip
    saved = {name: os.environ.get(name) for name in secrets}
    os.environ.update(secrets)
    with serving(folder) as server:
        server.app.config["CHANNELS_CONFIG"] = str(channels_file(folder, fake))
        database = server.app.extensions["carepath.db"]
        demo.publish_examples(database, PATHWAYS_DIR, server.clock())
        pathways.clear_cache()
        set_hospital_settings(database, "a", drafts_allowed=True)
        with database.transaction() as session:
            planned = sources.plan(session, "a", server.clock())
            server.source_code = sources.create(session, planned, server.clock(), "test").code  # type: ignore[attr-defined]
        yield server
        setup = server.app.extensions.pop("carepath.sign_in", None)
        if setup is not None:
            setup.close()
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


def phone_page(chromium: Any, server: LiveServer, viewport: dict[str, int] = PHONE, **options: Any) -> Any:
    context = chromium.new_context(base_url=server.url, locale="zh-CN", viewport=viewport, **options)
    context.set_default_timeout(TIMEOUT_MS)
    return context.new_page()


def fill_form(page: Any, n: int) -> None:
    """What she types, in the form's order; the risk screen answered by its first choices."""
    page.get_by_label("姓名 *", exact=True).fill("李梅")
    page.get_by_label("证件号码").fill(resident_id(n))
    page.get_by_label("手机号码").fill(f"1391234{n:04d}")
    page.get_by_label("末次月经", exact=True).check()
    today = page.evaluate("new Date(Date.now() - 100 * 86400000).toISOString().slice(0, 10)")
    page.get_by_label("末次月经第一天").fill(today)  # 14+2 today
    page.get_by_label("身高（厘米）").fill("160")
    page.get_by_label("孕前体重（公斤）").fill("52")
    page.get_by_label("孕次（含这次）").fill("1")
    page.get_by_label("产次（以前分娩过几次）").fill("0")
    for fieldset in page.locator("fieldset:has(input[name^='screen.'])").all():
        exclusive = fieldset.locator("input[data-exclusive]")
        (exclusive if exclusive.count() else fieldset.locator("input").first).check()
    page.get_by_label("我已阅读并同意《隐私政策》").check()
    page.get_by_label("我单独同意医院为孕期保健处理我的健康信息").check()


def no_horizontal_overflow(page: Any) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.evaluate("document.documentElement.clientWidth"), f"scrolls sideways: {width}"


def test_scan_register_and_see_her_welcome_lesson(chromium: Any, h5_server: LiveServer) -> None:
    page = phone_page(chromium, h5_server)
    page.goto(f"/h5/s/{h5_server.source_code}")  # type: ignore[attr-defined]
    page.wait_for_url("**/h5/register")
    page.get_by_label("证件号码").fill(resident_id(7)[:17] + "0")
    page.get_by_label("手机号码").click()  # the check runs as she leaves the field
    if resident_id(7)[17] != "0":
        assert "校验位" in page.locator("#id_number-check").inner_text()
    page.get_by_label("证件号码").fill(resident_id(7))
    page.get_by_label("手机号码").click()
    assert page.locator("#id_number-check").is_hidden()
    assert "1990年4月12日" in page.locator("#id-derived").inner_text()
    fill_form(page, 7)
    page.get_by_role("button", name="提交建档").click()
    page.wait_for_url("**/h5/inbox")
    assert "孕14周" in page.locator("main").inner_text() or "14周" in page.locator("main").inner_text()
    no_horizontal_overflow(page)
    page.context.close()


def test_her_id_number_again_from_another_browser_is_proven_by_a_code_to_the_phone_on_file(
    chromium: Any, h5_server: LiveServer, fake: FakeProviders
) -> None:
    first = phone_page(chromium, h5_server)
    first.goto("/h5/register?hospital=a")
    fill_form(first, 9)  # her phone on file: 13912340009
    first.get_by_role("button", name="提交建档").click()
    first.wait_for_url("**/h5/inbox")
    first.context.close()
    page = phone_page(chromium, h5_server)  # another browser: nothing of hers in it
    page.goto("/h5/register?hospital=a")
    fill_form(page, 9)
    page.get_by_label("手机号码").fill("13700009999")
    page.get_by_role("button", name="提交建档").click()
    page.wait_for_url("**/h5/register/prove")
    assert "请到护士站核对身份" in page.locator("main").inner_text()
    assert "0009" not in page.locator("main").inner_text()  # not even the last digits of hers
    page.get_by_role("button", name="发送验证码").click()
    page.get_by_text("验证码已发送").wait_for()
    sent = [r for r in fake.delivered("tencent.sms") if r.payload["TemplateId"] == "900001"]
    assert sent[-1].payload["PhoneNumberSet"] == ["+8613912340009"]  # the phone on file
    page.get_by_label("验证码").fill(sent_codes(fake)[-1])
    page.get_by_role("button", name="核对").click()
    page.wait_for_url("**/h5/inbox")
    no_horizontal_overflow(page)
    page.context.close()


def test_a_problem_is_shown_next_to_its_field(chromium: Any, h5_server: LiveServer) -> None:
    page = phone_page(chromium, h5_server)
    page.goto("/h5/register?hospital=a")
    fill_form(page, 8)
    page.get_by_label("手机号码").fill("85291234567")
    page.get_by_role("button", name="提交建档").click()
    error = page.locator("#phone-error")
    error.wait_for()
    assert "中国大陆手机号码" in error.inner_text()
    assert page.get_by_label("姓名 *", exact=True).input_value() == "李梅"  # what she typed is kept
    page.context.close()


@pytest.mark.parametrize(
    ("viewport", "scale"),
    [({"width": 360, "height": 640}, 1), ({"width": 260, "height": 563}, 1.5)],
    ids=["360x640", "390-at-150%-zoom"],
)
def test_the_form_fits_a_small_phone_and_large_text(
    chromium: Any, h5_server: LiveServer, viewport: dict[str, int], scale: float
) -> None:
    """Chromium's 150 % zoom on a 390-px phone is 260 CSS px at 1.5 device pixels each."""
    page = phone_page(chromium, h5_server, viewport, device_scale_factor=scale * 3)
    page.goto("/h5/register?hospital=a")
    page.get_by_label("B超检查", exact=True).check()  # the widest part: weeks and days side by side
    page.get_by_label("证件类型").select_option("passport")
    no_horizontal_overflow(page)
    page.get_by_role("button", name="提交建档").click()  # every problem shown at once
    page.locator("#form-errors").wait_for()
    no_horizontal_overflow(page)
    page.context.close()
