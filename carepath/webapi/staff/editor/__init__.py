"""The pathway and content editor: ``/editor`` pages and the live compile endpoint.

``GET /editor`` lists the shipped library with each file's status in this hospital's store
(its draft, in review, published by the hospital, or the shipped text);
``GET /editor/<kind>/<name>`` opens one file in the CodeMirror editor (the bundle is built
from ``frontend/`` into ``static/editor/``): the hospital's open draft or version in review
when it has one, else its published text, else the shipped file;
``POST /editor/api/compile`` answers the editor's debounced requests with the diagnostics of
``diagnostics.diagnose``; ``POST /editor/api/render`` answers them for a content item, with
its preview (the summary as WeChat and SMS carry it, the full text as safe HTML:
``render.preview_item``); ``GET /editor/schemas/<kind>.json`` serves the JSON Schemas that
drive completion and the in-browser schema checks. Saving, submitting and the conflict of
two authors go through the drafts API (``editor_api``); the page only says where it starts.
"""

from __future__ import annotations

import functools
import hashlib
import json
from pathlib import Path
from typing import Any, cast

from flask import Blueprint, Flask, Response, abort, current_app, render_template, request, url_for
from werkzeug.exceptions import BadRequest

from carepath.store import authoring
from carepath.store.authoring import DocumentInfo
from carepath.webapi.auth.permissions import can, current_staff, refuse, require
from carepath.webapi.common.diagnostics_text import page_translate
from carepath.webapi.common.problems import ApiProblemError, capped
from carepath.webapi.staff.editor.diagnostics import KINDS, MAX_BYTES, Kind, diagnose
from carepath.webapi.staff.editor.library import LibraryFile, find, shipped_library
from carepath.webapi.staff.editor.render import preview_item
from carepath.webapi.staff.editor_api import shipped

blp = Blueprint("editor", __name__, url_prefix="/editor")

SCHEMAS_DIR = Path(__file__).resolve().parents[3] / "schemas"
STATIC_DIR = Path(__file__).resolve().parent.parent / "static" / "editor"
#: The schema that drives the client-side checks of each kind (an item's front matter is
#: Markdown around YAML, so the server's lint does all of its checking).
CLIENT_SCHEMAS = {"pathway": "pathway", "form": "form"}


#: What reading and changing each kind of file needs.
READ = {"pathway": "pathway.read", "content": "content.read", "form": "content.read"}
EDIT = {"pathway": "pathway.edit", "content": "content.edit", "form": "content.edit"}


@blp.get("")
@require("pathway.read")
def index() -> str:
    return _page(None)


@blp.get("/<kind>/<name>")
@require(None)
def open_file(kind: str, name: str) -> Any:
    entry = find(kind, name, shipped())
    if entry is None:
        abort(404)
    if not can(READ[entry.kind]):
        return refuse(READ[entry.kind])
    return _page(entry)


def _page(current: LibraryFile | None) -> str:
    staff = current_staff()
    assert staff is not None  # every page is behind @require
    with current_app.extensions["carepath.db"].reading() as session:
        infos = {(i.kind, i.name): i for i in authoring.list_documents(session, staff.hospital_id)}
        files = [(f, store_status(infos.get((f.kind, f.name)))) for f in shipped_library(shipped())]
        groups = [(kind, [(f, status) for f, status in files if f.kind == kind]) for kind in KINDS]
        opened = _opened(current, infos.get((current.kind, current.name))) if current else None
    return render_template(
        "editor/page.html",
        groups=groups,
        current=current,
        opened=opened,
        max_bytes=MAX_BYTES,
        bundle_version=_bundle_version(),
        schema_kind=CLIENT_SCHEMAS.get(current.kind) if current is not None else None,
        may_edit=current is not None and can(EDIT[current.kind]),
        staff_id=staff.staff_id,
        versions_url=url_for("editor_api.get_version", version_id=0).rsplit("/", 1)[0],
        review_url=url_for("editor_review.review_page", version_id=0).rsplit("/", 1)[0],
    )


def store_status(info: DocumentInfo | None) -> str:
    """What the hospital's store says of a document: its open version's status (``draft`` or
    ``in_review``), ``published`` when the hospital published its own, else ``shipped``."""
    if info is None:
        return "shipped"
    if info.open is not None:
        return info.open.status
    return "published" if info.published is not None else "shipped"


def _opened(current: LibraryFile, info: DocumentInfo | None) -> dict[str, Any]:
    """Where the editor starts: the open draft (with its revision, for the conflict check) or
    the version in review, else the hospital's published text, else the shipped file."""
    status = store_status(info)
    version = None
    if info is not None:
        version = info.open or info.published
    return {
        "status": status,
        "source": version.source if version is not None else current.source(),
        "version": version,
        # a save goes to this draft; from a published or shipped text it opens a draft first
        "draft": info.open if info is not None and status == "draft" else None,
    }


@blp.post("/api/compile")
@require(None)
def compile_buffer() -> Response:
    """The diagnostics of one buffer: ``{"kind", "text", "path"?}`` in, ``{"diagnostics"}`` out.

    A buffer over the loader's limit is one ``file-too-large`` diagnostic. A body over the
    app's request limit (``MAX_CONTENT_LENGTH``) is refused before this view, by the CSRF
    check that reads it, as problem+json ``body-too-large`` (413); the page never sends one:
    it shows ``file-too-large`` itself for a buffer over the loader's limit.
    """
    kind, text, path = _buffer_request()
    if not can(EDIT[kind]):
        return refuse(EDIT[kind])  # type: ignore[no-any-return]
    return _answer(diagnose(kind, text, path, page_translate))


def _buffer_request() -> tuple[Kind, str, str | None]:
    """The ``kind``, ``text`` and ``path`` of a compile or render request, or a 400/422."""
    try:
        body = request.get_json(silent=False)
    except BadRequest:
        raise ApiProblemError(400, "bad-json", "the body must be a JSON object") from None
    if not isinstance(body, dict):
        raise ApiProblemError(400, "bad-json", "the body must be a JSON object")
    kind, text, path = body.get("kind"), body.get("text"), body.get("path")
    errors = []
    if kind not in KINDS:
        errors.append({"path": "kind", "code": "invalid", "message": f"one of {', '.join(KINDS)}"})
    if not isinstance(text, str):
        errors.append({"path": "text", "code": "invalid", "message": "the buffer's text"})
    if path is not None and (not isinstance(path, str) or "/" in path or "\\" in path):
        errors.append({"path": "path", "code": "invalid", "message": "a file name without folders"})
    if errors:
        raise ApiProblemError(422, "invalid-request", "the request does not fit the schema", errors)
    return cast(Kind, kind), cast(str, text), cast("str | None", path)


@blp.post("/api/render")
@require(None)
def render_buffer() -> Response:
    """A content item's preview: ``{"kind": "content", "text", "path"?}`` in, the compile
    answer plus ``preview`` out (``null`` while the item does not parse or render)."""
    kind, text, path = _buffer_request()
    if kind != "content":
        raise ApiProblemError(
            422,
            "invalid-request",
            "the request does not fit the schema",
            [{"path": "kind", "code": "invalid", "message": "only content items have a preview"}],
        )
    if not (can(READ[kind]) or can(EDIT[kind])):
        return refuse(READ[kind])  # type: ignore[no-any-return]
    answer = preview_item(text, path, page_translate)
    return _answer(answer["diagnostics"], preview=answer["preview"])


@blp.get("/schemas/<kind>.json")
@require(None)
def schema(kind: str) -> Response:
    if kind not in CLIENT_SCHEMAS:
        abort(404)
    return Response(_schema_text(CLIENT_SCHEMAS[kind]), mimetype="application/schema+json")


def _answer(diagnostics: list[dict[str, Any]], **extra: Any) -> Response:
    """The diagnostics (at most MAX_PROBLEMS of them, ``more`` counts the rest) and the counts
    of all errors and warnings."""
    errors = sum(1 for d in diagnostics if d["severity"] == "error")
    shown, more = capped(diagnostics)
    payload = {
        "diagnostics": shown,
        "more": more,
        "errors": errors,
        "warnings": len(diagnostics) - errors,
        **extra,
    }
    return Response(json.dumps(payload, ensure_ascii=False), mimetype="application/json")


@functools.cache
def _schema_text(name: str) -> str:
    return (SCHEMAS_DIR / f"{name}.schema.json").read_text(encoding="utf-8")


@functools.cache
def _bundle_version() -> str:
    """A short hash of the built bundle, so a rebuilt bundle is never served from a stale cache."""
    digest = hashlib.sha256()
    for name in ("editor.js", "editor.css"):
        path = STATIC_DIR / name
        digest.update(path.read_bytes() if path.exists() else b"")
    return digest.hexdigest()[:12]


def init_app(app: Flask) -> None:
    app.register_blueprint(blp)
