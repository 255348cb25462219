"""Integrator authentication: every request signed with HMAC-SHA256 over a canonical string.

The canonical string (``carepath/signing.py`` is the definition) is, in scheme V2, seven lines
joined by ``\\n`` (no trailing newline), and an eighth when the request carries
``X-Carepath-Staff`` (a staff tool naming who acts)::

    CAREPATH-HMAC-SHA256-V2
    <METHOD>                      upper case, e.g. POST
    <PATH>                        the path, plus ?query exactly as sent when there is one
    <TIMESTAMP>                   Unix seconds, the X-Carepath-Timestamp header
    <KEY ID>                      the X-Carepath-Key header, e.g. ck_0123456789abcdef
    <BODY SHA-256>                lower-case hex SHA-256 of the raw body (of b"" when empty)
    <NONCE>                       the X-Carepath-Nonce header, new for every request
    <STAFF>                       only when sent: the X-Carepath-Staff header's exact value

So the acting staff member is covered by the signature: a staff header changed, added or
removed after signing is an ``auth-bad-signature``. A request without ``X-Carepath-Nonce`` is
scheme V1 (first line ``CAREPATH-HMAC-SHA256``, no nonce line), accepted while the transition
lasts (``replay.py``).

Headers: ``X-Carepath-Key``, ``X-Carepath-Timestamp``, ``X-Carepath-Content-SHA256`` (the body
hash), ``X-Carepath-Nonce`` and ``X-Carepath-Signature`` (lower-case hex HMAC-SHA256 of the
canonical string with the key's secret). The timestamp must be within 5 minutes of the
server's clock, and a nonce is accepted once per key within that window. A failure is a 401
problem whose code names the part that failed.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import current_app, g, request

from carepath.signing import HEADERS, STAFF_HEADER, canonical_string, sign_request, signature
from carepath.store import tasks, tenants
from carepath.store.accounts import StaffIdentity
from carepath.store.scope import Actor
from carepath.webapi.auth import replay
from carepath.webapi.common.problems import ApiProblemError

#: Tests, the bench and docs/signing.md's example sign with the one shared helper.
sign = sign_request


def _fail(code: str, detail: str, **extra: Any) -> ApiProblemError:
    return ApiProblemError(401, code, detail, **extra)


def _latin1(header: str) -> bytes:
    """A header's bytes as sent: compare_digest refuses non-ASCII text (a TypeError, a 500)."""
    return header.encode("latin-1", errors="replace")


def authenticate(*, nonce_with_the_work: bool = False) -> Actor:
    """The integrator that signed this request, or a 401 ApiProblemError naming what failed.
    ``nonce_with_the_work``: the view claims the nonce in its transaction (``replay.py``)."""
    missing = [h for h in HEADERS if not request.headers.get(h)]
    if missing:
        raise _fail("auth-missing-header", f"missing header(s): {', '.join(missing)}", missing=missing)
    key_id = request.headers["X-Carepath-Key"]
    timestamp = request.headers["X-Carepath-Timestamp"]
    if not (timestamp.isascii() and timestamp.isdigit()) or len(timestamp) > 12:  # '²'.isdigit()
        raise _fail("auth-bad-timestamp", "X-Carepath-Timestamp must be Unix seconds, e.g. 1767225600")
    now = current_app.config["CLOCK"]()
    skew = abs(now.timestamp() - int(timestamp))
    window = current_app.config["REPLAY_WINDOW_SECONDS"]
    if skew > window:
        raise _fail(
            "auth-stale-timestamp",
            f"X-Carepath-Timestamp is {int(skew)} s away from the server's clock; the limit is {window} s",
            server_time=int(now.timestamp()),
        )
    nonce = replay.nonce_or_v1(now)  # None: scheme V1, still accepted
    body = request.get_data(cache=True)
    digest = hashlib.sha256(body).hexdigest()
    if not hmac.compare_digest(
        digest.encode(), _latin1(request.headers["X-Carepath-Content-SHA256"].lower())
    ):
        raise _fail(
            "auth-body-hash-mismatch",
            "X-Carepath-Content-SHA256 is not the SHA-256 of the body received",
            body_sha256=digest,
        )
    db = current_app.extensions["carepath.db"]
    cipher = current_app.extensions["carepath.cipher"]
    info = tenants.cached_key_info(db, cipher, key_id)
    if info is None:
        raise _fail("auth-unknown-key", f"no API key {key_id!r}")
    if info.revoked:
        raise _fail("auth-revoked-key", f"API key {key_id!r} has been revoked")
    path = request.path + (f"?{request.query_string.decode('latin-1')}" if request.query_string else "")
    staff = request.headers.get(STAFF_HEADER)  # None when absent: no staff line
    text = canonical_string(request.method, path, timestamp, key_id, digest, nonce=nonce, staff=staff)
    expected = signature(info.secret, text)
    if not hmac.compare_digest(expected.encode(), _latin1(request.headers["X-Carepath-Signature"].lower())):
        raise _fail(
            "auth-bad-signature",
            "X-Carepath-Signature does not match; check the canonical string and the secret",
            canonical_string=text,
        )
    if nonce is not None:  # only a verified request's nonce is kept: no one burns another's
        replay.claim(key_id, nonce, int(timestamp), now, with_the_work=nonce_with_the_work)
    return Actor(info.hospital_id, "integrator", str(info.integrator_id), request.remote_addr)


def acting_staff(integrator: Actor) -> StaffIdentity:
    """The staff member named by ``X-Carepath-Staff``, of the signing ``integrator``'s hospital,
    with the permissions of their roles (``permissions.require_staff`` checks them).

    A missing or malformed header is a 401 ``auth-missing-staff``, an id not of that hospital
    (or a disabled account) a 403 ``unknown-staff``.
    """
    text = request.headers.get(STAFF_HEADER, "")
    if not text.isdigit() or len(text) > 18:
        raise ApiProblemError(
            401, "auth-missing-staff", f"{STAFF_HEADER} must be the acting staff member's id"
        )
    db = current_app.extensions["carepath.db"]
    try:
        return tasks.staff_identity(db, integrator.hospital_id, int(text))
    except tasks.UnknownStaffError as exc:
        raise ApiProblemError(403, exc.code, exc.message) from None


def require_integrator(view: Callable[..., Any]) -> Callable[..., Any]:
    """Decorator: authenticate first; the actor is ``g.actor``."""

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        g.actor = authenticate()
        return view(*args, **kwargs)

    return wrapped


def require_integrator_nonce_with_the_work(view: Callable[..., Any]) -> Callable[..., Any]:
    """``require_integrator`` for a view that claims the nonce in its own transaction, within
    ``replay.claimed_with_the_work()`` (issue 22: one transaction per HIS event)."""

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        g.actor = authenticate(nonce_with_the_work=True)
        try:
            return view(*args, **kwargs)
        finally:
            replay.claim_left_over()  # a view that never took the claim: it is kept all the same

    return wrapped
