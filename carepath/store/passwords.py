"""Passwords and usernames of staff logins: argon2id hashing and the rules they follow.

argon2-cffi with RFC 9106's low-memory parameters by default (``PASSWORD_HASHER`` picks
another set; ``test`` is the cheapest, for the test suite only). A password is 10 to 200
characters and not the username; a username is lower-case letters, digits, ``.``, ``_``, ``-``.
"""

from __future__ import annotations

import re
import secrets
from functools import cache

from argon2 import PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError

from carepath.errors import CarepathError

USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 200  # argon2 takes any length; this bounds the work a request can ask for
#: argon2id parameter sets by name (``PASSWORD_HASHER`` in the app config). ``test`` is
#: argon2-cffi's cheapest set, for the test suite only.
HASHER_PROFILES = {
    "rfc9106-low-memory": profiles.RFC_9106_LOW_MEMORY,
    "rfc9106-high-memory": profiles.RFC_9106_HIGH_MEMORY,
    "test": profiles.CHEAPEST,
}


class AccountError(CarepathError):
    """A request about a staff account that cannot be done; ``field`` names the input at fault."""

    code = "invalid-account"

    def __init__(self, message: str, *, code: str | None = None, field: str | None = None) -> None:
        super().__init__(message, code=code)
        self.field = field


@cache
def hasher(profile: str = "rfc9106-low-memory") -> PasswordHasher:
    if profile not in HASHER_PROFILES:
        raise AccountError(f"unknown PASSWORD_HASHER {profile!r}; one of {', '.join(HASHER_PROFILES)}")
    return PasswordHasher.from_parameters(HASHER_PROFILES[profile])


@cache
def dummy_hash(profile: str) -> str:
    """A hash to verify against when the username is unknown, so both cost the same time."""
    return hasher(profile).hash(secrets.token_urlsafe(16))


def verify(stored_hash: str | None, password: str, profile: str) -> bool:
    """Whether ``password`` matches ``stored_hash``; None (no such account, disabled, no
    password) is checked against a dummy hash, so it costs the same time and is False."""
    try:
        matches = hasher(profile).verify(stored_hash or dummy_hash(profile), password[:MAX_PASSWORD_LENGTH])
    except (VerificationError, InvalidHashError):
        return False
    return matches and stored_hash is not None


def normal_username(username: str) -> str:
    return username.strip().lower()


def check_username(username: str) -> str:
    name = normal_username(username)
    if not USERNAME.match(name):
        raise AccountError(
            "a username is 2-64 letters, digits, '.', '_' or '-', starting with a letter or digit",
            code="invalid-username",
            field="username",
        )
    return name


def check_password(password: str, username: str | None = None) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(
            f"a password has at least {MIN_PASSWORD_LENGTH} characters",
            code="password-too-short",
            field="password",
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        raise AccountError(
            f"a password has at most {MAX_PASSWORD_LENGTH} characters",
            code="password-too-long",
            field="password",
        )
    if username and normal_username(password) == normal_username(username):
        raise AccountError(
            "the password must not be the username", code="password-is-username", field="password"
        )
