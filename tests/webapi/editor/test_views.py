"""The /editor pages and the compile endpoint, through the Flask app, as staff would use them."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from carepath.webapi.staff.editor import library
from carepath.webapi.staff.editor.diagnostics import MAX_BYTES
from tests.conftest import ROOT
from tests.webapi.conftest import StaffBrowser, make_staff

COMPILE = "/editor/api/compile"


@dataclass
class Staff:
    client: FlaskClient
    token: str

    def compile(self, payload: Any = None, *, raw: bytes | None = None) -> Any:
        body = raw if raw is not None else json.dumps(payload, ensure_ascii=False).encode("utf-8")
        headers = {"X-CSRFToken": self.token, "X-Requested-With": "fetch"}
        return self.client.post(COMPILE, data=body, content_type="application/json", headers=headers)


def logged_in(app: Flask, username: str, *roles: str) -> Staff:
    make_staff(app, username, *roles)
    browser = StaffBrowser(app.test_client())
    assert browser.login(username).status_code == 302
    page = browser.client.get("/editor").get_data(as_text=True)
    token = re.search(r'<meta name="csrf-token" content="([^"]+)"', page)
    assert token is not None
    return Staff(browser.client, token.group(1))


@pytest.fixture
def author(app: Flask) -> Staff:
    return logged_in(app, "author", "content_author")


def source(kind: str, name: str) -> str:
    entry = library.find(kind, name)
    assert entry is not None
    return entry.source()


def test_the_page_lists_every_shipped_pathway_item_and_form_with_its_status(author: Staff) -> None:
    page = author.client.get("/editor")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    files = library.shipped_library()
    assert {f.kind for f in files} == {"pathway", "content", "form"}
    # every pathway file shipped in carepath/pathways (the vocabularies are not pathways)
    shipped = {p.name for p in (ROOT / "carepath" / "pathways").glob("*.yaml")} - {"tags.yaml", "labs.yaml"}
    assert len(shipped) >= 14 and {f.filename for f in files if f.kind == "pathway"} == shipped
    for entry in files:
        assert f'data-file="{entry.filename}"' in html
    assert "妊娠期糖尿病管理" in html  # gdm.yaml's title
    assert 'data-status="shipped">内置<' in html  # the store has no copy yet; Chinese by default
    assert "路径" in html and "表单" in html


def test_opening_a_file_embeds_its_source_and_the_bundle(author: Staff) -> None:
    html = author.client.get("/editor/pathway/gdm").get_data(as_text=True)
    embedded = html.split('<script type="application/json" id="editor-source">')[1].split("</script>")[0]
    assert json.loads(embedded) == source("pathway", "gdm")
    assert 'data-kind="pathway"' in html and "data-readonly" not in html
    assert "/static/editor/editor.js?v=" in html
    assert "http://" not in html and "https://" not in html  # no CDN: everything is served here
    assert author.client.get("/editor/pathway/no-such").status_code == 404
    assert author.client.get("/editor/secret/gdm").status_code == 404


def test_the_bundle_and_schemas_are_served_from_the_package(author: Staff) -> None:
    for name in ("editor.js", "editor.css"):
        with author.client.get(f"/static/editor/{name}") as served:  # closes the file it streams
            assert served.status_code == 200
            data = served.get_data()
            assert b"//cdn" not in data and b"unpkg.com" not in data and b"jsdelivr" not in data
            assert len(data) > (100_000 if name == "editor.js" else 1_000)
    schema = author.client.get("/editor/schemas/pathway.json")
    assert schema.mimetype == "application/schema+json"
    assert "rules" in schema.get_json()["properties"]
    assert author.client.get("/editor/schemas/form.json").status_code == 200
    assert author.client.get("/editor/schemas/patient.json").status_code == 404


def test_compile_returns_located_diagnostics(author: Staff) -> None:
    text = source("pathway", "cholestasis").replace("enrolled: 2w", "enrolled: 2x")
    answer = author.compile({"kind": "pathway", "text": text})
    assert answer.status_code == 200
    body = answer.get_json()
    assert body["errors"] == 1
    [found] = body["diagnostics"]
    assert found["code"] == "bad-duration"
    assert text.splitlines()[found["line"] - 1][found["col"] - 1 : found["end_col"] - 1] == "2x"
    clean = author.compile({"kind": "form", "text": source("form", "epds"), "path": "epds.yaml"})
    assert clean.get_json() == {"diagnostics": [], "more": 0, "errors": 0, "warnings": 0}


def test_a_paste_over_the_loader_limit_is_a_diagnostic(author: Staff) -> None:
    answer = author.compile({"kind": "pathway", "text": "x" * (MAX_BYTES + 10)})
    assert answer.status_code == 200
    [found] = answer.get_json()["diagnostics"]
    assert found["code"] == "file-too-large"
    assert "上限" in found["message"]  # the UI is zh-CN by default: the diagnostics are Chinese
    author.client.get("/language/en")
    [found] = author.compile({"kind": "pathway", "text": "x" * (MAX_BYTES + 10)}).get_json()["diagnostics"]
    assert "limit" in found["message"]


def test_a_body_over_the_request_limit_is_a_problem_never_an_html_page(author: Staff) -> None:
    # The page never sends one (it shows file-too-large itself, and maps a 413 to it).
    answer = author.compile({"kind": "pathway", "text": "x" * (5 * 1024 * 1024)})
    assert answer.status_code == 413  # the CSRF check reads the body first, under the app's limit
    assert answer.mimetype == "application/problem+json"
    assert answer.get_json()["code"] == "body-too-large"


@pytest.mark.parametrize(
    ("payload", "status", "code"),
    [
        (b"{not json", 400, "bad-json"),
        (b"[1, 2]", 400, "bad-json"),
        (json.dumps({"kind": "patient", "text": "x"}).encode(), 422, "invalid-request"),
        (json.dumps({"kind": "pathway", "text": 5}).encode(), 422, "invalid-request"),
        (
            json.dumps({"kind": "pathway", "text": "x", "path": "../../etc/passwd"}).encode(),
            422,
            "invalid-request",
        ),
    ],
)
def test_bad_requests_are_problems_with_stable_codes(
    author: Staff, payload: bytes, status: int, code: str
) -> None:
    answer = author.compile(raw=payload)
    assert answer.status_code == status
    assert answer.mimetype == "application/problem+json"
    assert answer.get_json()["code"] == code


def test_anonymous_and_csrf_less_requests_are_refused(app: Flask, author: Staff) -> None:
    anonymous = app.test_client()
    page = anonymous.get("/editor")
    assert page.status_code == 302 and "/login" in page.headers["Location"]
    token = StaffBrowser(anonymous).csrf("/login")
    answer = Staff(anonymous, token).compile({"kind": "pathway", "text": "x"})
    assert answer.status_code == 401
    assert answer.get_json()["code"] == "login-required"
    no_token = author.client.post(COMPILE, json={"kind": "pathway", "text": "x"})
    assert no_token.status_code == 400
    assert no_token.get_json()["code"] == "csrf-failed"


def test_a_role_without_the_edit_permission_reads_but_cannot_compile(app: Flask) -> None:
    doctor = logged_in(app, "doctor", "doctor")
    html = doctor.client.get("/editor/pathway/gdm").get_data(as_text=True)
    assert 'data-readonly="true"' in html
    answer = doctor.compile({"kind": "pathway", "text": "pathway: x\n"})
    assert answer.status_code == 403
    assert answer.get_json()["code"] == "permission-denied"
    assert answer.get_json()["permission"] == "pathway.edit"


def test_titles_and_sources_with_script_tags_are_inert(
    author: Staff, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hostile = tmp_path / "hostile.yaml"
    hostile.write_text(
        "pathway: hostile\ntitle: <script>alert(1)</script>\nrules: []\n# </script><script>alert(2)</script>\n",
        encoding="utf-8",
    )
    entry = library._entry("pathway", hostile, library._yaml_fields)
    monkeypatch.setattr(library, "shipped_library", lambda *_: (entry,))
    monkeypatch.setattr("carepath.webapi.staff.editor.shipped_library", lambda *_: (entry,))
    html = author.client.get("/editor/pathway/hostile").get_data(as_text=True)
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    embedded = html.split('id="editor-source">')[1].split("</script>")[0]
    assert json.loads(embedded) == hostile.read_text(encoding="utf-8")


def _embedded(html: str) -> str:
    text = html.split('<script type="application/json" id="editor-source">')[1].split(
        "</script>", maxsplit=1
    )[0]
    return str(json.loads(text))


def _status(html: str, name: str) -> str:
    found = re.search(rf'data-file="{name}">.*?data-status="([a-z_]+)"', html, re.S)
    assert found is not None
    return found.group(1)


def test_the_page_opens_the_hospitals_draft_with_its_revision_and_then_its_version_in_review(
    app: Flask, author: Staff
) -> None:
    headers = {"X-CSRFToken": author.token}
    opened = author.client.post("/editor/api/documents/pathway/gdm/draft", headers=headers)
    assert opened.status_code == 201
    draft = opened.get_json()
    changed = source("pathway", "gdm").replace("title:", "# 院内修改\ntitle:", 1)
    saved = author.client.put(
        f"/editor/api/versions/{draft['id']}/source",
        json={"source": changed, "base_revision": draft["revision"]},
        headers=headers,
    )
    assert saved.status_code == 200
    revision = saved.get_json()["revision"]

    html = author.client.get("/editor/pathway/gdm").get_data(as_text=True)
    assert _embedded(html) == changed  # the draft, not the shipped file
    assert f'data-version-id="{draft["id"]}" data-revision="{revision}"' in html
    assert 'id="document-status" data-status="draft"' in html and "data-readonly" not in html
    assert _status(html, "gdm.yaml") == "draft" and _status(html, "cholestasis.yaml") == "shipped"

    submitted = author.client.post(f"/editor/api/versions/{draft['id']}/submit", json={}, headers=headers)
    assert submitted.status_code == 200, submitted.get_json()
    html = author.client.get("/editor/pathway/gdm").get_data(as_text=True)
    assert _embedded(html) == changed
    assert 'data-readonly="true"' in html and 'id="in-review-note"' in html
    assert f'href="/editor/review/{draft["id"]}"' in html
    assert _status(html, "gdm.yaml") == "in_review"
    assert "data-version-id" not in html  # nothing to save to while it is in review

    doctor = logged_in(app, "doctor", "doctor")  # reads it, cannot change it, no buttons
    html = doctor.client.get("/editor/pathway/gdm").get_data(as_text=True)
    assert 'data-readonly="true"' in html and 'id="save"' not in html
    assert _embedded(html) == changed


def test_a_title_with_a_script_tag_in_a_draft_stays_text(author: Staff) -> None:
    headers = {"X-CSRFToken": author.token}
    draft = author.client.post("/editor/api/documents/pathway/gdm/draft", headers=headers).get_json()
    changed = source("pathway", "gdm") + "\n# </script><script>alert(1)</script>\n"
    author.client.put(
        f"/editor/api/versions/{draft['id']}/source",
        json={"source": changed, "base_revision": draft["revision"]},
        headers=headers,
    )
    html = author.client.get("/editor/pathway/gdm").get_data(as_text=True)
    assert "<script>alert(1)" not in html
    assert _embedded(html) == changed
