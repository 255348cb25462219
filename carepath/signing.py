"""The HMAC-SHA256 request signature carepath uses both ways: integrators sign what they post
to the API (``webapi/auth/integrators.py`` checks it) and the webhook channel signs what it posts to a
hospital system. One definition, like ``errors.py`` usable from every layer.

The canonical string is six lines joined by ``\\n`` (no trailing newline)::

    CAREPATH-HMAC-SHA256
    <METHOD>                      upper case, e.g. POST
    <PATH>                        the path, plus ?query exactly as sent when there is one
    <TIMESTAMP>                   Unix seconds, the X-Carepath-Timestamp header
    <KEY ID>                      the X-Carepath-Key header, e.g. ck_0123456789abcdef
    <BODY SHA-256>                lower-case hex SHA-256 of the raw body (of b"" when empty)

Headers: ``X-Carepath-Key``, ``X-Carepath-Timestamp``, ``X-Carepath-Content-SHA256`` and
``X-Carepath-Signature`` (lower-case hex HMAC-SHA256 of the canonical string with the secret).
"""

from __future__ import annotations

import hashlib
import hmac

SCHEME = "CAREPATH-HMAC-SHA256"
HEADERS = ("X-Carepath-Key", "X-Carepath-Timestamp", "X-Carepath-Content-SHA256", "X-Carepath-Signature")


def canonical_string(method: str, path: str, timestamp: str, key_id: str, body_sha256: str) -> str:
    return "\n".join([SCHEME, method.upper(), path, timestamp, key_id, body_sha256])


def signature(secret: str, text: str) -> str:
    return hmac.new(secret.encode(), text.encode(), hashlib.sha256).hexdigest()


def sign_request(
    secret: str, method: str, path: str, *, timestamp: str, key_id: str, body: bytes
) -> dict[str, str]:
    """The signature headers of one request."""
    digest = hashlib.sha256(body).hexdigest()
    text = canonical_string(method, path, timestamp, key_id, digest)
    return {
        "X-Carepath-Key": key_id,
        "X-Carepath-Timestamp": timestamp,
        "X-Carepath-Content-SHA256": digest,
        "X-Carepath-Signature": signature(secret, text),
    }
