"""Staff login pages: ``/login``, ``/logout``, ``/account/password`` and the home page ``/``."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext, lazy_gettext

from carepath.store import accounts, held_content
from carepath.store.roles import PERMISSIONS
from carepath.webapi.auth import sessions
from carepath.webapi.auth.permissions import current_staff, require
from carepath.webapi.common.i18n import safe_next

blp = Blueprint("auth", __name__, template_folder="templates")  # auth/templates/auth/*.html

#: What the UI says for each account error code (the service's messages are English).
MESSAGES = {
    "login-failed": lazy_gettext("Wrong username or password."),
    "wrong-password": lazy_gettext("The current password is wrong."),
    "password-too-short": lazy_gettext(
        "A password has at least %(n)s characters.", n=accounts.MIN_PASSWORD_LENGTH
    ),
    "password-too-long": lazy_gettext(
        "A password has at most %(n)s characters.", n=accounts.MAX_PASSWORD_LENGTH
    ),
    "password-is-username": lazy_gettext("The password must not be the username."),
    "password-contains-username": lazy_gettext("The password must not contain the username."),
    "password-blank": lazy_gettext("A password cannot be only spaces."),
    "password-trivial": lazy_gettext(
        "This password is too simple: a character or a short piece repeated, or a run such as 1234567890."
    ),
    "password-common": lazy_gettext("This password is one of the most common ones. Please choose another."),
    "password-unchanged": lazy_gettext("The new password is the same as the current one."),
    "password-mismatch": lazy_gettext("The two new passwords differ."),
    "invalid-username": lazy_gettext(
        "A username is 2 to 64 letters, digits, “.”, “_” or “-”, starting with a letter or digit."
    ),
    "username-taken": lazy_gettext("This username is taken."),
    "unknown-role": lazy_gettext("Unknown role."),
    "no-role": lazy_gettext("Choose at least one role."),
    "name-required": lazy_gettext("A name is required."),
    "last-admin": lazy_gettext(
        "The hospital's last active administrator cannot lose the role or be disabled."
    ),
}


def message_for(error: Exception) -> str:
    code = getattr(error, "code", "")
    return str(MESSAGES.get(code, str(error)))


def _locked_message(error: accounts.LoginLockedError) -> str:
    if error.held:
        return gettext("Too many failed logins: this account is locked. Ask an administrator to unlock it.")
    minutes = max(1, (error.retry_after + 59) // 60)
    return gettext("Too many failed logins. Try again in %(minutes)s minutes.", minutes=minutes)


def _locked_headers(error: accounts.LoginLockedError) -> dict[str, str]:
    """Retry-After only for a lock that passes by itself (an admin ends the other)."""
    return {} if error.held else {"Retry-After": str(error.retry_after)}


def _services() -> tuple[Any, Any]:
    return current_app.extensions["carepath.db"], current_app.config["CLOCK"]()


@blp.get("/login")
def login() -> Any:
    if current_staff() is not None:
        return redirect(safe_next(request.args.get("next"), url_for("auth.home")))
    return render_template("auth/login.html", next=request.args.get("next", ""), username="")


@blp.post("/login")
def login_post() -> Any:
    db, now = _services()
    username = request.form.get("username", "")[:200]
    password = request.form.get("password", "")
    target = request.form.get("next", "")
    try:
        result = accounts.login(
            db,
            username,
            password,
            now,
            remote_addr=request.remote_addr,
            limits=sessions.throttle_limits(),
            profile=current_app.config["PASSWORD_HASHER"],
        )
    except accounts.LoginLockedError as exc:
        page = render_template("auth/login.html", next=target, username=username, error=_locked_message(exc))
        return page, 429, _locked_headers(exc)
    except accounts.LoginFailedError as exc:
        page = render_template("auth/login.html", next=target, username=username, error=message_for(exc))
        return page, 401
    sessions.start_session(result.token)
    return redirect(safe_next(target, url_for("auth.home")))


@blp.post("/logout")
def logout() -> Any:
    db, now = _services()
    token = sessions.session_token()
    if token:
        accounts.logout(db, token, now, request.remote_addr)
    sessions.end_session()
    flash(gettext("You have logged out."), "info")
    return redirect(url_for("auth.login"))


#: The staff home's links (issue 20 item 5): each page by its Chinese name, shown to whoever
#: holds its permission and only once the page exists in this build (a page is named by its
#: endpoint, or by its path when another package adds it later).
HOME_PAGES: tuple[tuple[str, str, str], ...] = (
    (lazy_gettext("My work"), "staff_work.work", "task.work"),
    (lazy_gettext("High-risk register"), "/staff/register", "patient.read"),  # issue 21
    (lazy_gettext("Patients"), "/staff/patients", "patient.read"),
    (lazy_gettext("Register a woman"), "/staff/desk", "patient.register"),  # issue 21
    (lazy_gettext("Batch actions"), "/staff/batches", "batch.run"),  # issue 21
    (lazy_gettext("Teams"), "/staff/teams", "staff.manage"),
    (lazy_gettext("Editor"), "editor.index", "pathway.read"),
    (lazy_gettext("Preview"), "editor_preview.preview_page", "pathway.read"),
    (lazy_gettext("Review"), "editor_review.review_list", "content.read"),
    (lazy_gettext("Review workflow"), "editor_review.policy_page", "workflow.configure"),
    (lazy_gettext("Staff and roles"), "staff_admin.staff_list", "staff.manage"),
    (lazy_gettext("Requests from women"), "/staff/requests", "deletion.handle"),  # issue 21
    (lazy_gettext("Audit log"), "/staff/audit", "audit.read"),  # issue 21
    # her own entries of the same log, for whoever works with women and may not read it all
    (lazy_gettext("My actions"), "/staff/audit", "task.work"),
)


def home_pages(staff: accounts.StaffIdentity) -> list[tuple[str, str]]:
    """(name, URL) of each page of ``HOME_PAGES`` this staff member may open."""
    paths = {rule.rule for rule in current_app.url_map.iter_rules()}
    pages = []
    for name, target, permission in HOME_PAGES:
        if not staff.can(permission) or any(url == target for _, url in pages):
            continue  # one link a page: who reads the whole log needs no "my actions"
        if target.startswith("/"):
            if target in paths:
                pages.append((str(name), target))
        elif target in current_app.view_functions:
            pages.append((str(name), url_for(target)))
    return pages


@blp.get("/")
@require()
def home() -> Any:
    staff = current_staff()
    assert staff is not None
    granted = [(name, PERMISSIONS[name]) for name in PERMISSIONS if staff.can(name)]
    with current_app.extensions["carepath.db"].reading() as session:
        held = held_content.held_counts(session, staff.hospital_id)
    return render_template(
        "auth/home.html",
        granted=granted,
        held=held,
        held_total=sum(count for _, _, count in held),
        pages=home_pages(staff),
    )


@blp.get("/account/me")
@require()
def me() -> Any:
    """Who is logged in, as JSON, for the pages' scripts (show what the role may do)."""
    staff = current_staff()
    assert staff is not None
    return {
        "id": staff.staff_id,
        "hospital": staff.hospital_id,
        "username": staff.username,
        "name": staff.name,
        "roles": list(staff.roles),
        "permissions": sorted(staff.permissions),
    }


@blp.route("/account/password", methods=["GET", "POST"])
@require()
def change_password() -> Any:
    staff = current_staff()
    assert staff is not None
    if request.method == "GET":
        return render_template("auth/password.html")
    old = request.form.get("old_password", "")
    new = request.form.get("new_password", "")
    if new != request.form.get("new_password_again", ""):
        return render_template("auth/password.html", error=str(MESSAGES["password-mismatch"])), 422
    db, now = _services()
    try:
        token = accounts.change_password(
            db,
            staff,
            old,
            new,
            now,
            remote_addr=request.remote_addr,
            limits=sessions.throttle_limits(),
            profile=current_app.config["PASSWORD_HASHER"],
        )
    except accounts.LoginLockedError as exc:
        return render_template("auth/password.html", error=_locked_message(exc)), 429, _locked_headers(exc)
    except accounts.AccountError as exc:
        return render_template("auth/password.html", error=message_for(exc)), 422
    sessions.start_session(token)
    flash(gettext("Password changed. Your other sessions have been logged out."), "info")
    return redirect(url_for("auth.home"))
