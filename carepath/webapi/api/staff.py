"""Staff authentication for the staff tools' endpoints, until the editor issue brings logins.

A staff tool signs each request with its hospital's HMAC key (``require_integrator``) and
names the staff member it acts for in ``X-Carepath-Staff``: the id of a staff member of the
signing key's hospital (``carepath staff add`` prints it). The header is part of the signature
(the canonical string's last line: the eighth under V2, the seventh under V1;
``carepath/signing.py``). Each endpoint says what
permission it needs with ``@require_staff(...)`` (``auth/permissions.py``), the same check and
the same refusal as for a logged-in session: the staff member's roles (``store/roles.py``)
decide, whichever integrator key signed. Every read is audited as ``staff:<id>`` with the
request's remote address.
"""

from __future__ import annotations

from typing import Any

from flask import current_app, g, request

from carepath.signing import STAFF_HEADER
from carepath.store.scope import Actor
from carepath.webapi.api.openapi_docs import STAFF_DESCRIPTION

#: ``@blp.doc(**STAFF_DOC)`` on every staff endpoint: the HMAC scheme and the staff header.
STAFF_DOC: dict[str, Any] = {
    "security": [{"carepath-hmac": []}],
    "parameters": [
        {
            "in": "header",
            "name": STAFF_HEADER,
            "required": True,
            "schema": {"type": "string", "pattern": "^[0-9]{1,18}$"},
            "description": STAFF_DESCRIPTION,
        }
    ],
}


def staff_actor() -> Actor:
    """The acting staff member of this request, as ``permissions.require_staff`` resolved and
    checked them (a staff view without that decorator is a programming error)."""
    identity = g.get("acting_staff")
    if identity is None:
        raise RuntimeError("a staff endpoint must be behind permissions.require_staff")
    actor: Actor = identity.actor(request.remote_addr)
    return actor


def services() -> tuple[Any, Any, Any]:
    """The database, the field cipher and now (the app's clock), for a staff view."""
    return (
        current_app.extensions["carepath.db"],
        current_app.extensions["carepath.cipher"],
        current_app.config["CLOCK"](),
    )
