"""The /editor pages and the compile endpoint, through the Flask app."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from flask import Flask

from carepath.webapi.editor import library
from carepath.webapi.editor.diagnostics import MAX_BYTES


@pytest.fixture
def client(app: Flask):  # type: ignore[no-untyped-def]
    return app.test_client()


def test_the_page_lists_every_shipped_pathway_item_and_form_with_its_status(client) -> None:  # type: ignore[no-untyped-def]
    page = client.get("/editor")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    files = library.shipped_library()
    assert {f.kind for f in files} == {"pathway", "content", "form"}
    assert len([f for f in files if f.kind == "pathway"]) == 14
    for entry in files:
        assert f'data-file="{entry.filename}"' in html
    assert "妊娠期糖尿病管理" in html  # gdm.yaml's title
    assert 'data-status="draft"' in html


def test_opening_a_file_embeds_its_source_and_the_bundle(client) -> None:  # type: ignore[no-untyped-def]
    html = client.get("/editor/pathway/gdm").get_data(as_text=True)
    source = html.split('<script type="application/json" id="editor-source">')[1].split("</script>")[0]
    assert json.loads(source) == library.find("pathway", "gdm").source()  # type: ignore[union-attr]
    assert 'data-kind="pathway"' in html
    assert "/static/editor/editor.js?v=" in html
    assert "http://" not in html and "https://" not in html  # no CDN: everything is served here
    assert client.get("/editor/pathway/no-such").status_code == 404
    assert client.get("/editor/secret/gdm").status_code == 404


def test_the_bundle_and_schemas_are_served_from_the_package(client) -> None:  # type: ignore[no-untyped-def]
    for name in ("editor.js", "editor.css"):
        with client.get(f"/static/editor/{name}") as served:  # closes the file it streams
            assert served.status_code == 200
            data = served.get_data()
            assert b"//cdn" not in data and b"unpkg.com" not in data and b"jsdelivr" not in data
            assert len(data) > (100_000 if name == "editor.js" else 1_000)
    schema = client.get("/editor/schemas/pathway.json")
    assert schema.mimetype == "application/schema+json"
    assert "rules" in schema.get_json()["properties"]
    assert client.get("/editor/schemas/form.json").status_code == 200
    assert client.get("/editor/schemas/patient.json").status_code == 404


def test_compile_returns_located_diagnostics(client) -> None:  # type: ignore[no-untyped-def]
    text = library.find("pathway", "cholestasis").source().replace("enrolled: 2w", "enrolled: 2x")  # type: ignore[union-attr]
    answer = client.post("/editor/api/compile", json={"kind": "pathway", "text": text})
    assert answer.status_code == 200
    body = answer.get_json()
    assert body["errors"] == 1
    [found] = body["diagnostics"]
    assert found["code"] == "bad-duration"
    assert text.splitlines()[found["line"] - 1][found["col"] - 1 : found["end_col"] - 1] == "2x"
    clean = client.post(
        "/editor/api/compile", json={"kind": "form", "text": library.find("form", "epds").source()}
    )  # type: ignore[union-attr]
    assert clean.get_json() == {"diagnostics": [], "errors": 0, "warnings": 0}


def test_a_paste_bigger_than_any_limit_is_a_diagnostic_not_a_413_page(client) -> None:  # type: ignore[no-untyped-def]
    for size in (MAX_BYTES + 10, 5 * 1024 * 1024):  # over the loader's limit; over the request limit
        body = json.dumps({"kind": "pathway", "text": "x" * size})
        answer = client.post("/editor/api/compile", data=body, content_type="application/json")
        assert answer.status_code == 200, size
        [found] = answer.get_json()["diagnostics"]
        assert found["code"] == "file-too-large"
        assert "limit" in found["message"]


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
def test_bad_requests_are_problems_with_stable_codes(client, payload: bytes, status: int, code: str) -> None:  # type: ignore[no-untyped-def]
    answer = client.post("/editor/api/compile", data=payload, content_type="application/json")
    assert answer.status_code == status
    assert answer.mimetype == "application/problem+json"
    assert answer.get_json()["code"] == code


def test_titles_and_sources_with_script_tags_are_inert(client, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    hostile = tmp_path / "hostile.yaml"
    hostile.write_text(
        "pathway: hostile\ntitle: <script>alert(1)</script>\nrules: []\n# </script><script>alert(2)</script>\n",
        encoding="utf-8",
    )
    entry = library._entry("pathway", hostile, library._yaml_fields)
    monkeypatch.setattr(library, "shipped_library", lambda: (entry,))
    monkeypatch.setattr("carepath.webapi.editor.shipped_library", lambda: (entry,))
    html = client.get("/editor/pathway/hostile").get_data(as_text=True)
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    source = html.split('id="editor-source">')[1].split("</script>")[0]
    assert json.loads(source) == hostile.read_text(encoding="utf-8")
