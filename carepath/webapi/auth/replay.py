"""Replay protection of signed requests: each nonce once per key, and the end of scheme V1.

A V2 request (``carepath/signing.py``) carries ``X-Carepath-Nonce``, signed. Once its signature
has verified, and only then (so nobody can burn another's nonces), its (key id, nonce) is
claimed in the nonce store until its timestamp leaves the window (timestamp +
``REPLAY_WINDOW_SECONDS``); a second use is ``401 auth-replayed``. The store is Redis when
``REDIS_URL`` (``CAREPATH_REDIS_URL``) is set, else the database (``store/nonces.py``).

On ``POST /api/v1/events`` (issue 22: the day's most frequent request) the nonce is claimed in
the event's own transaction instead, by ``claimed_with_the_work``: one connection checkout and
one commit per event instead of two. Why a replayed request is still refused:

- the claim is the transaction's first statement; a nonce already held answers
  ``auth-replayed`` before anything of the event is read or written, and a concurrent twin
  waits on the nonce's unique key until the first one's transaction ends (then finds it held,
  or, if that one rolled back, claims it itself);
- if the transaction commits, the nonce is kept with the event's rows: exactly as if it had
  been claimed first in a transaction of its own;
- if it rolls back (a 409, a 422, an error), the claim is undone with everything the request
  did, so it is claimed again at once in a transaction of its own (``claim``): a replay of the
  failed request is refused as before. Between the rollback and that claim a replay could slip
  in; it is then the first use of the nonce to have any effect, and the failed one had none:
  at most one use of a nonce ever takes effect, which is what the nonce protects. The same
  holds if the process dies between the two (the request then left nothing behind).

With Redis as the store the claim stays where it was, before the view (nothing to share).

A V1 request (no nonce) is accepted while ``SIGNING_ACCEPT_V1_UNTIL`` allows: unset or ``""``
or ``True``, accepted (the default during the transition); ``False``, refused; an ISO date or
datetime, accepted before it (a date, or a datetime without an offset, is the hospital's time,
UTC+08:00). Refused, a V1 request is ``401 auth-scheme-retired``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone

import redis
from flask import Flask, current_app, g, request
from sqlalchemy.orm import Session

from carepath.signing import NONCE_HEADER, NONCE_PATTERN, SCHEME_V2
from carepath.store.nonces import DatabaseNonceStore, NonceStore, NonceStoreUnavailableError, RedisNonceStore
from carepath.webapi.common.problems import ApiProblemError

log = logging.getLogger(__name__)

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


def claim(key_id: str, nonce: str, timestamp: int, now: datetime, *, with_the_work: bool = False) -> None:
    """Keep the verified request's nonce until its window passes; a second use is a 401.
    ``with_the_work``: the view claims it in its own transaction (``claimed_with_the_work``)
    when the store is the database; the claim waits on ``g`` until then."""
    window = current_app.config["REPLAY_WINDOW_SECONDS"]
    expires_at = datetime.fromtimestamp(timestamp + window, UTC)
    store: NonceStore = current_app.extensions["carepath.nonces"]
    if with_the_work and isinstance(store, DatabaseNonceStore):
        g.pending_nonce = _Pending(store, key_id, nonce, expires_at, now)
        return
    try:
        fresh = store.claim(key_id, nonce, expires_at=expires_at, now=now)
    except NonceStoreUnavailableError as exc:
        raise _unavailable(exc) from exc
    if not fresh:
        raise _replayed(key_id)


def _unavailable(exc: NonceStoreUnavailableError) -> ApiProblemError:
    return ApiProblemError(
        503, "auth-replay-check-unavailable", f"{exc.message}; retry the request, signed again"
    )


def _replayed(key_id: str) -> ApiProblemError:
    return ApiProblemError(
        401,
        "auth-replayed",
        f"this {NONCE_HEADER} was already used with key {key_id!r}; sign every request, "
        "a retry too, with a new nonce (the event id keeps a retry idempotent)",
    )


@dataclass
class _Pending:
    """A verified request's nonce, to be claimed in the view's transaction."""

    store: DatabaseNonceStore
    key_id: str
    nonce: str
    expires_at: datetime
    now: datetime
    held: bool = False  # found held by another request: refused, nothing to claim afterwards
    claimed: bool = False  # by the work's transaction (kept if it committed)

    def claim_in(self, session: Session) -> None:
        """The transaction's first statement: a nonce held is a 401 (the transaction rolls back)."""
        try:
            fresh = self.store.claim_in(
                session, self.key_id, self.nonce, expires_at=self.expires_at, now=self.now
            )
        except NonceStoreUnavailableError as exc:
            raise _unavailable(exc) from exc
        if not fresh:
            self.held = True
            raise _replayed(self.key_id)
        self.claimed = True

    def claim_alone(self) -> None:
        """After the work's transaction rolled back (its claim with it): claim it on its own."""
        try:
            self.store.claim(self.key_id, self.nonce, expires_at=self.expires_at, now=self.now)
        except NonceStoreUnavailableError:
            # The request failed and left nothing behind; its replay could take effect once.
            log.warning("re-claiming a failed request's nonce failed", exc_info=True)


def claim_left_over() -> None:
    """The nonce of a view that never ran ``claimed_with_the_work``: claimed on its own."""
    pending: _Pending | None = g.pop("pending_nonce", None)
    if pending is not None:
        pending.claim_alone()


@contextmanager
def claimed_with_the_work() -> Iterator[Callable[[Session], None] | None]:
    """The claim to run first in the view's transaction (None: the nonce was claimed already,
    or the request has none); if the view fails, the nonce is claimed on its own (see the
    module docstring). Needs ``require_integrator_nonce_with_the_work``."""
    pending: _Pending | None = g.pop("pending_nonce", None)
    if pending is None:
        yield None
        return
    try:
        yield pending.claim_in
    except BaseException:
        if not pending.held:
            pending.claim_alone()
        raise
    if not pending.claimed:  # a view that never ran the claim: the nonce is kept all the same
        pending.claim_alone()
