"""A buffer with thousands of problems: the editor's answers list at most 200 and count the
rest (60,000 duplicate keys made the compile answer 11 MB)."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask

from carepath.store.library_files import Shipped
from carepath.webapi.common.problems import MAX_PROBLEMS
from tests.webapi.conftest import EditorStaff, shipped_copy
from tests.webapi.editor.test_views import Staff, logged_in
from tests.webapi.test_editor_api import DRAFT, GDM

#: 60,000 lines, each a duplicate of the first key: one duplicate-key problem per line after it.
DUPLICATES = 60_000
FLOOD = "pathway: p\n" + "title: t\n" * DUPLICATES


@pytest.fixture
def author(app: Flask) -> Staff:
    return logged_in(app, "author", "content_author")


def test_compile_lists_200_problems_and_counts_the_rest(author: Staff) -> None:
    response = author.compile({"kind": "pathway", "text": FLOOD})
    assert response.status_code == 200
    body = response.get_json()
    assert len(body["diagnostics"]) == MAX_PROBLEMS
    assert body["more"] > 0
    assert body["errors"] + body["warnings"] == MAX_PROBLEMS + body["more"]  # every problem counted
    assert body["errors"] >= DUPLICATES - 1
    assert len(response.get_data()) < 100_000  # was 11 MB


def test_a_clean_buffer_has_no_more(author: Staff) -> None:
    body = author.compile({"kind": "pathway", "text": GDM}).get_json()
    assert body["more"] == 0


@pytest.fixture
def shipped(app: Flask, tmp_path: Path) -> Shipped:
    return shipped_copy(app, tmp_path, {"gdm-example": GDM})


def test_check_and_a_refused_submit_list_200_problems_and_count_the_rest(
    app: Flask, shipped: Shipped
) -> None:
    editor = EditorStaff(app, "author2", "content_author")
    draft = editor.call("POST", DRAFT).get_json()
    flood = "pathway: gdm-example\n" + "title: t\n" * 20_000  # under the 256 KB a draft may hold
    saved = editor.call(
        "PUT",
        f"/editor/api/versions/{draft['id']}/source",
        {"source": flood, "base_revision": draft["revision"]},
    )
    assert saved.status_code == 200, saved.get_json()
    checked = editor.call("POST", f"/editor/api/versions/{draft['id']}/check").get_json()
    assert len(checked["errors"]) == MAX_PROBLEMS and checked["more"] == 19_999 - MAX_PROBLEMS
    refused = editor.call("POST", f"/editor/api/versions/{draft['id']}/submit", {})
    assert refused.status_code == 422
    problem = refused.get_json()
    assert problem["code"] == "not-compiled"
    assert len(problem["errors"]) == MAX_PROBLEMS and problem["more"] == checked["more"]
