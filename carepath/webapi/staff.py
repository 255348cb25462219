"""Staff authentication for the staff tools' endpoints, until the editor issue brings logins.

A staff tool signs each request with its hospital's HMAC key (``require_integrator``) and
names the staff member it acts for in ``X-Carepath-Staff``: the id of a staff member of the
signing key's hospital (``carepath staff add`` prints it). The header is part of the signature
(the canonical string's seventh line, ``carepath/signing.py``). Every read is audited as
``staff:<id>`` with the request's remote address.
"""

from __future__ import annotations

from typing import Any

from flask import current_app, g, request

from carepath.signing import STAFF_HEADER
from carepath.store import tasks
from carepath.store.scope import Actor
from carepath.webapi.problems import ApiProblemError

#: ``@blp.doc(**STAFF_DOC)`` on every staff endpoint: the HMAC scheme and the staff header.
STAFF_DOC: dict[str, Any] = {
    "security": [{"carepath-hmac": []}],
    "parameters": [
        {
            "in": "header",
            "name": STAFF_HEADER,
            "required": True,
            "schema": {"type": "string", "pattern": "^[0-9]{1,18}$"},
            "description": "the id of the staff member (of the signing key's hospital) acting",
        }
    ],
}


def staff_actor() -> Actor:
    """The staff member named by ``X-Carepath-Staff``, of the signing key's hospital.

    Call after ``require_integrator`` (``g.actor`` is the signing integrator): a missing or
    malformed header is a 401 ``auth-missing-staff``, an id not of that hospital a 403
    ``unknown-staff``.
    """
    text = request.headers.get(STAFF_HEADER, "")
    if not text.isdigit() or len(text) > 18:
        raise ApiProblemError(
            401, "auth-missing-staff", f"{STAFF_HEADER} must be the acting staff member's id"
        )
    db = current_app.extensions["carepath.db"]
    try:
        return tasks.staff_actor(db, g.actor.hospital_id, int(text), request.remote_addr)
    except tasks.UnknownStaffError as exc:
        raise ApiProblemError(403, exc.code, exc.message) from None


def services() -> tuple[Any, Any, Any]:
    """The database, the field cipher and now (the app's clock), for a staff view."""
    return (
        current_app.extensions["carepath.db"],
        current_app.extensions["carepath.cipher"],
        current_app.config["CLOCK"](),
    )
