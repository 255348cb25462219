"""The editor's notice panel in real Chromium: the conflict buttons belong to a conflict only.

Hospital ``b``'s placenta-previa pathway is used by no other browser test, so the drafts saved
here change nothing another test reads."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.browser.test_editor import put_cursor, wait_checked

PATHWAY = "placenta-previa"
CONFLICT_BUTTONS = ("#conflict-copy", "#conflict-theirs", "#conflict-mine")


def _open(page: Any) -> None:
    page.set_viewport_size({"width": 1400, "height": 900})
    page.goto(f"/editor/pathway/{PATHWAY}")
    page.wait_for_selector(".cm-content")
    wait_checked(page, "clean")


def _shown_notice(page: Any, kind: str) -> None:
    page.wait_for_function(
        "(kind) => { const n = document.getElementById('editor-notice');"
        " return !n.hidden && n.dataset.kind === kind; }",
        arg=kind,
    )
    assert page.locator("#editor-notice-text").is_visible()


def _visible_buttons(page: Any) -> list[str]:
    return [button for button in CONFLICT_BUTTONS if page.locator(button).is_visible()]


def test_a_notice_that_is_not_a_conflict_shows_no_conflict_buttons(login_as: Callable[..., Any]) -> None:
    author = login_as("content_author", hospital="b")
    _open(author)
    key = author.locator("#editor").get_attribute("data-storage-key")
    put_cursor(author, "title:", 0)
    author.keyboard.type("# 未保存的修改\n")
    author.wait_for_function("(key) => localStorage.getItem(key) !== null", arg=key)
    author.reload()  # her unsaved text comes back, with a notice that says so
    author.wait_for_selector(".cm-content")
    _shown_notice(author, "info")
    assert "已从本浏览器恢复" in author.locator("#editor-notice-text").inner_text()
    assert _visible_buttons(author) == []
    assert author.locator("#conflict-actions").is_hidden()


def test_a_stale_save_shows_the_conflict_buttons(login_as: Callable[..., Any]) -> None:
    first, second = login_as("content_author", hospital="b"), login_as("content_author", hospital="b")
    _open(first)
    _open(second)
    for page, comment in ((first, "  # 第一位作者"), (second, "  # 第二位作者")):
        put_cursor(page, "title:", 0)
        page.keyboard.press("End")
        page.keyboard.type(comment)
    first.locator("#save").click()
    first.wait_for_function("() => document.getElementById('save-state').dataset.state === 'saved'")
    assert _visible_buttons(first) == []  # saved: no notice of a conflict
    second.locator("#save").click()
    _shown_notice(second, "conflict")
    assert _visible_buttons(second) == list(CONFLICT_BUTTONS)
