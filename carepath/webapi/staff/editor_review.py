"""The review pages: ``/editor/review`` (what waits for review, newer shipped texts),
``/editor/review/<id>`` (the YAML diff, the reviews, approve or reject with a comment, and
publishing, which asks whether women already enrolled move to the new version) and
``/editor/history/<kind>/<name>`` (every version with author, reviewers, comments, times;
rollback). Server-rendered forms with a CSRF token; every user text is escaped by Jinja.

The behaviour diff and cohort impact (``engine/impact.py``) plug in through
``app.extensions["carepath.review_impact"]``: a callable ``(session, version) -> Markup``
rendered in the ``#impact`` section of the review page.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from werkzeug.wrappers import Response

from carepath.store import authoring, publishing, release, reviewing, upstream
from carepath.store.authoring import AuthoringError, NotCompiledError
from carepath.store.library_files import KINDS, display_path
from carepath.store.roles import ROLE_PERMISSIONS, ROLES, label
from carepath.store.scope import audit
from carepath.webapi.auth.permissions import current_staff, require
from carepath.webapi.common.diagnostics_text import page_translate, problem_line
from carepath.webapi.staff.editor_api import (
    READ_PERMISSION,
    _db,
    _need_page,
    _now,
    audit_refusal,
    editor,
    shipped,
)
from carepath.webapi.staff.release_panel import safety_release
from carepath.webapi.staff.review_text import history_comment, refusal_message

blp = Blueprint("editor_review", __name__, url_prefix="/editor")

STATUS_LABELS = {
    "draft": label("Draft"),
    "in_review": label("In review"),
    "published": label("Published"),
    "retired": label("Retired"),
}
EVENT_LABELS = {
    "copied": label("copied the shipped text"),
    "drafted": label("started a draft"),
    "submitted": label("sent for review"),
    "withdrawn": label("withdrew from review"),
    "approved": label("approved"),
    "rejected": label("sent back"),
    "published": label("published"),
    "rolled-back": label("rolled back"),
    "retired": label("retired"),
    "upstream-dismissed": label("kept the hospital's copy over the shipped text"),
}


@blp.app_context_processor
def _labels() -> dict[str, Any]:
    return {
        "status_label": lambda status: gettext(STATUS_LABELS.get(status, status)),
        "event_label": lambda action: gettext(EVENT_LABELS.get(action, action)),
        "problem_line": problem_line,  # a compiler problem in the page's language
        "history_comment": lambda action, comment: history_comment(action, comment, page_translate),
    }


def diff_lines(diff: str) -> list[tuple[str, str]]:
    """(css class, line) of a unified diff, for colouring; the text stays text."""
    lines = []
    for line in diff.splitlines():
        if line.startswith(("+++", "---")):
            kind = "file"
        elif line.startswith("@@"):
            kind = "hunk"
        elif line.startswith("+"):
            kind = "add"
        elif line.startswith("-"):
            kind = "del"
        else:
            kind = "same"
        lines.append((kind, line))
    return lines


def _failed(error: AuthoringError) -> None:
    audit_refusal(error)
    if isinstance(error, NotCompiledError):
        listed = "; ".join(problem_line(p) for p in error.problems[:5])
        flash(gettext("The draft has errors:") + " " + listed, "error")
    else:
        flash(refusal_message(error, page_translate), "error")


@blp.get("/review")
@require()
def review_list() -> str:
    me = editor()
    staff = current_staff()
    assert staff is not None
    with _db().reading() as session:
        waiting = [
            {
                "document": document,
                "version": version,
                "approvals": len(reviewing.approvals(session, version)),
                "path": display_path(document.kind, document.name),
            }
            for document, version in reviewing.in_review(session, me.hospital_id)
            if staff.can(READ_PERMISSION[document.kind])
        ]
        needed = reviewing.policy_of(session, me.hospital_id).approvals
        changes = [
            c
            for c in upstream.changes(session, me.hospital_id, shipped())
            if staff.can(READ_PERMISSION[c.kind])
        ]
        now = _now()
        run = request.args.get("release_impact") == "1"
        safety = safety_release(session, me.hospital_id, staff, shipped(), now, run=run)
    if safety is not None and safety.report is not None:
        with _db().transaction() as session:  # the read of every enrolled woman's state
            audit(
                session,
                me.actor,
                "read",
                now,
                f"cohort impact of release {safety.release.version}: {safety.report['patients']}"
                " pregnancies in care",
            )
    return render_template(
        "editor/review_list.html",
        waiting=waiting,
        needed=needed,
        changes=[(c, diff_lines(c.diff), display_path(c.kind, c.name)) for c in changes],
        safety=safety,
    )


@blp.post("/release/adopt")
@require("pathway.publish")
def adopt_release() -> Response:
    """The safety release, adopted with migrate: its shipped pathways current, the hospital's
    enrolled women moved to them (``store/release.py``); its own copies stay for review."""
    me = editor()
    back = url_for(".review_list") + "#release"
    try:
        with _db().transaction() as session:
            found = release.pending(session, me.hospital_id, shipped())
            if found is None or not found.release.safety or not found.builtin:
                flash(gettext("There is no safety release left to adopt."), "error")
                return redirect(back, 303)
            moved = release.adopt(session, me.hospital_id, found, _now(), me.actor)
    except release.ReleaseError as error:
        current_app.logger.error("release manifest: %s", error.message)
        flash(gettext("The release could not be adopted; the library team has been told."), "error")
        return redirect(back, 303)
    flash(
        gettext(
            "Adopted release %(version)s: %(moved)s enrolment(s) moved to the new versions.",
            version=found.release.version,
            moved=sum(moved.values()),
        ),
        "ok",
    )
    return redirect(back, 303)


@blp.get("/review/<int:version_id>")
@require()
def review_page(version_id: int) -> Any:
    me = editor()
    with _db().reading() as session:
        try:
            version = authoring.get_version(session, me.hospital_id, version_id)
        except AuthoringError as error:
            audit_refusal(error)
            message = refusal_message(error, page_translate)
            return render_template("error.html", title=gettext("Not found"), message=message), 404
        document = authoring.document_of(session, version)
        refused = _need_page(READ_PERMISSION[document.kind])
        if refused is not None:
            return refused
        reviews = reviewing.reviews_of(session, version.id)
        approvals = reviewing.approvals(session, version)
        policy = reviewing.policy_of(session, me.hospital_id)
        hook = current_app.extensions.get("carepath.review_impact")
        impact = hook(session, version) if hook is not None and version.status == "in_review" else None
        context = {
            "document": document,
            "version": version,
            "path": display_path(document.kind, document.name),
            "diff": diff_lines(upstream.review_diff(session, me.hospital_id, version.id, shipped())),
            "reviews": reviews,
            "approvals": len(approvals),
            "needed": policy.approvals,
            "own": me.id in (version.author_id, version.saved_by_id),
            "reviewed": any(r.reviewer_id == me.id and r.round == version.round for r in reviews),
            "may_review": me.permissions >= {authoring.REVIEW_PERMISSION[document.kind]}
            and bool(me.roles & set(policy.roles)),
            "may_publish": authoring.PUBLISH_PERMISSION[document.kind] in me.permissions,
            "impact": impact,
            "safety_release": _in_safety_release(document, version),
        }
    return render_template("editor/review_detail.html", **context)


def _in_safety_release(document: Any, version: Any) -> bool:
    """An adoption of a shipped text that a safety release changed: publishing proposes "move"."""
    if version.origin != "upstream":
        return False
    try:
        found = release.load_release(shipped())
    except release.ReleaseError:
        return False
    return found is not None and found.safety and document.name in found.names(document.kind)


@blp.post("/review/<int:version_id>/decide")
@require()
def decide(version_id: int) -> Response:
    decision = request.form.get("decision", "")
    comment = request.form.get("comment", "")[:2000]
    try:
        with _db().transaction() as session:
            reviewing.review(session, editor(), version_id, decision, comment, now=_now())
        flash(gettext("Approved.") if decision == "approve" else gettext("Sent back to the author."), "ok")
    except AuthoringError as error:
        _failed(error)
    return redirect(url_for(".review_page", version_id=version_id), 303)


@blp.post("/review/<int:version_id>/publish")
@require()
def publish(version_id: int) -> Response:
    choice = request.form.get("migrate")
    try:
        with _db().transaction() as session:
            kind = authoring.document_of(
                session, authoring.get_version(session, editor().hospital_id, version_id)
            ).kind
            if kind == "pathway" and choice not in ("yes", "no"):
                flash(gettext("Choose whether women already enrolled move to the new version."), "error")
                return redirect(url_for(".review_page", version_id=version_id), 303)
            publishing.publish(session, editor(), version_id, now=_now(), migrate=choice == "yes")
        flash(gettext("Published."), "ok")
    except AuthoringError as error:
        _failed(error)
    return redirect(url_for(".review_page", version_id=version_id), 303)


@blp.get("/history/<kind>/<name>")
@require()
def history_page(kind: str, name: str) -> Any:
    me = editor()
    if kind not in KINDS:
        return render_template("error.html", title=gettext("Not found"), message=kind), 404
    refused = _need_page(READ_PERMISSION[kind])
    if refused is not None:
        return refused
    with _db().reading() as session:
        document = authoring.find_document(session, me.hospital_id, kind, name)
        versions = authoring.versions_of(session, document.id) if document else []
        current = authoring.current_published(versions)
        rows = [
            {
                "version": v,
                "current": current is not None and v.id == current.id,
                "reviews": reviewing.reviews_of(session, v.id),
            }
            for v in reversed(versions)
        ]
        events = authoring.history(session, me.hospital_id, document.id) if document else []
        numbers = {v.id: v.number for v in versions}
    return render_template(
        "editor/history.html",
        kind=kind,
        name=name,
        path=display_path(kind, name),
        rows=rows,
        events=[(e, numbers.get(e.version_id) if e.version_id else None) for e in events],
        may_publish=authoring.PUBLISH_PERMISSION[kind] in me.permissions,
    )


@blp.post("/history/<int:version_id>/rollback")
@require()
def rollback(version_id: int) -> Any:
    choice = request.form.get("migrate")
    comment = request.form.get("comment", "")[:2000]
    try:
        with _db().reading() as session:
            version = authoring.get_version(session, editor().hospital_id, version_id)
            document = authoring.document_of(session, version)
            kind, name = document.kind, document.name
    except AuthoringError as error:
        message = refusal_message(error, page_translate)
        return render_template("error.html", title=gettext("Not found"), message=message), 404
    back = url_for(".history_page", kind=kind, name=name)
    if kind == "pathway" and choice not in ("yes", "no"):
        flash(gettext("Choose whether women already enrolled move to the new version."), "error")
        return redirect(back, 303)
    try:
        with _db().transaction() as session:
            publishing.rollback(
                session, editor(), version_id, now=_now(), migrate=choice == "yes", comment=comment
            )
        flash(gettext("Rolled back: the earlier text is published as a new version."), "ok")
    except AuthoringError as error:
        _failed(error)
    return redirect(back, 303)


@blp.post("/upstream/<int:document_id>/<any(adopt, dismiss):action>")
@require()
def upstream_action(document_id: int, action: str) -> Response:
    try:
        with _db().transaction() as session:
            if action == "adopt":
                version = upstream.adopt(session, editor(), document_id, now=_now(), shipped=shipped())
                flash(
                    gettext("A draft with the shipped text was opened; it is published after review."), "ok"
                )
                del version
            else:
                upstream.dismiss(
                    session,
                    editor(),
                    document_id,
                    now=_now(),
                    comment=request.form.get("comment", "")[:2000],
                    shipped=shipped(),
                )
                flash(gettext("Kept the hospital's own version."), "ok")
    except AuthoringError as error:
        _failed(error)
    return redirect(url_for(".review_list"), 303)


@blp.route("/policy", methods=["GET", "POST"])
@require("workflow.configure")
def policy_page() -> Any:
    """The hospital's review workflow (审核流程配置): approvals needed and reviewing roles."""
    me = editor()
    if request.method == "POST":
        try:
            approvals = int(request.form.get("approvals", "0"))
        except ValueError:
            approvals = 0
        try:
            with _db().transaction() as session:
                reviewing.set_policy(
                    session,
                    me,
                    approvals,
                    request.form.getlist("roles"),
                    now=_now(),
                    known_roles=frozenset(ROLES),
                )
            flash(gettext("Saved."), "ok")
        except AuthoringError as error:
            flash(refusal_message(error, page_translate), "error")
        return redirect(url_for(".policy_page"), 303)
    with _db().reading() as session:
        policy = reviewing.policy_of(session, me.hospital_id)
    reviews = {
        role: bool(ROLE_PERMISSIONS[role] & set(authoring.REVIEW_PERMISSION.values())) for role in ROLES
    }
    return render_template("editor/policy.html", policy=policy, roles=ROLES, reviews=reviews)
