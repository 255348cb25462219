"""The one place a view's permission is checked: ``@require("pathway.edit")``.

Roles and their permissions are the table in ``carepath/store/roles.py`` (re-exported here).
A view never tests a role. Refusals have stable codes: a browser page goes to the login form
(not logged in) or gets a 403 page; a JSON request (``/api/``, a JSON body, ``Accept:
application/json`` or ``X-Requested-With``) gets problem+json ``login-required`` or
``session-expired`` (401) or ``permission-denied`` (403, naming the permission).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import current_app, g, redirect, render_template, request, url_for
from flask_babel import gettext

from carepath.store import accounts
from carepath.store.accounts import StaffIdentity
from carepath.store.roles import PERMISSIONS, ROLE_PERMISSIONS, ROLES, permissions_of
from carepath.webapi.problems import ApiProblemError

__all__ = [
    "PERMISSIONS",
    "ROLES",
    "ROLE_PERMISSIONS",
    "can",
    "current_staff",
    "permissions_of",
    "require",
    "wants_json",
]


def current_staff() -> StaffIdentity | None:
    """The staff member logged in on this request's session, or None."""
    return g.get("staff")


def can(permission: str) -> bool:
    """Whether the logged-in staff member has ``permission`` (templates use it to hide links)."""
    staff = current_staff()
    return staff is not None and staff.can(permission)


def wants_json() -> bool:
    if (
        request.path.startswith(("/api/", "/editor/api/"))
        or request.is_json
        or request.headers.get("X-Requested-With")
    ):
        return True
    accept = request.accept_mimetypes
    return accept["application/json"] > accept["text/html"]


def _login_url() -> str:
    back = request.full_path.rstrip("?") if request.method == "GET" else request.path
    return url_for("auth.login", next=back)


def refuse_anonymous() -> Any:
    """The answer to a request that needs a login and has none (or an ended one)."""
    expired = g.get("session_problem") in ("expired", "ended")
    if wants_json():
        if expired:
            raise ApiProblemError(401, "session-expired", "the session has expired; log in again")
        raise ApiProblemError(401, "login-required", "log in first")
    return redirect(_login_url())


def refuse(permission: str) -> Any:
    staff = current_staff()
    if staff is not None:
        accounts.record_refusal(
            current_app.extensions["carepath.db"],
            staff,
            permission,
            request.path,
            current_app.config["CLOCK"](),
            remote_addr=request.remote_addr,
        )
    if wants_json():
        raise ApiProblemError(
            403, "permission-denied", f"this needs the permission {permission}", permission=permission
        )
    message = gettext("Your account does not have the permission “%(permission)s”.", permission=permission)
    return render_template("error.html", title=gettext("Not allowed"), message=message), 403


def require(permission: str | None = None) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator: the view runs only for a logged-in staff member holding ``permission``
    (None: any logged-in staff member). An unknown permission fails at import, not at run."""
    if permission is not None and permission not in PERMISSIONS:
        raise ValueError(f"unknown permission {permission!r}; one of {', '.join(PERMISSIONS)}")

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            staff = current_staff()
            if staff is None:
                return refuse_anonymous()
            if permission is not None and not staff.can(permission):
                return refuse(permission)
            return view(*args, **kwargs)

        wrapped.required_permission = permission  # type: ignore[attr-defined]
        return wrapped

    return decorate
