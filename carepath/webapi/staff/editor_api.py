"""``/editor/api/``: the JSON the editor page and the review pages use.

Staff session only (cookie + CSRF header ``X-CSRFToken`` on every POST/PUT, checked by the
app's CSRFProtect); each view checks its permission through ``auth.permissions`` (the one
place). Errors are problem+json with stable codes: ``draft-conflict`` 409 (with
``current_revision``, ``saved_by``, ``saved_at`` and ``your_source``, the refused text),
``not-compiled`` 422 (``errors``: path, line, column, code, message), ``own-change`` 403,
``not-allowed`` 403, ``not-approved`` 409, ``wrong-status`` 409, ``draft-exists`` 409,
``already-reviewed`` 409, ``document-not-found`` 404, ``too-large`` 413.

    GET  documents                              every document with its status
    GET  documents/<kind>/<name>                source, revision, status, versions, history
    POST documents/<kind>/<name>/draft          open (or create) the draft -> version
    GET  versions/<id>                          one version with its source and reviews
    PUT  versions/<id>/source                   {source, base_revision} -> {revision, ...}
    POST versions/<id>/check                    the errors of the stored draft (not saved)
    POST versions/<id>/submit                   {comment?}
    POST versions/<id>/withdraw
    POST versions/<id>/reviews                  {decision: approve|reject, comment}
    POST versions/<id>/publish                  {migrate: true|false}
    POST versions/<id>/rollback                 {migrate, comment?} -> the new version
    POST versions/<id>/retire                   {comment?}
    GET  versions/<id>/diff[?against=<id>]      unified diff (default: what it started from)
    GET  upstream                               newer shipped texts with their diffs
    POST upstream/<document_id>/adopt | dismiss
    GET|PUT policy                              {approvals: 1|2, roles: [...]}
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request
from sqlalchemy.orm import Session

from carepath.errors import Problem
from carepath.store import authoring, drafting, publishing, reviewing, upstream
from carepath.store.authoring import (
    EDIT_PERMISSION,
    AuthoringError,
    DocumentNotFoundError,
    DraftConflictError,
    DraftExistsError,
    Editor,
    NotCompiledError,
)
from carepath.store.db import Database
from carepath.store.library_files import KINDS, SHIPPED, Shipped, title_of
from carepath.store.models import DocumentVersion, LibraryDocument
from carepath.store.roles import ROLES
from carepath.webapi.auth.permissions import (
    current_staff,
    record_not_found,
    record_refused,
    refuse,
    require,
)
from carepath.webapi.common.diagnostics_text import page_translate, problem_message
from carepath.webapi.common.jsonbody import json_body
from carepath.webapi.common.problems import ApiProblemError, capped, problem
from carepath.webapi.staff.review_text import refusal_message

blp = Blueprint("editor_api", __name__, url_prefix="/editor/api")
READ_PERMISSION = {"pathway": "pathway.read", "content": "content.read", "form": "content.read"}


def editor() -> Editor:
    """The logged-in staff member as the authoring services take them."""
    staff = current_staff()
    assert staff is not None  # every view is behind @require
    return Editor(
        staff.staff_id,
        staff.hospital_id,
        staff.name,
        frozenset(staff.roles),
        staff.permissions,
        request.remote_addr,
    )


def shipped() -> Shipped:
    """The shipped library (a test app may point ``EDITOR_SHIPPED`` at a copy)."""
    found = current_app.config.get("EDITOR_SHIPPED")
    return found if isinstance(found, Shipped) else SHIPPED


def _db() -> Database:
    database: Database = current_app.extensions["carepath.db"]
    return database


def _now() -> datetime:
    clock: Callable[[], datetime] = current_app.config["CLOCK"]
    return clock()


def _need(permission: str) -> None:
    """The kind-dependent permission (pathway.* or content.*) of a view behind ``@require()``;
    refused like ``@require`` refuses (``permission-denied``, naming it)."""
    staff = current_staff()
    if staff is None or not staff.can(permission):
        refuse(permission)  # raises the problem for a JSON request (every /editor/api/ one)
        raise ApiProblemError(403, "permission-denied", f"this needs the permission {permission}")


def _need_page(permission: str) -> Any:
    """For a page: None when the staff member holds ``permission``, else the refusal page."""
    staff = current_staff()
    if staff is not None and staff.can(permission):
        return None
    return refuse(permission)


def _kind(kind: str) -> str:
    if kind not in KINDS:
        raise ApiProblemError(404, "document-not-found", f"unknown kind {kind!r}; one of {', '.join(KINDS)}")
    return kind


def _body() -> dict[str, Any]:
    body = json_body()
    if not isinstance(body, dict):
        raise ApiProblemError(422, "invalid-request", "send a JSON object")
    return body


def _text(body: dict[str, Any], key: str, *, required: bool = False, limit: int = 2000) -> str:
    value = body.get(key, "")
    if (required and key not in body) or not isinstance(value, str) or len(value) > limit:
        code = "too-long" if isinstance(value, str) and len(value) > limit else "invalid"
        raise ApiProblemError(
            422,
            "invalid-request",
            f"{key} must be a string of at most {limit} characters",
            [{"path": key, "code": code, "message": f"a string of at most {limit:,} characters"}],
        )
    return value


def _flag(body: dict[str, Any], key: str) -> bool:
    value = body.get(key)
    if not isinstance(value, bool):
        raise ApiProblemError(
            422,
            "invalid-request",
            f"{key} must be true or false",
            [{"path": key, "code": "required", "message": "true or false"}],
        )
    return value


def problems_json(problems: list[Problem]) -> tuple[list[dict[str, Any]], int]:
    """The first MAX_PROBLEMS problems as JSON (messages in the user's language), and how many
    more there are."""
    shown, more = capped(problems)
    listed = [
        {
            "path": p.location.path,
            "line": p.location.line,
            "column": p.location.column,
            "code": p.code,
            "message": problem_message(p),
        }
        for p in shown
    ]
    return listed, more


def audit_refusal(error: AuthoringError) -> None:
    """The authoring rules' 403s (``not-allowed``, ``own-change``) are refusals like a missing
    permission's, and a document or version the staff member may not see (another hospital's)
    a counted ``not-found``: both through the audit writer, like ``permissions.refuse``."""
    if isinstance(error, DocumentNotFoundError):
        record_not_found("document")
    elif error.status == 403:
        record_refused(f"{error.code} for {request.path[:300]}: {error.message}")


@blp.errorhandler(AuthoringError)
def _authoring_problem(error: AuthoringError) -> Response:
    audit_refusal(error)
    detail = refusal_message(error, page_translate)  # the audit keeps the English
    if isinstance(error, DraftConflictError):
        return problem(
            409,
            error.code,
            detail,
            current_revision=error.current_revision,
            saved_by=error.saved_by,
            saved_at=error.saved_at.isoformat(),
            your_source=error.rejected_source,
        )
    if isinstance(error, NotCompiledError):
        listed, more = problems_json(error.problems)
        return problem(422, error.code, detail, listed, more=more)
    if isinstance(error, DraftExistsError):
        return problem(409, error.code, detail, version_id=error.version_id)
    return problem(error.status, error.code, detail)


def _version_json(session: Session, version: DocumentVersion, *, source: bool = True) -> dict[str, Any]:
    document = authoring.document_of(session, version)
    reviews = reviewing.reviews_of(session, version.id)
    needed = reviewing.policy_of(session, version.hospital_id).approvals
    extra: dict[str, Any] = {
        "kind": document.kind,
        "name": document.name,
        "document_id": document.id,
        "round": version.round,
        "approvals": len([r for r in reviews if r.round == version.round and r.decision == "approve"]),
        "approvals_needed": needed,
        "reviews": [
            {
                "reviewer": r.reviewer_name,
                "decision": r.decision,
                "comment": r.comment,
                "round": r.round,
                "at": r.at.isoformat(),
            }
            for r in reviews
        ],
    }
    if source:
        extra["source"] = version.source
    return authoring.as_json(version, **extra)


def _history_json(session: Session, hospital_id: str, document_id: int) -> list[dict[str, Any]]:
    numbers = {v.id: v.number for v in authoring.versions_of(session, document_id)}
    return [
        {
            "action": e.action,
            "version": numbers.get(e.version_id) if e.version_id else None,
            "actor": e.actor_name,
            "comment": e.comment,
            "at": e.at.isoformat(),
        }
        for e in authoring.history(session, hospital_id, document_id)
    ]


@blp.get("/documents")
@require()
def list_documents() -> Response:
    me = editor()
    staff = current_staff()
    assert staff is not None
    with _db().reading() as session:
        changed = {c.document_id for c in upstream.changes(session, me.hospital_id, shipped())}
        rows = []
        for info in authoring.list_documents(session, me.hospital_id, shipped()):
            if not staff.can(READ_PERMISSION[info.kind]):
                continue
            current = info.open or info.published
            rows.append(
                {
                    "kind": info.kind,
                    "name": info.name,
                    "title": title_of(
                        current.source if current else (shipped().text(info.kind, info.name) or "")
                    ),
                    "shipped": info.shipped,
                    "document_id": info.document_id,
                    "status": info.open.status
                    if info.open
                    else ("published" if info.published else "library"),
                    "published": info.published.number if info.published else None,
                    "open": (
                        {"id": info.open.id, "number": info.open.number, "status": info.open.status}
                        if info.open
                        else None
                    ),
                    "upstream_changed": info.document_id in changed,
                }
            )
    return jsonify(rows)


@blp.get("/documents/<kind>/<name>")
@require()
def get_document(kind: str, name: str) -> Response:
    _need(READ_PERMISSION[_kind(kind)])
    me = editor()
    with _db().reading() as session:
        document = authoring.find_document(session, me.hospital_id, kind, name)
        if document is None:
            text = shipped().text(kind, name)
            if text is None:
                raise ApiProblemError(404, "document-not-found", f"no {kind} {name!r}")
            return jsonify(
                {
                    "kind": kind,
                    "name": name,
                    "document_id": None,
                    "status": "library",
                    "source": text,
                    "version": None,
                    "versions": [],
                    "history": [],
                }
            )
        versions = authoring.versions_of(session, document.id)
        open_ = next((v for v in reversed(versions) if v.status in authoring.OPEN_STATUSES), None)
        published = authoring.current_published(versions)
        shown = open_ or published
        return jsonify(
            {
                "kind": kind,
                "name": name,
                "document_id": document.id,
                "status": open_.status if open_ else ("published" if published else "library"),
                "source": shown.source if shown else shipped().text(kind, name) or "",
                "version": _version_json(session, shown, source=False) if shown else None,
                "published": published.id if published else None,
                "versions": [_version_json(session, v, source=False) for v in versions],
                "history": _history_json(session, me.hospital_id, document.id),
            }
        )


@blp.post("/documents/<kind>/<name>/draft")
@require()
def start_draft(kind: str, name: str) -> tuple[Response, int]:
    _need(EDIT_PERMISSION[_kind(kind)])
    with _db().transaction() as session:
        version, created = drafting.start_draft(session, editor(), kind, name, now=_now(), shipped=shipped())
        return jsonify(_version_json(session, version)), 201 if created else 200


def _kind_of(session: Session, version_id: int) -> str:
    version = authoring.get_version(session, editor().hospital_id, version_id)
    return authoring.document_of(session, version).kind


@blp.get("/versions/<int:version_id>")
@require()
def get_version(version_id: int) -> Response:
    with _db().reading() as session:
        _need(READ_PERMISSION[_kind_of(session, version_id)])
        return jsonify(
            _version_json(session, authoring.get_version(session, editor().hospital_id, version_id))
        )


@blp.put("/versions/<int:version_id>/source")
@require()
def save_source(version_id: int) -> Response:
    body = _body()
    source = _text(body, "source", required=True, limit=10**7)  # the service refuses > 256 KB
    revision = body.get("base_revision")
    if not isinstance(revision, int) or isinstance(revision, bool):
        raise ApiProblemError(
            422,
            "invalid-request",
            "base_revision (the revision you loaded) is required",
            [{"path": "base_revision", "code": "required", "message": "an integer"}],
        )
    with _db().transaction() as session:
        _need(EDIT_PERMISSION[_kind_of(session, version_id)])
        version = drafting.save_draft(session, editor(), version_id, source, revision, now=_now())
        return jsonify(
            {
                "id": version.id,
                "revision": version.revision,
                "saved_at": version.saved_at.isoformat(),
                "saved_by": version.saved_by_name,
            }
        )


@blp.post("/versions/<int:version_id>/check")
@require()
def check_version(version_id: int) -> Response:
    with _db().reading() as session:
        _need(READ_PERMISSION[_kind_of(session, version_id)])
        version = authoring.get_version(session, editor().hospital_id, version_id)
        document = authoring.document_of(session, version)
        found = authoring.problems_of(
            session, version.hospital_id, document.kind, document.name, version.source
        )
        listed, more = problems_json(found)
        return jsonify({"errors": listed, "more": more})


@blp.post("/versions/<int:version_id>/submit")
@require()
def submit(version_id: int) -> Response:
    comment = _text(_body(), "comment") if request.content_length else ""
    with _db().transaction() as session:
        _need(EDIT_PERMISSION[_kind_of(session, version_id)])
        version = drafting.submit(session, editor(), version_id, now=_now(), comment=comment)
        return jsonify(_version_json(session, version, source=False))


@blp.post("/versions/<int:version_id>/withdraw")
@require()
def withdraw(version_id: int) -> Response:
    with _db().transaction() as session:
        _need(EDIT_PERMISSION[_kind_of(session, version_id)])
        version = drafting.withdraw(session, editor(), version_id, now=_now())
        return jsonify(_version_json(session, version, source=False))


@blp.post("/versions/<int:version_id>/reviews")
@require()
def review(version_id: int) -> tuple[Response, int]:
    body = _body()
    decision = _text(body, "decision", required=True, limit=10)
    comment = _text(body, "comment")
    with _db().transaction() as session:
        version = reviewing.review(session, editor(), version_id, decision, comment, now=_now())
        return jsonify(_version_json(session, version, source=False)), 201


@blp.post("/versions/<int:version_id>/publish")
@require()
def publish(version_id: int) -> Response:
    migrate = _flag(_body(), "migrate")
    with _db().transaction() as session:
        version = publishing.publish(session, editor(), version_id, now=_now(), migrate=migrate)
        return jsonify(_version_json(session, version, source=False))


@blp.post("/versions/<int:version_id>/rollback")
@require()
def rollback(version_id: int) -> tuple[Response, int]:
    body = _body()
    migrate = _flag(body, "migrate")
    comment = _text(body, "comment")
    with _db().transaction() as session:
        version = publishing.rollback(
            session, editor(), version_id, now=_now(), migrate=migrate, comment=comment
        )
        return jsonify(_version_json(session, version, source=False)), 201


@blp.post("/versions/<int:version_id>/retire")
@require()
def retire(version_id: int) -> Response:
    comment = _text(_body(), "comment") if request.content_length else ""
    with _db().transaction() as session:
        version = publishing.retire(session, editor(), version_id, now=_now(), comment=comment)
        return jsonify(_version_json(session, version, source=False))


@blp.get("/versions/<int:version_id>/diff")
@require()
def diff(version_id: int) -> Response:
    against = request.args.get("against", type=int)
    with _db().reading() as session:
        _need(READ_PERMISSION[_kind_of(session, version_id)])
        hospital = editor().hospital_id
        if against is None:
            text = upstream.review_diff(session, hospital, version_id, shipped())
        else:
            text = upstream.version_diff(session, hospital, against, version_id)
        return jsonify({"diff": text})


@blp.get("/upstream")
@require()
def upstream_changes() -> Response:
    staff = current_staff()
    assert staff is not None
    with _db().reading() as session:
        found = [
            {
                "document_id": c.document_id,
                "kind": c.kind,
                "name": c.name,
                "shipped_hash": c.shipped_hash,
                "diff": c.diff,
                "adopting": c.adopting,
            }
            for c in upstream.changes(session, staff.hospital_id, shipped())
            if staff.can(READ_PERMISSION[c.kind])
        ]
    return jsonify(found)


@blp.post("/upstream/<int:document_id>/adopt")
@require()
def adopt(document_id: int) -> tuple[Response, int]:
    with _db().transaction() as session:
        kind = _document_kind(session, document_id)
        _need(EDIT_PERMISSION[kind])
        version = upstream.adopt(session, editor(), document_id, now=_now(), shipped=shipped())
        return jsonify(_version_json(session, version)), 201


@blp.post("/upstream/<int:document_id>/dismiss")
@require()
def dismiss(document_id: int) -> Response:
    comment = _text(_body(), "comment") if request.content_length else ""
    with _db().transaction() as session:
        _need(authoring.PUBLISH_PERMISSION[_document_kind(session, document_id)])
        upstream.dismiss(session, editor(), document_id, now=_now(), comment=comment, shipped=shipped())
    return jsonify({"dismissed": document_id})


def _document_kind(session: Session, document_id: int) -> str:
    document = session.get(LibraryDocument, document_id)
    if document is None or document.hospital_id != editor().hospital_id:
        raise ApiProblemError(404, "document-not-found", f"no document {document_id} in this hospital")
    return document.kind


@blp.get("/policy")
@require()
def get_policy() -> Response:
    with _db().reading() as session:
        policy = reviewing.policy_of(session, editor().hospital_id)
    return jsonify({"approvals": policy.approvals, "roles": list(policy.roles), "known_roles": list(ROLES)})


@blp.put("/policy")
@require("workflow.configure")
def put_policy() -> Response:
    body = _body()
    approvals, roles = body.get("approvals"), body.get("roles")
    if (
        not isinstance(approvals, int)
        or not isinstance(roles, list)
        or not all(isinstance(r, str) for r in roles)
    ):
        raise ApiProblemError(422, "bad-policy", "approvals (1 or 2) and roles (a list of role names)")
    with _db().transaction() as session:
        policy = reviewing.set_policy(
            session, editor(), approvals, roles, now=_now(), known_roles=frozenset(ROLES)
        )
    return jsonify({"approvals": policy.approvals, "roles": list(policy.roles)})
