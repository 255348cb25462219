"""The content item's preview panel in real Chromium: the lock-screen summary, the SMS and the
full text follow what she types, and HTML typed into the body stays text."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from carepath.delivery.rendering import NEUTRAL_SUMMARY
from tests.browser.test_editor import editor_page, open_file, put_cursor  # noqa: F401  (fixture)


def text_of(page: Any, selector: str) -> str:
    return str(page.locator(selector).text_content())


def wait_text(page: Any, selector: str, needle: str) -> None:
    page.wait_for_function(
        "([selector, needle]) => (document.querySelector(selector)?.textContent || '').includes(needle)",
        arg=[selector, needle],
    )


def test_the_panel_follows_the_summary_and_the_body_as_she_types(editor_page: Any) -> None:  # noqa: F811
    page = editor_page
    open_file(page, "content", "anaemia")
    wait_text(page, "#preview-wechat-text", "您有一篇新的健康课程，点开看看吧。")
    assert text_of(page, "#preview-sms-text") == "您有一篇新的健康课程，点开看看吧。"
    assert text_of(page, "#preview-title") == "孕期贫血"
    assert page.locator("#preview-body h2").first.text_content() == "这是什么"
    assert page.locator("#preview-refused").is_hidden()

    # a neutral change to the summary: WeChat and SMS show it
    put_cursor(page, "点开看看吧。", len("点开看看吧。"))
    page.keyboard.insert_text("本周更新")
    wait_text(page, "#preview-wechat-text", "点开看看吧。本周更新")
    wait_text(page, "#preview-sms-text", "点开看看吧。本周更新")

    # a summary that names the condition: refused, with the lint's code, the neutral one shown
    page.keyboard.insert_text("贫血")
    page.wait_for_selector("#preview-refused", state="visible")
    assert text_of(page, "#preview-refused-code") == "sensitive-summary"
    assert "贫血" in text_of(page, "#preview-refused-own")
    assert text_of(page, "#preview-wechat-text") == NEUTRAL_SUMMARY
    assert text_of(page, "#preview-sms-text") == NEUTRAL_SUMMARY
    page.keyboard.press("Backspace")
    page.keyboard.press("Backspace")
    page.wait_for_selector("#preview-refused", state="hidden")

    # the body: Markdown is rendered, HTML she typed is shown as text and never runs
    page.evaluate("() => { window.pwned = undefined; }")
    put_cursor(page, "其他[危险信号](content:danger-signs)。", len("其他[危险信号](content:danger-signs)。"))
    page.keyboard.press("Enter")
    page.keyboard.press("Enter")
    page.keyboard.type("<img src=x onerror=window.pwned=1> <script>window.pwned=2</script> ")
    page.keyboard.insert_text("**记得复查**")
    wait_text(page, "#preview-body", "记得复查")
    body = page.locator("#preview-body")
    assert body.locator("strong", has_text="记得复查").count() == 1
    assert "<img src=x onerror=window.pwned=1>" in str(body.text_content())
    assert body.locator("img, script").count() == 0
    assert page.locator("#content-preview [onerror], #content-preview img").count() == 0
    page.wait_for_timeout(300)
    assert page.evaluate("() => window.pwned") is None


def test_an_error_keeps_the_last_preview_and_says_why(editor_page: Any) -> None:  # noqa: F811
    page = editor_page
    open_file(page, "content", "anaemia")
    wait_text(page, "#preview-title", "孕期贫血")
    put_cursor(page, "## 这是什么", 0)
    page.keyboard.insert_text("{{ diagnosis }}\n\n")
    page.wait_for_function("() => document.getElementById('content-preview').dataset.state === 'blocked'")
    assert text_of(page, "#preview-title") == "孕期贫血"
    assert page.locator("#preview-state").is_visible()


def test_a_reader_sees_the_preview_of_a_read_only_item(login_as: Callable[..., Any]) -> None:
    page = login_as("doctor")
    page.set_viewport_size({"width": 1400, "height": 900})
    page.goto("/editor/content/anaemia")
    wait_text(page, "#preview-title", "孕期贫血")
    wait_text(page, "#preview-wechat-text", "您有一篇新的健康课程")


def test_pathways_and_forms_have_no_preview_panel(editor_page: Any) -> None:  # noqa: F811
    page = editor_page
    open_file(page, "pathway", "cholestasis")
    assert page.locator("#content-preview").count() == 0
