"""Her session: who the woman on her pages (``/h5/…``) is. Separate from staff sessions.

The API (everything her pages and registration need; nothing else here is public):

- ``sign_in_patient(patient_id, hospital_id, how)``: she proved who she is (``how``: ``wechat``,
  ``sms``, ``registration``, ``demo``); a new session starts and her cookie is emptied and
  refilled (new token, new CSRF token, nothing of the sign-in flow kept but ``next``).
- ``current_patient()``: a ``PatientIdentity`` (``patient_id``, ``hospital_id``,
  ``pregnancy_id`` of her current pregnancy or None, ``how``), or None when nobody is signed in.
- ``@require_patient``: a view guard; nobody signed in → her sign-in page (``h5.sign_in``) with
  ``next`` = this page (validated as a local path when used).
- ``sign_out()``: her session row goes and her cookie is emptied.
- ``her_hospital()``: the hospital this request is for, before she signs in (her session's,
  the flow's, the host's ``public_base_url``, ``?hospital=``, ``H5_HOSPITAL``, the only one).
- ``remember_openid(hospital_id, appid, openid)`` / ``pending_openid()``: web authorisation found
  an openid bound to nobody; registration reads it (and binds it) before it calls
  ``sign_in_patient``, which forgets it.
- ``remember_verified_phone(hospital_id, phone)`` / ``verified_phone()``: an SMS code proved she
  holds a phone nobody of this hospital registered with; registration may take it as proved
  (within the half hour), and ``sign_in_patient`` forgets it.
- ``next_page(default)`` / ``remember_next(path)``: the local path she was going to (``next``,
  only a local path is kept), or ``default`` (her home).

The cookie. Flask's one session interface is made to serve two cookies: on ``/h5/…`` the
session is hers, ``carepath_h5`` (``H5_SESSION_COOKIE_NAME``), Path ``/h5``, HttpOnly,
SameSite=Lax, Secure when the request came over HTTPS or her hospital's ``public_base_url`` is
https on this host, signed with ``SECRET_KEY`` under a salt of its own; everywhere else it is the
staff cookie (``auth/sessions.py``), unchanged. So a staff cookie is never read as hers, nor hers
as staff's, and the browser never sends hers to a staff page.

What the cookie holds: a random token (her session is a ``patient_sessions`` row keyed by its
SHA-256: ``store/patient_sessions.py``), the CSRF token, and, during a sign-in only, the
flow's hospital, ``next``, the WeChat ``state`` and a pending openid. A server-side row rather
than a signed cookie alone, so that sign-out, staff ending her sessions and the idle limit
(``H5_SESSION_IDLE_HOURS``, default a week: she opens her pages about weekly, and inside WeChat
signing in again is silent; ``H5_SESSION_MAX_DAYS`` 30 at most) take effect on the server at once.
The flow's values need no row: the signature stops her changing them, and an openid in it is
her own.

CSRF: flask-wtf's ``CSRFProtect`` (as on staff pages) checks every POST of hers; since the
session on ``/h5/…`` is hers, the token lives in her cookie. Every form of hers carries
``<input type="hidden" name="csrf_token" value="{{ csrf_token() }}">``; a script sends it in
``X-CSRFToken``. A refused form is her Chinese page (``h5/signin.py``), not staff's.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from flask import (
    Flask,
    current_app,
    g,
    has_request_context,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.sessions import SecureCookieSessionInterface
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import select
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound

from carepath.store import hospital_settings, patient_sessions
from carepath.store.models import Hospital, HospitalSettingsRow
from carepath.store.patient_sessions import PatientIdentity
from carepath.webapi.auth import sessions
from carepath.webapi.common import problems
from carepath.webapi.common.i18n import safe_next
from carepath.webapi.common.problems import ApiProblemError

__all__ = [
    "PatientIdentity",
    "current_patient",
    "her_hospital",
    "next_page",
    "pending_openid",
    "remember_next",
    "remember_openid",
    "remember_verified_phone",
    "require_patient",
    "sign_in_patient",
    "sign_out",
    "verified_phone",
]

#: Her pages live under this path; her cookie is sent only there.
PREFIX = "/h5"
TOKEN = "her"  # never "sid": that is the staff session's key
HOSPITAL = "hospital"
NEXT = "next"
PENDING = "wx_pending"
VERIFIED_PHONE = "phone_proved"
#: A pending openid is forgotten after this long (she registers within the half hour).
PENDING_SECONDS = 30 * 60

DEFAULTS: dict[str, Any] = {
    "H5_SESSION_COOKIE_NAME": "carepath_h5",
    "H5_SESSION_IDLE_HOURS": 24 * 7,
    "H5_SESSION_MAX_DAYS": 30,
    # The hospital of her pages when nothing else says (a one-hospital server, the demo).
    "H5_HOSPITAL": "",
    # Where web authorisation starts (a test points it at its fake WeChat).
    "WECHAT_AUTHORIZE_URL": "https://open.weixin.qq.com/connect/oauth2/authorize",
    # One-time SMS codes: at most this many an hour to one phone, and from one address.
    "H5_CODES_PER_PHONE": 5,
    "H5_CODES_PER_ADDRESS": 20,
}


def _hers(path: str) -> bool:
    return path == PREFIX or path.startswith(PREFIX + "/")


class AudienceSessionInterface(SecureCookieSessionInterface):
    """Staff's signed cookie everywhere but ``/h5/…``, where it is hers (see the module)."""

    def _for_her(self) -> bool:
        return has_request_context() and _hers(request.path)

    def get_cookie_name(self, app: Flask) -> str:
        return str(app.config["H5_SESSION_COOKIE_NAME"]) if self._for_her() else super().get_cookie_name(app)

    def get_cookie_path(self, app: Flask) -> str:
        return PREFIX if self._for_her() else super().get_cookie_path(app)

    def get_cookie_secure(self, app: Flask) -> bool:
        if self._for_her():
            patient = g.get("patient")
            hospital = patient.hospital_id if patient is not None else session.get(HOSPITAL)
            return request.is_secure or (bool(hospital) and _https_here(str(hospital)))
        return super().get_cookie_secure(app)

    def get_cookie_samesite(self, app: Flask) -> str | None:
        return "Lax" if self._for_her() else super().get_cookie_samesite(app)

    def get_cookie_httponly(self, app: Flask) -> bool:
        return True if self._for_her() else super().get_cookie_httponly(app)

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        if not self._for_her():
            return super().get_signing_serializer(app)
        if not app.secret_key:
            return None
        return URLSafeTimedSerializer(
            app.secret_key,
            salt="carepath-h5-session",
            serializer=self.serializer,
            signer_kwargs={"key_derivation": self.key_derivation, "digest_method": self.digest_method},
        )

    def get_expiration_time(self, app: Flask, session: Any) -> Any:
        if self._for_her() and session.permanent:
            return datetime.now(UTC) + timedelta(days=int(app.config["H5_SESSION_MAX_DAYS"]))
        return super().get_expiration_time(app, session)


def _limits() -> patient_sessions.SessionLimits:
    config = current_app.config
    return patient_sessions.SessionLimits(
        idle=timedelta(hours=int(config["H5_SESSION_IDLE_HOURS"])),
        absolute=timedelta(days=int(config["H5_SESSION_MAX_DAYS"])),
    )


def _db() -> Any:
    return current_app.extensions["carepath.db"]


def _now() -> Any:
    return current_app.config["CLOCK"]()


def _load_patient() -> None:
    g.patient = None
    if not _hers(request.path):
        return
    token = session.get(TOKEN)
    if token:
        g.patient = patient_sessions.check(_db(), str(token), _now(), _limits())
        if g.patient is None:
            session.pop(TOKEN, None)  # ended, idle too long or too old: signed out


def _https_here(hospital_id: str) -> bool:
    """Her hospital's ``public_base_url`` is https and names this host."""
    base = hospital_settings.current(_db(), hospital_id).public_base_url
    return bool(base) and str(base).startswith("https://") and urlsplit(str(base)).netloc == request.host


def _no_store(response: Any) -> Any:
    if g.get("patient") is not None:  # her pages are not kept by a shared phone's cache
        response.headers["Cache-Control"] = "no-store"
    return response


#: Her words for an address that is not a page, or not used that way (no view of hers ran, so
#: her blueprint's own handlers do not apply).
_HER_ERRORS = {
    404: ("没有找到", "没有这个页面。请从医院发给您的链接或首页进入。"),
    405: ("无法打开", "这个页面不能这样打开。请返回后再试。"),
}


def _her_page_or_staff(error: HTTPException) -> Any:
    code = error.code or 500
    if _hers(request.path) and code in _HER_ERRORS and "text/html" in request.headers.get("Accept", ""):
        title, text = _HER_ERRORS[code]
        return render_template("h5/message.html", title=title, text=text), code
    return sessions.page_or_problem(error)


def _her_page_or_problem(error: ApiProblemError) -> Any:
    """Text no database can keep in her address or form (``bad-text``, the common text guard,
    before any view of hers): a page in her words; anything else stays problem+json."""
    if _hers(request.path) and error.code == "bad-text" and "text/html" in request.headers.get("Accept", ""):
        return render_template(
            "h5/message.html",
            title="链接有误",
            text="这个链接或您填写的内容里有无法识别的字符。请返回后重新打开或重新填写。",
        ), error.status
    return problems.from_error(error)


def init_app(app: Flask) -> None:
    """Her cookie beside staff's, ``g.patient`` on every page of hers, and her error pages
    (after ``sessions.init_app``, whose handlers answer everything that is not hers)."""
    for name, value in DEFAULTS.items():
        app.config.setdefault(name, value)
    app.session_interface = AudienceSessionInterface()
    app.before_request(_load_patient)
    app.after_request(_no_store)
    app.register_error_handler(NotFound, _her_page_or_staff)
    app.register_error_handler(MethodNotAllowed, _her_page_or_staff)
    app.register_error_handler(ApiProblemError, _her_page_or_problem)
    app.jinja_env.globals["current_patient"] = current_patient


def current_patient() -> PatientIdentity | None:
    """Who is signed in on her pages, or None."""
    return g.get("patient")


def sign_in_patient(patient_id: int, hospital_id: str, how: str) -> PatientIdentity:
    """She proved who she is: a new session; her cookie refilled (only ``next`` kept)."""
    old = session.get(TOKEN)
    if old:
        patient_sessions.end(_db(), str(old), _now(), request.remote_addr)
    token, identity = patient_sessions.started(
        _db(), patient_id, hospital_id, how, _now(), remote_addr=request.remote_addr
    )
    target = session.get(NEXT)
    session.clear()
    session[TOKEN] = token
    if target:
        session[NEXT] = target
    session.permanent = True
    g.patient = identity
    return identity


def sign_out() -> None:
    token = session.get(TOKEN)
    if token:
        patient_sessions.end(_db(), str(token), _now(), request.remote_addr)
    session.clear()
    g.patient = None


def require_patient(view: Callable[..., Any]) -> Callable[..., Any]:
    """Her pages only for her: nobody signed in → the sign-in page, coming back here after."""

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if current_patient() is None:
            here = request.full_path.rstrip("?") if request.method == "GET" else None
            return redirect(url_for("h5.sign_in", next=here))
        return view(*args, **kwargs)

    return wrapped


def next_page(default: str | None = None) -> str:
    """Where she was going (a local path of her pages), or ``default`` (her home)."""
    fallback = default or f"{PREFIX}/"
    return safe_next(session.get(NEXT), fallback)


def remember_next(target: str | None) -> None:
    """Keep ``next`` (only a local path) for after the sign-in."""
    if target and safe_next(target, "") == target:
        session[NEXT] = target


def her_hospital() -> str | None:
    """The hospital of this request (see the module); remembered for the rest of the flow."""
    patient = current_patient()
    if patient is not None:
        return patient.hospital_id
    asked = request.args.get("hospital", "")
    with _db().reading() as db_session:
        known = set(db_session.scalars(select(Hospital.id)))
        found = asked if asked in known else session.get(HOSPITAL)
        if found not in known:
            found = None
        if found is None:
            rows = db_session.execute(
                select(HospitalSettingsRow.hospital_id, HospitalSettingsRow.public_base_url)
            ).all()
            found = next((h for h, base in rows if base and urlsplit(base).netloc == request.host), None)
    if found is None:
        configured = str(current_app.config.get("H5_HOSPITAL") or "")
        found = configured if configured in known else (next(iter(known)) if len(known) == 1 else None)
    if found is not None and session.get(HOSPITAL) != found:
        session[HOSPITAL] = found
    return found


@dataclass(frozen=True)
class PendingOpenid:
    """An openid of ``appid`` (her hospital's official account) bound to nobody yet."""

    hospital_id: str
    appid: str
    openid: str


def remember_openid(hospital_id: str, appid: str, openid: str) -> None:
    at = int(_now().timestamp())
    session[PENDING] = {"hospital": hospital_id, "appid": appid, "openid": openid, "at": at}


def pending_openid() -> PendingOpenid | None:
    """The openid web authorisation found for this browser within the last half hour, if
    nobody is bound to it; None otherwise."""
    found = session.get(PENDING)
    if not isinstance(found, dict) or int(found.get("at", 0)) + PENDING_SECONDS < _now().timestamp():
        return None
    return PendingOpenid(str(found["hospital"]), str(found["appid"]), str(found["openid"]))


def remember_verified_phone(hospital_id: str, phone: str) -> None:
    session[VERIFIED_PHONE] = {"hospital": hospital_id, "phone": phone, "at": int(_now().timestamp())}


def verified_phone() -> tuple[str, str] | None:
    """(hospital, 11-digit phone) an SMS code proved within the last half hour, else None."""
    found = session.get(VERIFIED_PHONE)
    if not isinstance(found, dict) or int(found.get("at", 0)) + PENDING_SECONDS < _now().timestamp():
        return None
    return str(found["hospital"]), str(found["phone"])
