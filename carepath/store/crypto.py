"""Field encryption for ID numbers, phone numbers, names and integrator secrets.

Each value is sealed with AES-256-GCM under a key named by a short key id, so keys can rotate:
new values use the current key, old values still open with the key id they carry. Exact
lookup (find a woman by ID number) uses a keyed HMAC-SHA256 of the normalised value, never
the plain text. Keys come from configuration (``CAREPATH_FIELD_KEYS``: ``kid:base64key,...``,
the first one current; ``CAREPATH_LOOKUP_KEY``: base64), never from the repository.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import unicodedata
from collections.abc import Mapping

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from carepath.errors import CarepathError

_PREFIX = "v1"


class SealedValueError(CarepathError):
    """A sealed value names a key id this configuration does not hold."""

    code = "unknown-key-id"


class CryptoConfigError(CarepathError):
    """Keys missing or malformed in the configuration."""

    code = "bad-key-config"


def new_key() -> str:
    """A fresh random 256-bit key, base64 (for ``carepath`` demo setup and tests)."""
    return base64.b64encode(os.urandom(32)).decode("ascii")


def parse_field_keys(text: str) -> dict[str, bytes]:
    """``kid:base64,kid2:base64`` -> ordered {kid: key}; the first is the current key."""
    keys: dict[str, bytes] = {}
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        kid, sep, encoded = part.partition(":")
        if not sep or not kid.isalnum():
            raise CryptoConfigError("field keys are written kid:base64key, separated by commas")
        key = base64.b64decode(encoded)
        if len(key) != 32:
            raise CryptoConfigError(f"field key {kid} must be 32 bytes")
        keys[kid] = key
    if not keys:
        raise CryptoConfigError("no field key configured (CAREPATH_FIELD_KEYS)")
    return keys


class FieldCipher:
    """Seals and opens field values; hashes them for exact lookup."""

    def __init__(self, keys: Mapping[str, bytes], lookup_key: bytes) -> None:
        if not keys:
            raise CryptoConfigError("no field key configured")
        self._keys = dict(keys)
        self.current_kid = next(iter(self._keys))
        self._lookup_key = lookup_key

    @classmethod
    def from_config(cls, field_keys: str, lookup_key: str) -> FieldCipher:
        if not lookup_key:
            raise CryptoConfigError("no lookup key configured (CAREPATH_LOOKUP_KEY)")
        return cls(parse_field_keys(field_keys), base64.b64decode(lookup_key))

    def seal(self, plain: str) -> str:
        """``v1.<kid>.<nonce+ciphertext, base64url>`` under the current key."""
        nonce = os.urandom(12)
        sealed = AESGCM(self._keys[self.current_kid]).encrypt(
            nonce, plain.encode("utf-8"), self.current_kid.encode()
        )
        return f"{_PREFIX}.{self.current_kid}.{base64.urlsafe_b64encode(nonce + sealed).decode()}"

    def open(self, token: str) -> str:
        """The plain text of ``token``, with whichever configured key sealed it."""
        prefix, kid, body = [*token.split(".", 2), "", ""][:3]
        key = self._keys.get(kid)
        if prefix != _PREFIX or key is None:
            raise SealedValueError(f"no key {kid!r} configured to open this value")
        raw = base64.urlsafe_b64decode(body)
        return AESGCM(key).decrypt(raw[:12], raw[12:], kid.encode()).decode("utf-8")

    def key_id(self, token: str) -> str:
        return token.split(".", 2)[1]

    def lookup_hash(self, kind: str, value: str) -> str:
        """Keyed hash of a normalised value; ``kind`` keeps ID and phone hashes apart."""
        normalised = "".join(value.split()).upper()
        return hmac.new(self._lookup_key, f"{kind}:{normalised}".encode(), hashlib.sha256).hexdigest()

    def name_hash(self, name: str) -> str:
        """Keyed hash of a name for exact search (issue 21): NFKC first, so a full-width or
        compatibility form of the same characters matches, then trimmed and without inner
        spaces ("王 小红", "王小红 " and "王小红" are one name). Uppercased like every lookup, so
        "Li Na" and "LINA" match too: a name is matched by its letters, not its spelling case."""
        return self.lookup_hash("name", unicodedata.normalize("NFKC", name))


def mask_id_number(value: str) -> str:
    """``33010219900412180X`` -> ``3301**********180X`` (first 4, last 4 shown)."""
    if len(value) <= 8:
        return "*" * len(value)
    return value[:4] + "*" * (len(value) - 8) + value[-4:]


def mask_phone(value: str) -> str:
    """``13812345678`` -> ``138****5678``."""
    if len(value) <= 7:
        return "*" * len(value)
    return value[:3] + "*" * (len(value) - 7) + value[-4:]


def mask_name(value: str) -> str:
    """``王小红`` -> ``王**``: the family name only."""
    return value[:1] + "*" * (len(value) - 1) if value else value
