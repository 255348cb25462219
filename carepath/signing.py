"""The HMAC-SHA256 request signature carepath uses both ways: integrators sign what they post
to the API (``webapi/auth/integrators.py`` checks it) and the webhook channel signs what it posts to a
hospital system. One definition, like ``errors.py`` usable from every layer.

The canonical string is six lines joined by ``\\n`` (no trailing newline), and a seventh when
the request carries ``X-Carepath-Staff``::

    CAREPATH-HMAC-SHA256
    <METHOD>                      upper case, e.g. POST
    <PATH>                        the path, plus ?query exactly as sent when there is one
    <TIMESTAMP>                   Unix seconds, the X-Carepath-Timestamp header
    <KEY ID>                      the X-Carepath-Key header, e.g. ck_0123456789abcdef
    <BODY SHA-256>                lower-case hex SHA-256 of the raw body (of b"" when empty)
    <STAFF>                       only when sent: the X-Carepath-Staff header's exact value

The staff line binds the acting staff member to the signature, so the name a staff tool's read
or task claim is recorded under cannot be altered in transit or changed on a replay. Requests
without the header (the HIS posting events, the webhook channel) have no seventh line.

Headers: ``X-Carepath-Key``, ``X-Carepath-Timestamp``, ``X-Carepath-Content-SHA256`` and
``X-Carepath-Signature`` (lower-case hex HMAC-SHA256 of the canonical string with the secret).
"""

from __future__ import annotations

import hashlib
import hmac

SCHEME = "CAREPATH-HMAC-SHA256"
HEADERS = ("X-Carepath-Key", "X-Carepath-Timestamp", "X-Carepath-Content-SHA256", "X-Carepath-Signature")
#: Names the acting staff member; signed (the seventh line) whenever it is sent.
STAFF_HEADER = "X-Carepath-Staff"


def canonical_string(
    method: str, path: str, timestamp: str, key_id: str, body_sha256: str, *, staff: str | None = None
) -> str:
    """The string signed; ``staff`` (the X-Carepath-Staff value, when sent) is a seventh line."""
    lines = [SCHEME, method.upper(), path, timestamp, key_id, body_sha256]
    if staff is not None:
        lines.append(staff)
    return "\n".join(lines)


def signature(secret: str, text: str) -> str:
    return hmac.new(secret.encode(), text.encode(), hashlib.sha256).hexdigest()


def sign_request(
    secret: str,
    method: str,
    path: str,
    *,
    timestamp: str,
    key_id: str,
    body: bytes,
    staff: str | None = None,
) -> dict[str, str]:
    """The signature headers of one request; with ``staff``, its X-Carepath-Staff header too."""
    digest = hashlib.sha256(body).hexdigest()
    text = canonical_string(method, path, timestamp, key_id, digest, staff=staff)
    headers = {
        "X-Carepath-Key": key_id,
        "X-Carepath-Timestamp": timestamp,
        "X-Carepath-Content-SHA256": digest,
        "X-Carepath-Signature": signature(secret, text),
    }
    if staff is not None:
        headers[STAFF_HEADER] = staff
    return headers
