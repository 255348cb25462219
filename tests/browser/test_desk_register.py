"""建档登记 in Debian's Chromium (issue 21 item 3): a nurse at the desk reads her ID card with the
fake reader service (a real loopback server, CORS allowed), the form fills, her consent is
recorded, and the result shows the binding QR; a keyboard-wedge reader's number with a wrong
check digit is caught as typed (its Enter does not submit) and refused by the server.

A server of its own (the shipped library, drafts allowed as in the demo, the hospital's reader
setting pointing at the fake), so the other browser tests keep theirs."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from tests.browser.conftest import PASSWORD, TIMEOUT_MS, LiveServer, log_in, serving
from tests.conftest import resident_id, set_hospital_settings
from tests.fakes.id_card_reader import FakeCardReader

TABLET = {"width": 820, "height": 1180}


@pytest.fixture(scope="module")
def reader() -> Iterator[FakeCardReader]:
    with FakeCardReader() as fake:
        yield fake


@pytest.fixture(scope="module")
def desk_server(tmp_path_factory: pytest.TempPathFactory, reader: FakeCardReader) -> Iterator[LiveServer]:
    from carepath.engine.catalogue import PATHWAYS_DIR
    from carepath.store import accounts, demo, pathways

    with serving(tmp_path_factory.mktemp("desk")) as server:
        database = server.app.extensions["carepath.db"]
        demo.publish_examples(database, PATHWAYS_DIR, server.clock())
        pathways.clear_cache()
        set_hospital_settings(database, "a", drafts_allowed=True, id_reader_url=reader.url)
        accounts.create_account(
            database,
            "a",
            "nurse.desk",
            PASSWORD,
            ["nurse"],
            now=server.clock(),
            name="护士小王",
            profile="test",
        )
        yield server


def nurse_page(chromium: Any, server: LiveServer, viewport: dict[str, int] = TABLET) -> Any:
    context = chromium.new_context(base_url=server.url, locale="zh-CN", viewport=viewport)
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    log_in(page, "nurse.desk", PASSWORD)
    page.wait_for_url(f"{server.url}/")
    return page


def fill_the_rest(page: Any, phone: str) -> None:
    """What the nurse asks her after the card: phone, dates, height and weight, the screen."""
    page.get_by_label("手机号码").fill(phone)
    page.get_by_label("末次月经", exact=True).check()
    lmp = page.evaluate("new Date(Date.now() - 100 * 86400000).toISOString().slice(0, 10)")
    page.get_by_label("末次月经第一天").fill(lmp)
    page.get_by_label("身高（厘米）").fill("160")
    page.get_by_label("孕前体重（公斤）").fill("52")
    page.get_by_label("孕次（含这次）").fill("1")
    page.get_by_label("产次（以前分娩过几次）").fill("0")
    for fieldset in page.locator("fieldset:has(input[name^='screen.'])").all():
        exclusive = fieldset.locator("input[data-exclusive]")
        (exclusive if exclusive.count() else fieldset.locator("input").first).check()


def record_her_consent(page: Any) -> None:
    page.get_by_label("纸质知情同意书，本人签字").check()
    page.get_by_label("她已阅读这一版本的《隐私政策》并同意").check()
    page.get_by_label("她单独同意医院为孕期保健处理她的健康信息").check()


def wrong_check_digit(number: str) -> str:
    return number[:-1] + ("0" if number[-1] != "0" else "1")


def no_horizontal_overflow(page: Any) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.evaluate("document.documentElement.clientWidth"), f"scrolls sideways: {width}"


def test_the_card_reader_fills_the_form_her_consent_is_recorded_and_the_qr_shown(
    chromium: Any, desk_server: LiveServer, reader: FakeCardReader
) -> None:
    from carepath.store.models import Consent

    reader.card = {"name": "陈小燕", "sex": "女", "birthDate": "19900412", "idNumber": resident_id(21),
                   "address": "浙江省杭州市上城区某路1号"}  # fmt: skip
    page = nurse_page(chromium, desk_server)
    page.get_by_role("link", name="建档登记").click()
    page.wait_for_url("**/staff/desk")
    read_before = reader.requests
    page.get_by_role("button", name="读取身份证").click()
    page.get_by_text("已读取身份证").wait_for()
    assert reader.requests == read_before + 1
    assert page.get_by_label("姓名 *", exact=True).input_value() == "陈小燕"
    assert page.get_by_label("证件号码").input_value() == resident_id(21)
    assert "1990年4月12日" in page.locator("#id-derived").inner_text()
    assert "某路" not in page.locator("main").inner_text()  # the address is not asked for, not kept
    fill_the_rest(page, "13912340021")
    record_her_consent(page)
    no_horizontal_overflow(page)
    page.get_by_role("button", name="提交建档").click()
    page.wait_for_url("**/registered")
    assert "陈小燕 已建档" in page.locator("h1").inner_text()
    qr = page.locator("#bind-qr svg")
    qr.wait_for()
    assert qr.bounding_box()["width"] > 100
    with desk_server.app.extensions["carepath.db"].reading() as session:
        methods = set(session.scalars(select(Consent.method)))
        sources = set(session.scalars(select(Consent.source)))
    assert methods == {"paper"} and len(sources) == 1 and next(iter(sources)).startswith("staff:")
    page.context.close()


def test_a_wedge_readers_number_failing_its_check_digit_is_caught_and_refused(
    chromium: Any, desk_server: LiveServer
) -> None:
    page = nurse_page(chromium, desk_server, {"width": 390, "height": 844})  # a phone at the desk
    page.goto("/staff/desk")
    wrong = wrong_check_digit(resident_id(22))
    field = page.get_by_label("证件号码")
    field.click()
    field.press_sequentially(wrong)  # as a keyboard-wedge reader types it...
    field.press("Enter")  # ...and its Enter: checked, not submitted
    assert "校验位" in page.locator("#id_number-check").inner_text()
    assert page.url.endswith("/staff/desk")
    page.get_by_label("姓名 *", exact=True).fill("周敏")
    fill_the_rest(page, "13912340022")
    record_her_consent(page)
    page.get_by_role("button", name="提交建档").click()
    error = page.locator("#id_number-error")
    error.wait_for()
    assert "校验位" in error.inner_text()  # the server refuses it too, in Chinese
    assert page.get_by_label("姓名 *", exact=True).input_value() == "周敏"  # the form kept
    no_horizontal_overflow(page)
    page.context.close()


def test_a_card_with_a_bad_number_is_said_at_once(
    chromium: Any, desk_server: LiveServer, reader: FakeCardReader
) -> None:
    reader.card = {"name": "吴静", "sex": "女", "idNumber": wrong_check_digit(resident_id(23))}
    page = nurse_page(chromium, desk_server)
    page.goto("/staff/desk")
    page.get_by_role("button", name="读取身份证").click()
    status = page.locator("#card-status")
    page.get_by_text("已读取，但").wait_for()
    assert "校验位" in status.inner_text()
    page.context.close()
