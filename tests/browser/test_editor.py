"""The editor in real Chromium: live diagnostics underlined where she typed, completion from
the schema, and a keystroke in a 300-line pathway underlined at its line (how long that takes:
bench/editor_browser.py)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.webapi.editor.long_pathway import last_from_line, long_pathway

ROOT = Path(__file__).resolve().parents[2]

# The same lines the page script uses to find what CodeMirror drew; a diagnostic element is
# mapped back to its document line with the view's own posAtDOM.
MARKS_JS = """() => {
  const view = window.carepathEditor.view;
  return Array.from(view.contentDOM.querySelectorAll('.cm-lintRange-error')).map((el) => ({
    line: view.state.doc.lineAt(view.posAtDOM(el)).number,
    text: el.textContent,
  }));
}"""


def wait_checked(page: Any, state: str) -> None:
    page.wait_for_function(
        "(state) => document.getElementById('editor-status').dataset.state === state", arg=state
    )


def put_cursor(page: Any, needle: str, offset: int = 0, *, last: bool = False) -> int:
    """Put the cursor ``offset`` characters after ``needle`` (its first or last occurrence);
    returns the line. The typing that follows is real key presses."""
    return page.evaluate(
        """([needle, offset, last]) => {
          const view = window.carepathEditor.view;
          const text = view.state.doc.toString();
          const at = (last ? text.lastIndexOf(needle) : text.indexOf(needle)) + offset;
          view.dispatch({ selection: { anchor: at }, scrollIntoView: true });
          view.focus();
          return view.state.doc.lineAt(at).number;
        }""",
        [needle, offset, last],
    )


@pytest.fixture
def editor_page(login_as: Callable[..., Any]) -> Iterator[Any]:
    """A content author's page (logged in through the login form), wide enough for the editor;
    the test fails on any script error the page raised."""
    page = login_as("content_author")
    page.set_viewport_size({"width": 1400, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    assert errors == []


def open_file(page: Any, kind: str, name: str) -> None:
    page.goto(f"/editor/{kind}/{name}")
    page.wait_for_selector(".cm-content")
    wait_checked(page, "clean")


def test_an_error_is_underlined_at_its_line_with_message_and_hint_and_goes_away_when_fixed(
    editor_page: Any,
) -> None:
    page = editor_page
    open_file(page, "pathway", "cholestasis")
    assert page.evaluate(MARKS_JS) == []
    source = (ROOT / "carepath" / "pathways" / "cholestasis.yaml").read_text(encoding="utf-8")
    expected_line = next(n for n, line in enumerate(source.splitlines(), 1) if "enrolled: 2w" in line)

    line = put_cursor(page, "enrolled: 2w", len("enrolled: 2w"))
    assert line == expected_line
    page.keyboard.press("Backspace")
    page.keyboard.type("x")  # from: {enrolled: 2x}
    page.wait_for_selector(".cm-lintRange-error")
    wait_checked(page, "problems")
    assert page.evaluate(MARKS_JS) == [{"line": expected_line, "text": "2x"}]
    assert page.locator(".cm-gutter-lint .cm-lint-marker-error").count() == 1
    assert "1" in page.inner_text("#editor-status")

    page.locator(".cm-lintRange-error").first.hover()
    tooltip = page.locator(".cm-tooltip-lint")
    tooltip.wait_for()
    assert "bad-duration" in tooltip.inner_text()
    assert "'2x'" in tooltip.inner_text()

    page.keyboard.press("Backspace")
    page.keyboard.type("w")
    wait_checked(page, "clean")
    assert page.evaluate(MARKS_JS) == []
    assert page.locator(".cm-gutter-lint .cm-lint-marker-error").count() == 0


def test_a_bad_duration_is_explained_in_chinese_in_the_chinese_ui(editor_page: Any) -> None:
    page = editor_page
    open_file(page, "pathway", "cholestasis")
    assert page.get_attribute("html", "lang") == "zh-CN"  # the staff UI's default language
    put_cursor(page, "interval: 2w", len("interval: 2w"))
    page.keyboard.press("Backspace")
    page.keyboard.type("dx")  # every: {interval: 2dx, ...}
    page.locator(".cm-lintRange-error", has_text="2dx").first.hover()
    tooltip = page.locator(".cm-tooltip-lint")
    tooltip.wait_for()
    said = tooltip.inner_text()
    assert "bad-duration" in said and "文本 '2dx' 的写法不对" in said and "写数字加单位" in said
    assert "is not valid" not in said


def test_broken_indentation_is_underlined_near_the_rule(editor_page: Any) -> None:
    page = editor_page
    open_file(page, "pathway", "cholestasis")
    line = put_cursor(page, "  - id:", 0, last=True)
    page.keyboard.type(" ")
    page.wait_for_selector(".cm-lintRange-error")
    marks = page.evaluate(MARKS_JS)
    assert marks and line <= marks[0]["line"] <= line + 1
    page.keyboard.press("Backspace")
    wait_checked(page, "clean")


def test_a_misspelt_key_shows_the_suggestion_as_a_hint(editor_page: Any) -> None:
    page = editor_page
    open_file(page, "pathway", "cholestasis")
    put_cursor(page, "every:", 2)
    page.keyboard.press("Delete")  # every -> evry
    page.wait_for_selector(".cm-lintRange-error")
    page.locator(".cm-lintRange-error", has_text="evry").first.hover()
    hint = page.locator(".cm-tooltip-lint .cp-hint")
    hint.wait_for()
    assert "'every'" in hint.inner_text()


def test_key_completion_offers_the_schema_keys(editor_page: Any) -> None:
    page = editor_page
    open_file(page, "pathway", "cholestasis")
    put_cursor(page, "on: enrolled", len("on: enrolled"))
    page.keyboard.press("Enter")
    page.keyboard.type("catc")
    options = page.locator(".cm-tooltip-autocomplete li")
    options.first.wait_for()
    labels = options.all_inner_texts()
    assert any(label.startswith("catch_up") for label in labels), labels


def test_a_content_item_is_checked_by_the_content_lint(editor_page: Any) -> None:
    page = editor_page
    open_file(page, "content", "anaemia")
    line = put_cursor(page, "summary: ", len("summary: "))
    page.keyboard.type("贫血")
    page.wait_for_selector(".cm-lintRange-error")
    assert [mark["line"] for mark in page.evaluate(MARKS_JS)] == [line]
    page.locator(".cm-lintRange-error").first.hover()
    assert "sensitive-summary" in page.locator(".cm-tooltip-lint").inner_text()


def test_a_session_that_expired_while_typing_keeps_the_text_and_says_so(
    editor_page: Any, live_server: Any
) -> None:
    page = editor_page
    open_file(page, "pathway", "cholestasis")
    live_server.clock.advance(minutes=31)  # past the idle limit
    put_cursor(page, "enrolled: 2w", len("enrolled: 2w"))
    page.keyboard.type(" # 改动")
    wait_checked(page, "offline")
    assert "登录已过期" in page.inner_text("#editor-status")
    assert "enrolled: 2w # 改动" in page.evaluate("window.carepathEditor.view.state.doc.toString()")


def test_a_huge_paste_is_one_clear_diagnostic_and_never_sent(editor_page: Any) -> None:
    page = editor_page
    open_file(page, "pathway", "gdm")
    posts: list[int] = []
    page.on("request", lambda request: posts.append(len(request.post_data_buffer or b"")))
    page.evaluate(
        """() => {
          const view = window.carepathEditor.view;
          view.dispatch({ changes: { from: 0, insert: "# " + "很长".repeat(200000) + "\\n" } });
        }"""
    )
    page.wait_for_selector(".cm-lintRange-error")
    wait_checked(page, "problems")
    assert [mark["line"] for mark in page.evaluate(MARKS_JS)] == [1]
    page.locator(".cm-lintRange-error").first.hover()
    assert "file-too-large" in page.locator(".cm-tooltip-lint").inner_text()
    assert all(size < 1_000_000 for size in posts)


def test_each_keystroke_in_a_300_line_pathway_is_underlined_at_its_line_and_cleared(editor_page: Any) -> None:
    """The round trip's behaviour; its time is bench/editor_browser.py's (``make bench``)."""
    page = editor_page
    open_file(page, "pathway", "gdm")
    text = long_pathway(300)
    page.evaluate(
        """(text) => {
          const view = window.carepathEditor.view;
          view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: text } });
        }""",
        text,
    )
    wait_checked(page, "clean")
    for _ in range(3):
        line = put_cursor(page, "from: {gestational_age", len("from: {gestational_age"), last=True)
        assert line == last_from_line(text)
        page.keyboard.type("x")  # gestational_agex: an unknown key
        page.wait_for_selector(".cm-lintRange-error")
        wait_checked(page, "problems")
        assert [mark["line"] for mark in page.evaluate(MARKS_JS)] == [line]
        page.keyboard.press("Backspace")
        wait_checked(page, "clean")
        page.wait_for_function("() => !document.querySelector('.cm-lintRange-error')")


def test_screenshot_of_the_editor_for_the_readme(editor_page: Any, tmp_path: Path) -> None:
    """Taken on every run; written to docs/editor.png only with CAREPATH_UPDATE_SCREENSHOTS=1,
    so that a test run leaves the checkout as it found it."""
    page = editor_page
    open_file(page, "pathway", "cholestasis")
    put_cursor(page, "enrolled: 2w", len("enrolled: 2w"))
    page.keyboard.press("Backspace")
    page.keyboard.type("x")
    page.wait_for_selector(".cm-lintRange-error")
    page.locator(".cm-lintRange-error").first.hover()
    page.locator(".cm-tooltip-lint").wait_for()
    update = os.environ.get("CAREPATH_UPDATE_SCREENSHOTS") == "1"
    target = ROOT / "docs" / "editor.png" if update else tmp_path / "editor.png"
    page.screenshot(path=str(target))
    assert target.stat().st_size > 20_000


def test_a_doctor_reads_the_source_but_cannot_change_it(login_as: Callable[..., Any]) -> None:
    page = login_as("doctor")
    page.goto("/editor/pathway/gdm")
    page.wait_for_selector(".cm-content")
    assert "只读" in page.inner_text(".cp-file-header")
    before = page.evaluate("window.carepathEditor.view.state.doc.toString()")
    page.locator(".cm-content").click()
    page.keyboard.type("xyz")
    assert page.evaluate("window.carepathEditor.view.state.doc.toString()") == before
    assert page.locator(".cm-lintRange").count() == 0
