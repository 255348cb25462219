"""Replay protection of signed requests: each nonce once per key, and the end of scheme V1.

A V2 request (``carepath/signing.py``) carries ``X-Carepath-Nonce``, signed. Once its signature
has verified, and only then (so nobody can burn another's nonces), its (key id, nonce) is
claimed in the nonce store until its timestamp leaves the window (timestamp +
``REPLAY_WINDOW_SECONDS``); a second use is ``401 auth-replayed``. The store is Redis when
``REDIS_URL`` (``CAREPATH_REDIS_URL``) is set, else the database (``store/nonces.py``).

A V1 request (no nonce) is accepted while ``SIGNING_ACCEPT_V1_UNTIL`` allows: unset or ``""``
or ``True``, accepted (the default during the transition); ``False``, refused; an ISO date or
datetime, accepted before it (a date, or a datetime without an offset, is the hospital's time,
UTC+08:00). Refused, a V1 request is ``401 auth-scheme-retired``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import redis
from flask import Flask, current_app, request

from carepath.signing import NONCE_HEADER, NONCE_PATTERN, SCHEME_V2
from carepath.store.nonces import DatabaseNonceStore, NonceStore, NonceStoreUnavailableError, RedisNonceStore
from carepath.webapi.common.problems import ApiProblemError

SETTING = "SIGNING_ACCEPT_V1_UNTIL"
_HOSPITAL_TIME = timezone(timedelta(hours=8))
_RETIRED = datetime.min.replace(tzinfo=UTC)


def init_app(app: Flask) -> None:
    """Check the transition setting (a bad value stops the start, not a request) and choose
    the nonce store."""
    v1_cutoff(app.config.get(SETTING))
    app.extensions["carepath.nonces"] = nonce_store(app)


def nonce_store(app: Flask) -> NonceStore:
    if app.config.get("REDIS_URL"):
        # Bounded waits: a Redis that hangs refuses requests (503) instead of holding them.
        client = redis.Redis.from_url(app.config["REDIS_URL"], socket_timeout=2, socket_connect_timeout=2)
        return RedisNonceStore(client)
    return DatabaseNonceStore(app.extensions["carepath.db"])


def v1_cutoff(value: object) -> datetime | None:
    """When scheme V1 stops being accepted; None while no end is set."""
    if value is None or value is True or value == "":
        return None
    if value is False:
        return _RETIRED
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=_HOSPITAL_TIME)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=_HOSPITAL_TIME)
    if isinstance(value, str):
        try:
            return v1_cutoff(date.fromisoformat(value))
        except ValueError:
            pass
        try:
            return v1_cutoff(datetime.fromisoformat(value))
        except ValueError:
            pass
    raise ValueError(
        f"{SETTING} must be empty, true, false, or an ISO date or datetime (e.g. 2027-01-01); got {value!r}"
    )


def nonce_or_v1(now: datetime) -> str | None:
    """The request's nonce (scheme V2), or None for a V1 request still accepted; else a 401."""
    nonce = request.headers.get(NONCE_HEADER)
    if nonce is not None:
        if not NONCE_PATTERN.fullmatch(nonce):
            raise ApiProblemError(
                401, "auth-bad-nonce", f"{NONCE_HEADER} must be 16 to 64 characters of A-Z a-z 0-9 _ -"
            )
        return nonce
    cutoff = v1_cutoff(current_app.config.get(SETTING))
    if cutoff is not None and now >= cutoff:
        raise ApiProblemError(
            401,
            "auth-scheme-retired",
            f"requests without {NONCE_HEADER} (the first signing scheme) are no longer accepted; "
            f"sign with {SCHEME_V2} and a new {NONCE_HEADER} on every request",
            missing=[NONCE_HEADER],
        )
    return None


def claim(key_id: str, nonce: str, timestamp: int, now: datetime) -> None:
    """Keep the verified request's nonce until its window passes; a second use is a 401."""
    window = current_app.config["REPLAY_WINDOW_SECONDS"]
    expires_at = datetime.fromtimestamp(timestamp + window, UTC)
    store: NonceStore = current_app.extensions["carepath.nonces"]
    try:
        fresh = store.claim(key_id, nonce, expires_at=expires_at, now=now)
    except NonceStoreUnavailableError as exc:
        raise ApiProblemError(
            503, "auth-replay-check-unavailable", f"{exc.message}; retry the request, signed again"
        ) from exc
    if not fresh:
        raise ApiProblemError(
            401,
            "auth-replayed",
            f"this {NONCE_HEADER} was already used with key {key_id!r}; sign every request, "
            "a retry too, with a new nonce (the event id keeps a retry idempotent)",
        )
