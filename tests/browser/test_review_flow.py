"""The review workflow in a real Chromium: an author changes a pathway through the editor's
JSON API and submits it, a reviewer logs in, reads the diff, approves, publishes (choosing
that enrolled women stay on their version), and the new version is the one new enrolments
take. Hospital ``b`` and the ``cholestasis`` pathway keep it apart from the editor's tests."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from carepath.store import pathways
from tests.browser.conftest import LiveServer

CHANGED = "questionnaire: {form: icp-itching, due: 2d}"


def _api(page: Any, method: str, path: str, body: Any = None, *, csrf: bool = True) -> Any:
    """A fetch from the page, with the CSRF token of its <meta>, as the editor page sends it."""
    return page.evaluate(
        """async ([method, path, body, csrf]) => {
            const headers = {'Content-Type': 'application/json'};
            if (csrf) headers['X-CSRFToken'] = document.querySelector('meta[name=csrf-token]').content;
            const r = await fetch(path, {method, headers, body: body === null ? undefined : JSON.stringify(body)});
            return {status: r.status, body: await r.json()};
        }""",
        [method, path, body, csrf],
    )


def test_author_submits_reviewer_approves_and_publishes_and_the_new_version_is_active(
    login_as: Callable[..., Any], live_server: LiveServer
) -> None:
    author = login_as("content_author", hospital="b")
    refused = _api(author, "POST", "/editor/api/documents/pathway/cholestasis/draft", csrf=False)
    assert refused["status"] in (400, 403)  # no CSRF token, no draft
    opened = _api(author, "POST", "/editor/api/documents/pathway/cholestasis/draft")
    assert opened["status"] in (200, 201), opened
    draft = opened["body"]
    source = _api(author, "GET", f"/editor/api/versions/{draft['id']}")["body"]["source"]
    changed = source.replace("questionnaire: {form: icp-itching, due: 1d}", CHANGED)
    assert changed != source
    saved = _api(
        author,
        "PUT",
        f"/editor/api/versions/{draft['id']}/source",
        {"source": changed, "base_revision": draft["revision"]},
    )
    assert saved["status"] == 200, saved
    assert _api(author, "POST", f"/editor/api/versions/{draft['id']}/submit", {})["status"] == 200
    author.goto(f"/editor/review/{draft['id']}")
    assert author.locator("#own-change").is_visible()  # the author sees no approve button
    assert author.locator("#approve").count() == 0

    reviewer = login_as("reviewer", hospital="b")
    reviewer.goto("/editor/review")
    reviewer.locator(f"tr[data-version='{draft['id']}'] a").click()
    reviewer.wait_for_url(f"{live_server.url}/editor/review/{draft['id']}")
    added = reviewer.locator("pre.diff .d-add").all_inner_texts()
    assert any(CHANGED in line for line in added), added
    reviewer.locator("#comment").fill("随访问卷改为2天内完成，同意。")
    if os.environ.get("CAREPATH_SCREENSHOTS"):  # docs/review.png for docs/editor.md, on request
        reviewer.screenshot(path=str(Path(os.environ["CAREPATH_SCREENSHOTS"]) / "review.png"), full_page=True)
    reviewer.locator("#approve").click()
    reviewer.wait_for_selector("#publish-form")
    assert reviewer.locator("#approvals").inner_text() == "1 / 1"
    reviewer.locator("#publish-form input[name=migrate][value=no]").check()
    reviewer.locator("#publish").click()
    reviewer.wait_for_selector("#version-status.status-published")

    with live_server.app.extensions["carepath.db"].reading() as session:
        current = pathways.library_for(session, "b", fresh=True).current["cholestasis"]
    published = _api(reviewer, "GET", f"/editor/api/versions/{draft['id']}")["body"]
    assert published["status"] == "published" and published["engine_version"] == current.version
    reviewer.goto("/editor/history/pathway/cholestasis")
    assert reviewer.locator(f"tr[data-version='{draft['id']}'] .current").count() == 1
    assert "随访问卷改为2天内完成" in reviewer.locator("#versions-table").inner_text()
