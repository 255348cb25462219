"""A clinician's change from the editor page to a published version, in a real Chromium.

A content author opens the scarred-uterus pathway, breaks a value and sees it underlined at
its line, changes the symptom check to start at 26+1 instead of 24+1, saves (Ctrl-S), and
submits; a second author saving a stale revision is told who saved and when and loses
nothing; the author cannot approve her own change; a reviewer reads the YAML diff, approves
with a comment and publishes (enrolled women stay on their version); the new version is the
active one. Hospital ``a``'s scarred-uterus and hypertension pathways are used by no other
browser test, so the shared live server's other tests still see the shipped texts.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from carepath.store import pathways
from tests.browser.conftest import LiveServer, log_in
from tests.browser.test_editor import MARKS_JS, put_cursor, wait_checked
from tests.browser.test_review_flow import _api

ROOT = Path(__file__).resolve().parents[2]
PATHWAY = "scarred-uterus"
OLD, NEW = '{gestational_age: "24+1"}', '{gestational_age: "26+1"}'
TEXT_JS = "window.carepathEditor.view.state.doc.toString()"


def _open(page: Any, name: str, *, checked: bool = True) -> None:
    page.set_viewport_size({"width": 1400, "height": 900})
    page.goto(f"/editor/pathway/{name}")
    page.wait_for_selector(".cm-content")
    if checked:  # a read-only page is not checked
        wait_checked(page, "clean")


def _saved(page: Any) -> None:
    page.wait_for_function("() => document.getElementById('save-state').dataset.state === 'saved'")


def _badge(page: Any) -> str:
    return str(page.locator("#document-status").get_attribute("data-status"))


def test_author_changes_a_pathway_in_the_editor_and_a_reviewer_publishes_it(
    login_as: Callable[..., Any], live_server: LiveServer
) -> None:
    shipped = (ROOT / "carepath" / "pathways" / f"{PATHWAY}.yaml").read_text(encoding="utf-8")
    line = next(n for n, text in enumerate(shipped.splitlines(), 1) if OLD in text)

    # she may review others' changes too: only the own-change rule keeps her from approving
    author = login_as("content_author", "reviewer")
    errors: list[str] = []
    author.on("pageerror", lambda error: errors.append(str(error)))
    _open(author, PATHWAY)
    assert _badge(author) == "shipped"

    # a typo is underlined at its line; fixed, and the week changed from 24+1 to 26+1
    assert put_cursor(author, OLD, len(OLD) - 2) == line  # just before the closing quote
    author.keyboard.press("Backspace")
    author.keyboard.type("x")  # "24+x"
    author.wait_for_selector(".cm-lintRange-error")
    assert [mark["line"] for mark in author.evaluate(MARKS_JS)] == [line]
    author.keyboard.press("Backspace")
    author.keyboard.type("1")
    put_cursor(author, OLD, len('{gestational_age: "24'))
    author.keyboard.press("Backspace")
    author.keyboard.type("6")
    wait_checked(author, "clean")
    assert NEW in author.evaluate(TEXT_JS)
    author.keyboard.press("Control+s")
    _saved(author)
    assert _badge(author) == "draft"
    assert author.locator(".cp-library a[aria-current=page] .cp-status").inner_text() == "草稿"

    # a second author opens the draft, the first saves again, the second's save is stale
    second = login_as("content_author")
    _open(second, PATHWAY)
    assert NEW in second.evaluate(TEXT_JS) and _badge(second) == "draft"
    put_cursor(second, NEW, len(NEW))
    second.keyboard.press("End")
    second.keyboard.type("  # 第二位作者的修改")
    put_cursor(author, NEW, len(NEW))
    author.keyboard.press("End")
    author.keyboard.type("  # 第26周起")
    author.locator("#save").click()
    _saved(author)
    second.locator("#save").click()
    notice = second.locator("#editor-notice-text")
    notice.wait_for()
    assert author.account.username in notice.inner_text() and "没有丢失" in notice.inner_text()
    assert "# 第二位作者的修改" in second.evaluate(TEXT_JS)  # nothing lost
    kept = second.evaluate("(key) => localStorage.getItem(key)", _storage_key(second))
    assert kept is not None and "# 第二位作者的修改" in kept
    second.locator("#conflict-theirs").click()
    second.wait_for_function("() => window.carepathEditor.view.state.doc.toString().includes('第26周起')")
    assert "# 第二位作者的修改" not in second.evaluate(TEXT_JS)
    assert "# 第二位作者的修改" in second.locator("#kept-text").input_value()

    # submitting a draft with an error lists the located errors; fixed, it goes to review
    put_cursor(author, NEW, len(NEW) - 2)
    author.keyboard.type("x")  # "26+1x"
    author.wait_for_selector(".cm-lintRange-error")
    author.locator("#submit-review").click()
    author.locator("#editor-notice-list li").first.wait_for()
    assert f"第 {line} 行" in author.locator("#editor-notice-list").inner_text()
    put_cursor(author, "26+1x", len("26+1x"))  # the button has the focus now
    author.keyboard.press("Backspace")
    wait_checked(author, "clean")
    author.locator("#submit-review").click()
    author.wait_for_function(
        "() => document.getElementById('document-status').dataset.status === 'in_review'"
    )
    assert author.locator("#document-status").inner_text() == "审核中"
    assert author.evaluate("window.carepathEditor.view.state.readOnly")
    version_id = author.evaluate("window.carepathEditor.workflow.versionId")
    author.locator("#review-link").click()
    author.wait_for_url(f"{live_server.url}/editor/review/{version_id}")
    assert author.locator("#own-change").is_visible() and author.locator("#approve").count() == 0
    own = _api(
        author, "POST", f"/editor/api/versions/{version_id}/reviews", {"decision": "approve", "comment": ""}
    )
    assert own["status"] == 403 and own["body"]["code"] == "own-change"
    author.goto(f"/editor/pathway/{PATHWAY}")  # in review: read only, with the link to it
    author.wait_for_selector(".cm-content")
    assert author.locator("#in-review-note").is_visible() and author.locator("#save").is_disabled()

    reviewer = login_as("reviewer")
    reviewer.goto("/editor/review")
    reviewer.locator(f"tr[data-version='{version_id}'] a").click()
    reviewer.wait_for_url(f"{live_server.url}/editor/review/{version_id}")
    added = reviewer.locator("pre.diff .d-add").all_inner_texts()
    assert any(NEW in text for text in added), added
    assert any(OLD in text for text in reviewer.locator("pre.diff .d-del").all_inner_texts())
    reviewer.locator("#comment").fill("症状随访从26+1周开始，同意。")
    reviewer.locator("#approve").click()
    reviewer.wait_for_selector("#publish-form")
    reviewer.locator("#publish-form input[name=migrate][value=no]").check()  # stay pinned
    reviewer.locator("#publish").click()
    reviewer.wait_for_selector("#version-status.status-published")

    with live_server.app.extensions["carepath.db"].reading() as session:
        current = pathways.library_for(session, "a", fresh=True).current[PATHWAY]
    published = _api(reviewer, "GET", f"/editor/api/versions/{version_id}")["body"]
    assert published["engine_version"] == current.version
    reviewer.goto(f"/editor/history/pathway/{PATHWAY}")
    assert reviewer.locator(f"tr[data-version='{version_id}'] .current").count() == 1
    assert "症状随访从26+1周开始" in reviewer.locator("#versions-table").inner_text()
    _open(reviewer, PATHWAY, checked=False)  # a reviewer reads, does not edit
    assert _badge(reviewer) == "published" and NEW in reviewer.evaluate(TEXT_JS)
    assert reviewer.locator(".cp-library a[aria-current=page] .cp-status").inner_text() == "已发布"
    assert errors == []


def _storage_key(page: Any) -> str:
    return str(page.locator("#editor").get_attribute("data-storage-key"))


def test_a_session_that_expired_while_typing_saves_after_logging_in_again(
    login_as: Callable[..., Any], live_server: LiveServer
) -> None:
    author = login_as("content_author")
    _open(author, "hypertension")
    put_cursor(author, "title:", 0)
    author.keyboard.type("# 会话过期前的修改\n")
    live_server.clock.advance(minutes=31)  # past the idle limit
    author.locator("#save").click()
    author.wait_for_function("() => document.getElementById('editor-notice').dataset.kind === 'expired'")
    assert "登录已过期" in author.locator("#editor-notice-text").inner_text()
    assert "# 会话过期前的修改" in author.evaluate(TEXT_JS)

    # she logs in again in another tab; Save in the first one then works (a fresh CSRF token)
    other = author.context.new_page()
    log_in(other, author.account.username, author.account.password)
    other.wait_for_url(f"{live_server.url}/")
    author.bring_to_front()  # back to the editor's tab (a background tab gets no typed text)
    author.locator("#save").click()
    _saved(author)
    assert author.evaluate("(key) => localStorage.getItem(key)", _storage_key(author)) is None

    # text typed and not saved comes back when she opens the file again
    put_cursor(author, "title:", 0)  # she clicks back into the text
    author.keyboard.type("# 未保存的修改\n")
    author.wait_for_function("(key) => localStorage.getItem(key) !== null", arg=_storage_key(author))
    author.reload()
    author.wait_for_selector(".cm-content")
    author.locator("#editor-notice-text").wait_for()
    assert "已从本浏览器恢复" in author.locator("#editor-notice-text").inner_text()
    assert "# 未保存的修改" in author.evaluate(TEXT_JS)
    author.keyboard.press("Control+s")
    _saved(author)
    author.reload()
    author.wait_for_selector(".cm-content")
    assert "# 未保存的修改" in author.evaluate(TEXT_JS)  # from the server's draft now
    assert author.locator("#editor-notice").is_hidden()
