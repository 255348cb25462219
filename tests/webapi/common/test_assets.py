"""Every audience's static folder under /static/: found in order, never leaving its folder, and
no path in two folders (one audience's file would shadow another's)."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask

from carepath.webapi import h5, staff
from carepath.webapi.common import assets


def _folders(tmp_path: Path) -> tuple[Path, Path]:
    first, second = tmp_path / "common", tmp_path / "staff"
    (first / "editor").mkdir(parents=True)
    second.mkdir()
    (first / "site.css").write_text("body {}", encoding="utf-8")
    (second / "page.js").write_text("1;", encoding="utf-8")
    (first / "editor" / "bundle.js").write_text("2;", encoding="utf-8")
    (tmp_path / "secret.txt").write_text("not served", encoding="utf-8")
    return first, second


def test_files_of_every_folder_are_served_at_static(tmp_path: Path) -> None:
    app = Flask(__name__, static_folder=None)
    assets.init_app(app, _folders(tmp_path))
    client = app.test_client()
    for path, body in (("site.css", b"body {}"), ("page.js", b"1;"), ("editor/bundle.js", b"2;")):
        with client.get(f"/static/{path}") as served:
            assert served.status_code == 200 and served.get_data() == body
    for path in ("missing.css", "../secret.txt", "%2e%2e/secret.txt", "editor/../../secret.txt"):
        with client.get(f"/static/{path}") as served:
            assert served.status_code == 404, path
    with app.test_request_context():
        from flask import url_for

        assert url_for("static", filename="editor/bundle.js") == "/static/editor/bundle.js"


def test_the_same_path_in_two_folders_is_refused_at_startup(tmp_path: Path) -> None:
    first, second = _folders(tmp_path)
    (second / "site.css").write_text("shadowed", encoding="utf-8")
    with pytest.raises(RuntimeError, match=r"site\.css"):
        assets.init_app(Flask(__name__, static_folder=None), [first, second])


def test_the_audiences_static_folders_share_no_path() -> None:
    folders = [assets.STATIC, staff.STATIC, h5.STATIC]
    names = [name for folder in folders for name in assets.files_of(folder)]
    assert len(names) == len(set(names)) and "editor/editor.js" in names and "h5/h5.css" in names
