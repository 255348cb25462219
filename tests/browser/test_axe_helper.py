"""The shared checks of tests/browser/axe.py find what they claim to find: axe-core reports an
unlabelled input and grey-on-white text as serious, a clean page as nothing; the page weight
counts the stylesheet a page loads as well as the document, and never a font."""

from __future__ import annotations

from typing import Any

from tests.browser.axe import describe, first_load_bytes, serious_violations
from tests.browser.conftest import LiveServer

BAD = """<!doctype html><html lang="zh-CN"><head><title>坏页面</title></head><body><main>
<h1>坏页面</h1><p style="color:#bbb;background:#fff">浅灰色的字</p><input type="text">
</main></body></html>"""
GOOD = """<!doctype html><html lang="zh-CN"><head><title>好页面</title></head><body><main>
<h1>好页面</h1><p>黑色的字</p><label for="x">手机号</label><input id="x" type="text">
</main></body></html>"""


def test_axe_reports_a_missing_label_and_low_contrast_as_serious(page: Any) -> None:
    page.set_content(BAD)
    found = {violation["id"] for violation in serious_violations(page)}
    assert {"label", "color-contrast"} <= found


def test_axe_finds_nothing_serious_on_a_clean_page(page: Any) -> None:
    page.set_content(GOOD)
    violations = serious_violations(page)
    assert violations == [], describe(violations)


def test_page_weight_counts_the_document_and_its_stylesheet(page: Any, live_server: LiveServer) -> None:
    document = page.request.get(f"{live_server.url}/h5/sign-in?hospital=a")
    assert document.ok
    weight = first_load_bytes(page, "/h5/sign-in?hospital=a")
    stylesheet = page.request.get(f"{live_server.url}/static/h5/h5.css").body()
    assert weight > len(document.body()) + len(stylesheet)
