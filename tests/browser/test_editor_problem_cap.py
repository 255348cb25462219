"""A buffer with more problems than the server lists (200): the status line counts them all
and says how many were not listed."""

from __future__ import annotations

from typing import Any

from tests.browser.test_editor import editor_page, open_file, wait_checked

__all__ = ["editor_page"]  # the fixture, used by name

DUPLICATES = 1_000  # one duplicate-key error per line after the first


def test_the_status_counts_every_problem_and_says_how_many_are_not_listed(editor_page: Any) -> None:
    page = editor_page
    open_file(page, "pathway", "cholestasis")
    page.evaluate(
        """(text) => {
          const view = window.carepathEditor.view;
          view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: text } });
        }""",
        "pathway: cholestasis\n" + "title: t\n" * DUPLICATES,
    )
    wait_checked(page, "problems")
    status = page.inner_text("#editor-status")
    assert f"{DUPLICATES - 1}" in status  # every duplicate counted, not the 200 listed
    assert f"{DUPLICATES - 1 - 200}" in status  # "…另有 799 个问题未列出"
