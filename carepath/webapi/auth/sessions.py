"""Staff sessions in the browser: the cookie, CSRF protection and who is logged in.

The Flask session cookie (signed with ``SECRET_KEY``; HttpOnly, SameSite=Lax, Secure when
``SESSION_COOKIE_SECURE``) carries only a random session token, the CSRF token and the
language; the session itself is a ``staff_sessions`` row (``store/accounts.py``), so logout,
a password change or disabling an account ends it at once in every process. The cookie is
emptied and refilled at login, so the token and the CSRF token change (no session fixation).

CSRF: flask-wtf's ``CSRFProtect`` checks every POST, PUT, PATCH and DELETE: forms carry
``csrf_token()`` in a hidden field, ``fetch()`` sends it in ``X-CSRFToken`` (``base.html`` puts it
in ``<meta name="csrf-token">``). The HMAC-signed API and FHIR are not cookie-authenticated
and are exempt (``exempt``), as the app factory says.
"""

from __future__ import annotations

import logging
import secrets
from datetime import timedelta
from typing import Any

from flask import Blueprint, Flask, current_app, g, render_template, request, session
from flask_babel import format_datetime, gettext
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.middleware.proxy_fix import ProxyFix

from carepath.store import accounts
from carepath.store.roles import PERMISSIONS, ROLE_TITLES
from carepath.webapi.auth.permissions import can, current_staff, wants_json
from carepath.webapi.common import problems
from carepath.webapi.common.problems import problem

log = logging.getLogger(__name__)
csrf = CSRFProtect()
SESSION_TOKEN = "sid"

#: Configuration of staff logins (``CAREPATH_<NAME>`` in the environment overrides each).
DEFAULTS: dict[str, Any] = {
    "SESSION_COOKIE_NAME": "carepath_session",
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "SESSION_COOKIE_SECURE": False,  # set true behind HTTPS
    "SESSION_IDLE_MINUTES": 30,
    "SESSION_MAX_HOURS": 12,
    "LOGIN_MAX_FAILURES_PER_USERNAME": 5,  # one username from one address
    "LOGIN_MAX_FAILURES_PER_ADDRESS": 20,
    "LOGIN_LOCK_MINUTES": 15,
    # one username from any address: the account is locked until an admin unlocks it
    "LOGIN_ACCOUNT_CEILING": 20,
    "LOGIN_ACCOUNT_CEILING_MINUTES": 60,
    "PASSWORD_HASHER": "rfc9106-low-memory",
    # Behind a reverse proxy, how many proxies set X-Forwarded-For/-Proto: the per-address
    # login limit needs the client's address, not the proxy's. 0: no proxy, trust no header.
    "TRUSTED_PROXIES": 0,
    # The CSRF token lives as long as the session (the session has its own limits), so a
    # form left open for an hour still saves.
    "WTF_CSRF_TIME_LIMIT": None,
}


def throttle_limits() -> accounts.ThrottleLimits:
    config = current_app.config
    lock = timedelta(minutes=int(config["LOGIN_LOCK_MINUTES"]))
    return accounts.ThrottleLimits(
        per_username=int(config["LOGIN_MAX_FAILURES_PER_USERNAME"]),
        per_address=int(config["LOGIN_MAX_FAILURES_PER_ADDRESS"]),
        window=lock,
        lock=lock,
        account_ceiling=int(config["LOGIN_ACCOUNT_CEILING"]),
        account_window=timedelta(minutes=int(config["LOGIN_ACCOUNT_CEILING_MINUTES"])),
    )


def session_limits() -> accounts.SessionLimits:
    config = current_app.config
    return accounts.SessionLimits(
        idle=timedelta(minutes=int(config["SESSION_IDLE_MINUTES"])),
        absolute=timedelta(hours=int(config["SESSION_MAX_HOURS"])),
    )


def start_session(token: str) -> None:
    """A fresh cookie for a new login: everything but the language is dropped, so the
    session token and the CSRF token are new."""
    lang = session.get("lang")
    session.clear()
    session[SESSION_TOKEN] = token
    if lang:
        session["lang"] = lang


def end_session() -> None:
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang


def _load_staff() -> None:
    g.staff = None
    g.session_problem = None
    if request.endpoint == "static":
        return
    token = session.get(SESSION_TOKEN)
    if not token:
        return
    check = accounts.check_session(
        current_app.extensions["carepath.db"], str(token), current_app.config["CLOCK"](), session_limits()
    )
    if check.identity is None:
        session.pop(SESSION_TOKEN, None)
        g.session_problem = check.reason
    else:
        g.staff = check.identity


#: Sent with every staff page (HTML outside /api/): no framing (clickjacking), scripts and
#: styles from this site only (inline styles allowed for the editor's CodeMirror), forms
#: posted only here.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)


def _page_headers(response: Any) -> Any:
    if response.mimetype != "text/html" or request.path.startswith("/api/"):
        return response
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "same-origin")
    if g.get("staff") is not None:  # the back button after logout shows nothing
        headers["Cache-Control"] = "no-store"
    return response


def _csrf_failed(error: CSRFError) -> Any:
    if wants_json():
        return problem(400, "csrf-failed", f"CSRF check failed: {error.description}")
    message = gettext(
        "The page had expired or the form was not sent by this site. Reload the page and try again."
    )
    return render_template("error.html", title=gettext("Form expired"), message=message), 400


def _browser_wants_page() -> bool:
    """A browser navigating (it says text/html), not a script or an integrator."""
    return "text/html" in request.headers.get("Accept", "") and not (
        request.path.startswith(("/api/", "/fhir/")) or wants_json()
    )


def page_or_problem(error: HTTPException) -> Any:
    """404 and 405 as a page for a browser; problem+json for everyone else, as before."""
    if not _browser_wants_page():
        return problems.http_problem(error)
    if error.code == 404:
        title, message = gettext("Not found"), gettext("There is no such page.")
    else:
        title, message = gettext("Not allowed"), gettext("This page cannot be used that way.")
    return render_template("error.html", title=title, message=message), error.code


def init_app(app: Flask, exempt: list[Blueprint]) -> None:
    """Cookie settings, CSRF (all but ``exempt``), and ``g.staff`` for every request."""
    if not app.config.get("SECRET_KEY"):
        # Sessions then last only as long as this process; `carepath demo setup` writes a key.
        log.warning("SECRET_KEY is not set: using a random one, staff sessions end at restart")
        app.config["SECRET_KEY"] = secrets.token_hex(32)
    csrf.init_app(app)
    for blueprint in exempt:
        csrf.exempt(blueprint)
    proxies = int(app.config["TRUSTED_PROXIES"])
    if proxies:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)  # type: ignore[method-assign]
    app.before_request(_load_staff)
    app.after_request(_page_headers)
    app.register_error_handler(CSRFError, _csrf_failed)
    app.register_error_handler(NotFound, page_or_problem)
    app.register_error_handler(MethodNotAllowed, page_or_problem)
    app.jinja_env.globals.update(
        current_staff=current_staff,
        can=can,
        role_label=role_label,
        permission_label=permission_label,
        min_password_length=accounts.MIN_PASSWORD_LENGTH,
    )
    app.jinja_env.filters["localtime"] = lambda value: format_datetime(value, "yyyy-MM-dd HH:mm")


def role_label(role: str) -> str:
    return gettext(ROLE_TITLES[role]) if role in ROLE_TITLES else role


def permission_label(name: str) -> str:
    return gettext(PERMISSIONS[name]) if name in PERMISSIONS else name


def session_token() -> str | None:
    token = session.get(SESSION_TOKEN)
    return str(token) if token else None
