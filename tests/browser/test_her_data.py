"""Her data page (我的数据) in Chromium at a phone's size (390×844): she downloads her data and it
holds her answers and nothing of another woman; with JavaScript off she stops SMS on the page
and the consent is withdrawn. The page fits the phone, its targets are thumb-sized and its
first load is light."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from tests.browser.axe import describe, serious_violations
from tests.browser.conftest import TIMEOUT_MS, LiveServer
from tests.webapi.h5.conftest import her_cookie
from tests.webapi.h5.test_my_data import answer

PHONE_SIZE = {"width": 390, "height": 844}
#: Her page's first load, fonts aside (issue 19's quality bar).
PAGE_BUDGET = 150 * 1024
_numbers = iter(range(700, 800))


def a_woman(server: LiveServer, phone: str, notes: str) -> int:
    """A woman of hospital ``a`` who consented to SMS, with a BP log; her patient id."""
    from tests.delivery.conftest import add_pregnancy

    app = server.app
    n = next(_numbers)
    patient, _ = add_pregnancy(
        app.extensions["carepath.db"], app.extensions["carepath.cipher"], n, channels=("sms_tencent",),
        phone=phone, hospital="a",
    )  # fmt: skip
    answer(app, patient, notes)
    return patient


@pytest.fixture
def her_page(chromium: Any, live_server: LiveServer) -> Iterator[Callable[..., Any]]:
    """A phone-sized page signed in as ``patient`` (her session row and her signed cookie)."""
    from carepath.store import patient_sessions

    contexts: list[Any] = []

    def make(patient: int, *, javascript: bool = True) -> Any:
        app = live_server.app
        token = patient_sessions.start(
            app.extensions["carepath.db"], patient, "a", "demo", app.config["CLOCK"]()
        )
        context = chromium.new_context(
            base_url=live_server.url, locale="zh-CN", viewport=PHONE_SIZE, accept_downloads=True,
            java_script_enabled=javascript,
        )  # fmt: skip
        context.set_default_timeout(TIMEOUT_MS)
        cookie = her_cookie(app, {"her": token})
        name = app.config["H5_SESSION_COOKIE_NAME"]
        # Path /h5, as the app sets it: the app's next cookie then replaces this one
        context.add_cookies([{"name": name, "value": cookie, "domain": "127.0.0.1", "path": "/h5"}])
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


def small_targets(page: Any) -> list[str]:
    """Visible links, buttons and fields shorter than 44 px (a radio counts by its label)."""
    return list(
        page.evaluate(
            """() => [...document.querySelectorAll('a, button, input:not([type=hidden]), textarea, select, label.choice')]
                .filter(e => e.offsetParent !== null && !(e.type === 'radio'))
                .filter(e => e.getBoundingClientRect().height < 44)
                .map(e => e.outerHTML.slice(0, 80))"""
        )
    )


def test_she_downloads_her_data_and_stops_sms_without_javascript(
    live_server: LiveServer, her_page: Callable[..., Any], tmp_path: Path
) -> None:
    from carepath.store.models import Consent

    her = a_woman(live_server, "13900000701", "她的备注：晚上脚肿")
    a_woman(live_server, "13900000702", "另一位的备注：不可外传")
    page = her_page(her)
    loaded: list[int] = []
    page.on("requestfinished", lambda request: loaded.append(request.sizes()["responseBodySize"]))
    page.goto("/h5/my-data")
    page.get_by_role("heading", name="我的数据", level=1).wait_for()
    assert sum(loaded) <= PAGE_BUDGET, sum(loaded)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert small_targets(page) == []
    assert page.get_by_label("更换手机号（新号码）").is_visible()
    assert (found := serious_violations(page)) == [], describe(found)  # labels, contrast (axe-core)
    assert "她的备注：晚上脚肿" in page.content() and "另一位的备注" not in page.content()
    page.set_viewport_size({"width": 360, "height": 640})  # the smaller phone: nothing wider
    for path in ("/h5/my-data", "/h5/my-data/print"):
        page.goto(path)
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), path
        assert (found := serious_violations(page)) == [], describe(found)
    page.set_viewport_size(PHONE_SIZE)
    page.goto("/h5/my-data")

    with page.expect_download() as download:
        page.get_by_role("link", name="下载我的数据（JSON 文件）").click()
    saved = tmp_path / "my-data.json"
    download.value.save_as(saved)
    data = json.loads(saved.read_text(encoding="utf-8"))
    notes = [a["answer"] for r in data["answers"] for a in r["answers"] if a["item"] == "notes"]
    assert notes == ["她的备注：晚上脚肿"]
    text = saved.read_text(encoding="utf-8")
    assert "另一位的备注" not in text and "13900000702" not in text

    plain = her_page(her, javascript=False)  # a WebView whose scripts fail: plain forms still work
    plain.goto("/h5/my-data")
    plain.get_by_role("button", name="停止通过短信通知我").click()
    plain.get_by_text("已停止通过短信给您发消息").wait_for()
    plain.get_by_role("button", name="恢复通过短信通知我").wait_for()
    with live_server.app.extensions["carepath.db"].reading() as session:
        sms = session.scalars(
            select(Consent).where(Consent.patient_id == her, Consent.channel == "sms_tencent")
        ).all()
    assert [row.withdrawn_at is not None for row in sms] == [True]
