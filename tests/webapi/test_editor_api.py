"""``/editor/api/`` and the review pages through the Flask test client, with real staff
logins, sessions and CSRF tokens."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from carepath.store.library_files import Shipped
from tests.conftest import ROOT
from tests.webapi.conftest import EditorStaff, StaffBrowser, make_staff, shipped_copy

GDM = (ROOT / "examples" / "pathways" / "gdm.yaml").read_text(encoding="utf-8")
DRAFT = "/editor/api/documents/pathway/gdm-example/draft"


@pytest.fixture
def shipped(app: Flask, tmp_path: Path) -> Shipped:
    return shipped_copy(app, tmp_path, {"gdm-example": GDM})


Staff = EditorStaff


@pytest.fixture
def author(app: Flask, shipped: Shipped) -> Staff:
    return Staff(app, "author", "content_author")


@pytest.fixture
def reviewer(app: Flask, shipped: Shipped) -> Staff:
    return Staff(app, "reviewer", "reviewer")


def _draft(author: Staff, source: str) -> dict[str, Any]:
    opened = author.call("POST", DRAFT)
    assert opened.status_code == 201, opened.get_json()
    draft = opened.get_json()
    saved = author.call(
        "PUT",
        f"/editor/api/versions/{draft['id']}/source",
        {"source": source, "base_revision": draft["revision"]},
    )
    assert saved.status_code == 200, saved.get_json()
    return {**draft, "revision": saved.get_json()["revision"]}


def test_a_stale_save_is_a_409_draft_conflict_that_returns_the_text(author: Staff, app: Flask) -> None:
    other = Staff(app, "author2", "content_author")
    draft = _draft(author, GDM.replace("due: 2d", "due: 3d"))
    mine = GDM.replace("due: 2d", "due: 9d")
    stale = other.call(
        "PUT",
        f"/editor/api/versions/{draft['id']}/source",
        {"source": mine, "base_revision": draft["revision"] - 1},
    )
    assert stale.status_code == 409 and stale.mimetype == "application/problem+json"
    body = stale.get_json()
    assert body["code"] == "draft-conflict" and body["your_source"] == mine
    assert body["current_revision"] == draft["revision"] and body["saved_by"]
    document = author.call("GET", "/editor/api/documents/pathway/gdm-example").get_json()
    assert "due: 3d" in document["source"] and document["status"] == "draft"
    assert document["version"]["revision"] == draft["revision"]


def test_a_draft_with_errors_gets_not_compiled_with_located_errors(author: Staff) -> None:
    draft = _draft(author, GDM.replace("push:", "shout:", 1))
    refused = author.call("POST", f"/editor/api/versions/{draft['id']}/submit", {})
    assert refused.status_code == 422
    body = refused.get_json()
    assert body["code"] == "not-compiled"
    assert [(e["code"], e["line"], e["column"]) for e in body["errors"]] == [("unknown-action", 17, 9)]


def test_review_and_publish_through_the_api(author: Staff, reviewer: Staff) -> None:
    draft = _draft(author, GDM.replace("due: 2d", "due: 3d"))
    assert author.call("POST", f"/editor/api/versions/{draft['id']}/submit", {}).status_code == 200
    own = author.call("POST", f"/editor/api/versions/{draft['id']}/reviews", {"decision": "approve"})
    assert own.status_code == 403 and own.get_json()["code"] in ("own-change", "not-allowed")
    early = reviewer.call("POST", f"/editor/api/versions/{draft['id']}/publish", {"migrate": False})
    assert early.status_code == 409 and early.get_json()["code"] == "not-approved"
    approved = reviewer.call(
        "POST", f"/editor/api/versions/{draft['id']}/reviews", {"decision": "approve", "comment": "可以"}
    )
    assert approved.status_code == 201 and approved.get_json()["approvals"] == 1
    unanswered = reviewer.call("POST", f"/editor/api/versions/{draft['id']}/publish", {})
    assert unanswered.status_code == 422 and unanswered.get_json()["errors"][0]["path"] == "migrate"
    published = reviewer.call("POST", f"/editor/api/versions/{draft['id']}/publish", {"migrate": False})
    assert published.status_code == 200 and published.get_json()["status"] == "published"
    listed = {(d["kind"], d["name"]): d for d in author.call("GET", "/editor/api/documents").get_json()}
    assert listed[("pathway", "gdm-example")]["status"] == "published"
    document = author.call("GET", "/editor/api/documents/pathway/gdm-example").get_json()
    assert [h["action"] for h in document["history"]] == [
        "copied",
        "drafted",
        "submitted",
        "approved",
        "published",
    ]


def test_the_author_who_is_also_a_reviewer_still_cannot_approve(app: Flask, shipped: Shipped) -> None:
    both = Staff(app, "both", "content_author", "reviewer")
    draft = _draft(both, GDM.replace("due: 2d", "due: 3d"))
    both.call("POST", f"/editor/api/versions/{draft['id']}/submit", {})
    own = both.call("POST", f"/editor/api/versions/{draft['id']}/reviews", {"decision": "approve"})
    assert own.status_code == 403 and own.get_json()["code"] == "own-change"


def test_a_request_without_the_csrf_header_or_the_permission_is_refused(app: Flask, author: Staff) -> None:
    no_token = author.call("POST", DRAFT, csrf=False)
    assert no_token.status_code in (400, 403)
    nurse = Staff(app, "nurse", "nurse")
    refused = nurse.call("POST", DRAFT)
    assert refused.status_code == 403 and refused.get_json()["code"] == "permission-denied"
    anonymous = app.test_client().get("/editor/api/documents")
    assert anonymous.status_code == 401 and anonymous.get_json()["code"] == "login-required"


def test_a_huge_paste_is_refused_and_nothing_is_saved(author: Staff) -> None:
    draft = author.call("POST", DRAFT).get_json()
    huge = author.call(
        "PUT", f"/editor/api/versions/{draft['id']}/source", {"source": "a" * 300_000, "base_revision": 1}
    )
    assert huge.status_code == 413 and huge.get_json()["code"] == "too-large"
    assert author.call("GET", f"/editor/api/versions/{draft['id']}").get_json()["source"] == GDM


def test_the_review_page_shows_the_escaped_diff_and_asks_migrate_or_stay(
    author: Staff, reviewer: Staff
) -> None:
    draft = _draft(author, GDM.replace("title: 妊娠期糖尿病管理", 'title: "<script>alert(1)</script>"'))
    author.call("POST", f"/editor/api/versions/{draft['id']}/submit", {})
    listing = reviewer.page("/editor/review")
    assert f'data-version="{draft["id"]}"' in listing
    page = reviewer.page(f"/editor/review/{draft['id']}")
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and 'class="d-add"' in page
    assert 'id="review-form"' in page and 'id="publish-form"' not in page
    decided = reviewer.form(
        f"/editor/review/{draft['id']}/decide",
        {"decision": "approve", "comment": "<b>好</b>"},
        page=f"/editor/review/{draft['id']}",
    )
    assert decided.status_code == 303
    page = reviewer.page(f"/editor/review/{draft['id']}")
    assert 'name="migrate" value="yes"' in page and 'name="migrate" value="no"' in page
    assert "&lt;b&gt;好&lt;/b&gt;" in page
    unanswered = reviewer.form(
        f"/editor/review/{draft['id']}/publish", {}, page=f"/editor/review/{draft['id']}"
    )
    assert unanswered.status_code == 303
    assert reviewer.call("GET", f"/editor/api/versions/{draft['id']}").get_json()["status"] == "in_review"
    reviewer.form(
        f"/editor/review/{draft['id']}/publish", {"migrate": "no"}, page=f"/editor/review/{draft['id']}"
    )
    assert reviewer.call("GET", f"/editor/api/versions/{draft['id']}").get_json()["status"] == "published"
    history = reviewer.page("/editor/history/pathway/gdm-example")
    assert "v1" in history and 'id="events"' in history


def test_upstream_changes_are_listed_and_adopted_as_a_draft(
    author: Staff, reviewer: Staff, shipped: Shipped
) -> None:
    draft = _draft(author, GDM.replace("due: 2d", "due: 3d"))
    author.call("POST", f"/editor/api/versions/{draft['id']}/submit", {})
    reviewer.call("POST", f"/editor/api/versions/{draft['id']}/reviews", {"decision": "approve"})
    reviewer.call("POST", f"/editor/api/versions/{draft['id']}/publish", {"migrate": False})
    assert author.call("GET", "/editor/api/upstream").get_json() == []
    shipped.path("pathway", "gdm-example").write_text(GDM.replace("2w", "3w"), encoding="utf-8")
    (change,) = author.call("GET", "/editor/api/upstream").get_json()
    assert "+    catch_up_within: 3w" in change["diff"]
    adopted = author.call("POST", f"/editor/api/upstream/{change['document_id']}/adopt")
    assert adopted.status_code == 201 and adopted.get_json()["origin"] == "upstream"
    again = author.call("POST", f"/editor/api/upstream/{change['document_id']}/adopt")
    assert again.status_code == 409 and again.get_json()["code"] == "draft-exists"
    diff = author.call("GET", f"/editor/api/versions/{adopted.get_json()['id']}/diff").get_json()["diff"]
    assert "-    catch_up_within: 2w" in diff and "+    catch_up_within: 3w" in diff


def test_the_hospital_sets_two_approvals_on_its_workflow_page(
    app: Flask, author: Staff, reviewer: Staff, shipped: Shipped
) -> None:
    refused = reviewer.call("PUT", "/editor/api/policy", {"approvals": 2, "roles": ["reviewer"]})
    assert refused.status_code == 403 and refused.get_json()["permission"] == "workflow.configure"
    admin = Staff(app, "admin", "admin")
    page = admin.page("/editor/policy")
    assert 'name="approvals" value="1" checked' in page
    bad = admin.form("/editor/policy", {"approvals": "3", "roles": "reviewer"}, page="/editor/policy")
    assert bad.status_code == 303
    assert admin.call("GET", "/editor/api/policy").get_json()["approvals"] == 1
    admin.form("/editor/policy", {"approvals": "2", "roles": "reviewer"}, page="/editor/policy")
    assert admin.call("GET", "/editor/api/policy").get_json()["approvals"] == 2
    second = Staff(app, "reviewer2", "reviewer")
    draft = _draft(author, GDM.replace("due: 2d", "due: 3d"))
    author.call("POST", f"/editor/api/versions/{draft['id']}/submit", {})
    reviewer.call("POST", f"/editor/api/versions/{draft['id']}/reviews", {"decision": "approve"})
    one = reviewer.call("POST", f"/editor/api/versions/{draft['id']}/publish", {"migrate": False})
    assert one.status_code == 409 and one.get_json()["code"] == "not-approved"
    second.call("POST", f"/editor/api/versions/{draft['id']}/reviews", {"decision": "approve"})
    assert (
        second.call("POST", f"/editor/api/versions/{draft['id']}/publish", {"migrate": True}).status_code
        == 200
    )


def test_bad_requests_get_coded_problems_and_another_hospital_sees_nothing(
    app: Flask, author: Staff, reviewer: Staff
) -> None:
    draft = author.call("POST", DRAFT).get_json()
    source = f"/editor/api/versions/{draft['id']}/source"
    no_revision = author.call("PUT", source, {"source": GDM})
    assert no_revision.status_code == 422 and no_revision.get_json()["errors"][0]["path"] == "base_revision"
    boolean = author.call("PUT", source, {"source": GDM, "base_revision": True})
    assert boolean.status_code == 422
    not_json = author.browser.client.put(
        source, data="source=x", headers={"X-CSRFToken": author.token, "Content-Type": "text/plain"}
    )
    assert not_json.status_code == 415 and not_json.mimetype == "application/problem+json"
    author.call("POST", f"/editor/api/versions/{draft['id']}/submit", {})
    maybe = reviewer.call("POST", f"/editor/api/versions/{draft['id']}/reviews", {"decision": "maybe"})
    assert maybe.status_code == 422 and maybe.get_json()["code"] == "bad-decision"
    unknown = author.call("GET", "/editor/api/documents/spell/gdm")
    assert unknown.status_code == 404 and unknown.get_json()["code"] == "document-not-found"
    make_staff(app, "b-reviewer", "reviewer", hospital="b")
    b = StaffBrowser(app.test_client())
    b.login("b-reviewer")
    token = b.csrf("/")
    seen = b.client.get(f"/editor/api/versions/{draft['id']}")
    assert seen.status_code == 404 and seen.get_json()["code"] == "document-not-found"
    approve = b.client.post(
        f"/editor/api/versions/{draft['id']}/reviews",
        json={"decision": "approve"},
        headers={"X-CSRFToken": token},
    )
    assert approve.status_code == 404
    assert b.client.get(f"/editor/review/{draft['id']}").status_code == 404
