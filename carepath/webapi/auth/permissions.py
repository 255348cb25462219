"""The one place a view's permission is checked: ``@require("pathway.edit")`` for a staff
session, ``@require_staff("task.work")`` for the signed staff API.

Roles and their permissions are the table in ``carepath/store/roles.py`` (re-exported here).
A view never tests a role. Both decorators resolve who acts (the session's staff member, or
the staff member a signed request names in ``X-Carepath-Staff``) to a ``StaffIdentity`` and
ask it the same question, ``can(permission)``. Refusals have stable codes: a browser page goes
to the login form (not logged in) or gets a 403 page; a JSON request (``/api/``, a JSON body,
``Accept: application/json`` or ``X-Requested-With``) gets problem+json ``login-required`` or
``session-expired`` (401) or ``permission-denied`` (403, naming the permission).

What was refused is audited through the one audit writer (``store/audit.py``), in its own
transaction after the request's own has ended, so a refusal answers at once and its row
outlives the rollback: ``refused`` (who lacked which permission for which path), and
``not-found`` for an id the caller may not see (``init_app``: another hospital's pregnancy,
patient, task ... answers exactly as a missing one, and both are counted, one row per actor,
kind and minute, so the log shows probing without telling anyone which ids exist elsewhere).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import Flask, Response, current_app, g, redirect, render_template, request, url_for
from flask_babel import gettext

from carepath.errors import CarepathError
from carepath.store import audit
from carepath.store.accounts import StaffIdentity
from carepath.store.inbox import InboxItemNotFoundError
from carepath.store.patients import PatientNotFoundError
from carepath.store.roles import PERMISSIONS, ROLE_PERMISSIONS, ROLES, permissions_of
from carepath.store.scope import Actor, PregnancyNotFoundError
from carepath.store.tasks import TaskNotFoundError
from carepath.webapi.auth.integrators import acting_staff, authenticate
from carepath.webapi.common.problems import ApiProblemError, from_error

__all__ = [
    "PERMISSIONS",
    "ROLES",
    "ROLE_PERMISSIONS",
    "can",
    "current_staff",
    "init_app",
    "permissions_of",
    "record_not_found",
    "record_refused",
    "require",
    "require_staff",
    "wants_json",
]

#: Errors that answer 404 for an id the caller may not see, missing or another hospital's.
UNSEEN_ERRORS: tuple[type[CarepathError], ...] = (
    PregnancyNotFoundError,
    PatientNotFoundError,
    TaskNotFoundError,
    InboxItemNotFoundError,
)


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


def _known(permission: str) -> str:
    if permission not in PERMISSIONS:
        raise ValueError(f"unknown permission {permission!r}; one of {', '.join(PERMISSIONS)}")
    return permission


def requester() -> Actor | None:
    """Who this request acts for, as the audit log names them: the staff member a signed
    staff request names, else the session's staff member, else the signing integrator."""
    identity: StaffIdentity | None = g.get("acting_staff") or current_staff()
    if identity is not None:
        return identity.actor(request.remote_addr)
    integrator: Actor | None = g.get("actor")
    return integrator


def record_refused(detail: str, actor: Actor | None = None) -> None:
    """Audit a refusal of this request (``refused``), in the audit writer's own transaction."""
    actor = actor or requester()
    if actor is not None:
        db = current_app.extensions["carepath.db"]
        audit.record(db, actor, "refused", current_app.config["CLOCK"](), detail)


def record_not_found(kind: str) -> None:
    """Count this request's attempt at a ``kind`` id it may not see (missing or another
    hospital's: the row does not say which, as the answer does not)."""
    actor = requester()
    if actor is not None:
        db = current_app.extensions["carepath.db"]
        now = current_app.config["CLOCK"]()
        detail = f"no {kind} visible: {request.method} {request.path[:300]}"
        audit.record_repeated(db, actor, "not-found", now, detail, target_kind=kind)


def refuse_anonymous() -> Any:
    """The answer to a request that needs a login and has none (or an ended one)."""
    expired = g.get("session_problem") in ("expired", "ended")
    if wants_json():
        if expired:
            raise ApiProblemError(401, "session-expired", "the session has expired; log in again")
        raise ApiProblemError(401, "login-required", "log in first")
    return redirect(_login_url())


def refuse(permission: str, staff: StaffIdentity | None = None) -> Any:
    """The audited answer to ``staff`` (default: the session's) lacking ``permission``."""
    staff = staff or current_staff()
    if staff is not None:
        record_refused(f"{permission} needed for {request.path[:300]}", staff.actor(request.remote_addr))
    if wants_json():
        raise ApiProblemError(
            403, "permission-denied", f"this needs the permission {permission}", permission=permission
        )
    message = gettext("Your account does not have the permission “%(permission)s”.", permission=permission)
    return render_template("error.html", title=gettext("Not allowed"), message=message), 403


def require(permission: str | None = None) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator: the view runs only for a logged-in staff member holding ``permission``
    (None: any logged-in staff member). An unknown permission fails at import, not at run."""
    if permission is not None:
        _known(permission)

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


def require_staff(permission: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator for the signed staff API: the request is signed with an integrator key (HMAC,
    ``g.actor``), names a staff member of that key's hospital in ``X-Carepath-Staff``
    (``g.acting_staff``), and that staff member holds ``permission``: the check ``require``
    makes for a session, refused the same way (403 ``permission-denied``, audited)."""
    _known(permission)

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            g.actor = authenticate()
            try:
                staff = acting_staff(g.actor)
            except ApiProblemError as problem:
                if problem.status == 403:  # the key names no active staff member of its hospital
                    record_refused(f"{problem.code} for {request.path[:300]}: {problem.message}", g.actor)
                raise
            g.acting_staff = staff
            if not staff.can(permission):
                return refuse(permission, staff)
            return view(*args, **kwargs)

        wrapped.required_permission = permission  # type: ignore[attr-defined]
        return wrapped

    return decorate


def _unseen(error: CarepathError) -> Response:
    record_not_found(error.code.removesuffix("-not-found"))
    return from_error(error)


def init_app(app: Flask) -> None:
    """Count every 404 for an id the caller may not see, then answer as ``problems`` does."""
    for error in UNSEEN_ERRORS:
        app.register_error_handler(error, _unseen)
