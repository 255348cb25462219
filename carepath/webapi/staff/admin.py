"""``/admin/staff``: the hospital's staff accounts and roles (医护账号增删改查, 用户及角色管理).

Admins only (``staff.manage``), and only their own hospital's staff: another hospital's
staff member is not found. Accounts are disabled, never deleted, so the audit log and the
versions they wrote keep naming them. An account that failed logins locked (the ceiling of
``login_throttle.py``) is unlocked here, audited as who unlocked whom.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext

from carepath.store import accounts
from carepath.store.roles import PERMISSIONS, ROLE_PERMISSIONS, ROLES
from carepath.webapi.auth.permissions import current_staff, record_not_found, require
from carepath.webapi.auth.views import message_for

blp = Blueprint("staff_admin", __name__, url_prefix="/admin/staff")


def _context() -> tuple[Any, Any, Any]:
    staff = current_staff()
    assert staff is not None
    return current_app.extensions["carepath.db"], current_app.config["CLOCK"](), staff


def _not_found() -> Any:
    record_not_found("staff")  # another hospital's staff id answers, and is counted, as a missing one
    message = gettext("No such staff member in your hospital.")
    return render_template("error.html", title=gettext("Not found"), message=message), 404


def _form_page(template_staff: Any, form: dict[str, Any], error: str | None, status: int) -> Any:
    page = render_template(
        "admin/staff_form.html",
        staff=template_staff,
        form=form,
        error=error,
        roles=ROLES,
        role_permissions=ROLE_PERMISSIONS,
        permissions=PERMISSIONS,
    )
    return page, status


@blp.get("")
@require("staff.manage")
def staff_list() -> Any:
    db, _now, me = _context()
    return render_template(
        "admin/staff_list.html",
        staff=accounts.list_staff(db, me.hospital_id),
        roles=ROLES,
        role_permissions=ROLE_PERMISSIONS,
        permissions=PERMISSIONS,
    )


@blp.route("/new", methods=["GET", "POST"])
@require("staff.manage")
def staff_new() -> Any:
    db, now, me = _context()
    if request.method == "GET":
        return _form_page(None, {"roles": []}, None, 200)
    form = {
        "username": request.form.get("username", "")[:200],
        "name": request.form.get("name", "")[:200],
        "job": request.form.get("job", "")[:200],
        "roles": request.form.getlist("roles"),
    }
    if not form["name"].strip():
        return _form_page(None, form, message_for(accounts.AccountError("", code="name-required")), 422)
    try:
        created = accounts.create_account(
            db,
            me.hospital_id,
            form["username"],
            request.form.get("password", ""),
            form["roles"],
            now=now,
            name=form["name"].strip(),
            job=form["job"].strip() or None,
            by=me.actor(request.remote_addr),
            profile=current_app.config["PASSWORD_HASHER"],
        )
    except accounts.AccountError as exc:
        return _form_page(None, form, message_for(exc), 422)
    flash(gettext("Created the account %(username)s.", username=created.username), "info")
    return redirect(url_for("staff_admin.staff_list"))


@blp.route("/<int:staff_id>", methods=["GET", "POST"])
@require("staff.manage")
def staff_edit(staff_id: int) -> Any:
    db, now, me = _context()
    try:
        existing = accounts.get_staff(db, me.hospital_id, staff_id)
    except accounts.StaffNotFoundError:
        return _not_found()
    if request.method == "GET":
        form = {
            "username": existing.username or "",
            "name": existing.name,
            "job": existing.job,
            "roles": existing.roles,
        }
        return _form_page(existing, {**form, "disabled": existing.disabled}, None, 200)
    form = {
        "username": request.form.get("username", "")[:200],
        "name": request.form.get("name", "")[:200],
        "job": request.form.get("job", "")[:200],
        "roles": request.form.getlist("roles"),
        "disabled": request.form.get("disabled") == "on",
    }
    try:
        accounts.update_staff(
            db,
            me.actor(request.remote_addr),
            staff_id,
            now,
            name=form["name"],
            job=form["job"],
            roles=form["roles"],
            disabled=form["disabled"],
            username=form["username"] or None,
            new_password=request.form.get("new_password") or None,
            profile=current_app.config["PASSWORD_HASHER"],
        )
    except accounts.AccountError as exc:
        return _form_page(existing, form, message_for(exc), 422)
    except accounts.StaffNotFoundError:
        return _not_found()
    flash(gettext("Saved %(name)s.", name=form["name"]), "info")
    return redirect(url_for("staff_admin.staff_list"))


@blp.post("/<int:staff_id>/unlock")
@require("staff.manage")
def staff_unlock(staff_id: int) -> Any:
    """Lift the failed-login locks of one account (its ceiling and every address's)."""
    db, now, me = _context()
    try:
        unlocked = accounts.unlock(db, me.actor(request.remote_addr), staff_id, now)
    except accounts.StaffNotFoundError:
        return _not_found()
    flash(gettext("Unlocked %(name)s: they can log in again.", name=unlocked.name), "info")
    return redirect(url_for("staff_admin.staff_list"))
