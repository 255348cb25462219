"""The HMAC-SHA256 request signature carepath uses both ways: integrators sign what they post
to the API (``webapi/auth/integrators.py`` checks it) and the webhook channel signs what it posts to a
hospital system. One definition, like ``errors.py`` usable from every layer.

**Scheme V2** (``CAREPATH-HMAC-SHA256-V2``, what ``sign_request`` produces): seven lines joined
by ``\\n`` (no trailing newline), and an eighth when the request carries ``X-Carepath-Staff``::

    CAREPATH-HMAC-SHA256-V2
    <METHOD>                      upper case, e.g. POST
    <PATH>                        the path, plus ?query exactly as sent when there is one
    <TIMESTAMP>                   Unix seconds, the X-Carepath-Timestamp header
    <KEY ID>                      the X-Carepath-Key header, e.g. ck_0123456789abcdef
    <BODY SHA-256>                lower-case hex SHA-256 of the raw body (of b"" when empty)
    <NONCE>                       the X-Carepath-Nonce header: 16-64 of [A-Za-z0-9_-], new per request
    <STAFF>                       only when sent: the X-Carepath-Staff header's exact value

The nonce is always the seventh line and the staff line, when there is one, always the last
(the eighth). The receiver keeps each (key id, nonce) until the request's timestamp is out of
its window and refuses a second use, so a captured request cannot be replayed even inside the
window. A retry is a new request: signed again, with a new nonce and timestamp (the event id
or dedupe key in the body keeps it idempotent).

**Scheme V1** (``CAREPATH-HMAC-SHA256``, the transition): the same lines without the nonce
line, i.e. six, and a seventh when ``X-Carepath-Staff`` is sent. A request without
``X-Carepath-Nonce`` is read as V1; the first line differs, so a V2 signature never verifies
as V1 with its nonce stripped. The receiver accepts V1 only while its setting allows
(``SIGNING_ACCEPT_V1_UNTIL``).

The staff line binds the acting staff member to the signature, so the name a staff tool's read
or task claim is recorded under cannot be altered in transit. Requests without the header (the
HIS posting events, the webhook channel) have no staff line.

Headers: ``X-Carepath-Key``, ``X-Carepath-Timestamp``, ``X-Carepath-Content-SHA256``,
``X-Carepath-Nonce`` (V2) and ``X-Carepath-Signature`` (lower-case hex HMAC-SHA256 of the
canonical string with the secret).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

SCHEME_V1 = "CAREPATH-HMAC-SHA256"
SCHEME_V2 = "CAREPATH-HMAC-SHA256-V2"
#: The scheme ``sign_request`` uses unless told otherwise.
SCHEME = SCHEME_V2
#: Required by every scheme; V2 adds ``NONCE_HEADER``.
HEADERS = ("X-Carepath-Key", "X-Carepath-Timestamp", "X-Carepath-Content-SHA256", "X-Carepath-Signature")
#: Makes each request unique (V2); signed as the seventh line.
NONCE_HEADER = "X-Carepath-Nonce"
#: What a nonce may be: 16 to 64 URL-safe characters.
NONCE_PATTERN = re.compile(r"[A-Za-z0-9_-]{16,64}")
#: Names the acting staff member; signed (the last line) whenever it is sent.
STAFF_HEADER = "X-Carepath-Staff"


def new_nonce() -> str:
    """A fresh random nonce: 32 URL-safe characters (192 bits)."""
    return secrets.token_urlsafe(24)


def canonical_string(
    method: str,
    path: str,
    timestamp: str,
    key_id: str,
    body_sha256: str,
    *,
    nonce: str | None = None,
    staff: str | None = None,
) -> str:
    """The string signed: V2 with ``nonce`` (its seventh line), V1 without; ``staff`` (the
    X-Carepath-Staff value, when sent) is the last line of either."""
    scheme = SCHEME_V1 if nonce is None else SCHEME_V2
    lines = [scheme, method.upper(), path, timestamp, key_id, body_sha256]
    if nonce is not None:
        lines.append(nonce)
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
    nonce: str | None = None,
    scheme: str = SCHEME,
) -> dict[str, str]:
    """The signature headers of one request, scheme V2 with a fresh nonce unless ``nonce`` is
    given; with ``staff``, its X-Carepath-Staff header too. ``scheme=SCHEME_V1`` signs the old
    way (no nonce) for receivers still in the transition."""
    if scheme not in (SCHEME_V1, SCHEME_V2):
        raise ValueError(f"unknown signing scheme {scheme!r}")
    if scheme == SCHEME_V1 and nonce is not None:
        raise ValueError(f"{SCHEME_V1} carries no nonce")
    if scheme == SCHEME_V2 and nonce is None:
        nonce = new_nonce()
    digest = hashlib.sha256(body).hexdigest()
    text = canonical_string(method, path, timestamp, key_id, digest, nonce=nonce, staff=staff)
    headers = {
        "X-Carepath-Key": key_id,
        "X-Carepath-Timestamp": timestamp,
        "X-Carepath-Content-SHA256": digest,
        "X-Carepath-Signature": signature(secret, text),
    }
    if nonce is not None:
        headers[NONCE_HEADER] = nonce
    if staff is not None:
        headers[STAFF_HEADER] = staff
    return headers
