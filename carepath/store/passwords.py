"""Passwords and usernames of staff logins: argon2id hashing and the rules they follow.

argon2-cffi with RFC 9106's low-memory parameters by default (``PASSWORD_HASHER`` picks
another set; ``test`` is the cheapest, for the test suite only). A username is lower-case
letters, digits, ``.``, ``_``, ``-``. A password is 10 to 200 characters and is refused, each
with its own code, when it is only whitespace (``password-blank``), one short piece repeated or
a run along the alphabet, the digits or a keyboard row (``password-trivial``), a common password
with at most 4 digits or symbols added (``password-common``, the list in
``data/common-passwords.txt``, whose header names its source and licence), or when it is or
holds the username (``password-is-username``, ``password-contains-username``).
"""

from __future__ import annotations

import re
import secrets
from functools import cache
from importlib import resources
from itertools import pairwise

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
    """Refuse a password a guesser tries early, with a code the pages translate (the module
    lists them); ``username`` given, the password may neither be nor contain it."""
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
    if not password.strip():
        raise AccountError("a password is not only spaces", code="password-blank", field="password")
    compact = "".join(password.lower().split())  # spaces and case add nothing to a guess
    if _is_trivial(compact):
        raise AccountError(
            "a password is not one character or piece repeated, nor a run such as 1234567890",
            code="password-trivial",
            field="password",
        )
    if username:
        _check_username_inside(password, username)
    if _is_common(password.lower()) or _is_common(compact):
        raise AccountError(
            "this password is among the most common ones; choose another",
            code="password-common",
            field="password",
        )


def _check_username_inside(password: str, username: str) -> None:
    if normal_username(password) == normal_username(username):
        raise AccountError(
            "the password must not be the username", code="password-is-username", field="password"
        )
    name = _letters_and_digits(username.lower())
    # a two-letter name ("li") is inside too many good passwords to refuse on that alone
    if len(name) >= 3 and name in _letters_and_digits(password.lower()):
        raise AccountError(
            "the password must not contain the username",
            code="password-contains-username",
            field="password",
        )


#: Runs a guesser tries first: the digits wrap (…7890123…), the rest read both ways.
SEQUENCES = ("0123456789" * 3, "abcdefghijklmnopqrstuvwxyz", "qwertyuiop", "asdfghjkl", "zxcvbnm")
#: How many digits or symbols added to a common password still leave it common.
COMMON_SUFFIX = 4


def _letters_and_digits(text: str) -> str:
    return "".join(c for c in text if c.isalnum())


def _is_trivial(compact: str) -> bool:
    """Whether ``compact`` (lower-case, no whitespace) is at most two different characters, a
    piece of at most half its length repeated (abcabcabca, hellohello, 2468024680), even steps
    of one or two code points (abcdefghij, acegikmoqs), or part of a run in ``SEQUENCES``."""
    if len(set(compact)) <= 2:
        return True
    for period in range(1, len(compact) // 2 + 1):
        if all(compact[i] == compact[i - period] for i in range(period, len(compact))):
            return True
    steps = {ord(b) - ord(a) for a, b in pairwise(compact)}
    if len(steps) == 1 and abs(steps.pop()) <= 2:
        return True
    return any(compact in run or compact in run[::-1] for run in SEQUENCES)


def _is_common(lowered: str) -> bool:
    """Whether ``lowered`` is on the list, or is once up to ``COMMON_SUFFIX`` trailing
    digits or symbols are taken off (password2026, woaini1314520, Iloveyou!!)."""
    common = common_passwords()
    if lowered in common:
        return True
    for cut in range(1, COMMON_SUFFIX + 1):
        if len(lowered) <= cut or lowered[-cut].isalpha():
            return False
        if lowered[:-cut] in common:
            return True
    return False


@cache
def common_passwords() -> frozenset[str]:
    """The common-password list shipped in ``data/common-passwords.txt`` (lower-case; read
    once per process, never fetched: the header names where it came from)."""
    text = resources.files("carepath.store").joinpath("data/common-passwords.txt").read_text("utf-8")
    _header, _blank, body = text.partition("\n\n")
    return frozenset(line for line in body.splitlines() if line)
