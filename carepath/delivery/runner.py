"""The loop behind ``carepath delivery run``: a dispatch round every interval for as long as the
process runs, whatever the database or Redis does meanwhile.

A round that fails — the database unreachable, a connection cut mid-round by a restart or a
failover, Redis gone, a bug — is logged, and the next try comes after a backoff that doubles
from ``Backoff.first`` up to ``Backoff.cap`` (with jitter, so that several dispatchers do not
reconnect in step); the first round that succeeds again resets it. Reconnecting needs nothing
of its own: the engine's pool drops a broken connection and opens a new one at the next
checkout (PostgreSQL's are pinged first), and so does the Redis client.

A failed round loses nothing: a send that failed before its provider call is recorded as a
retry (``channels.base.before_the_call``); rows claimed when the database went away are in
flight, recorded once it answers again (``outcomes.record_patiently``) or else recovered by
the crash rule of the delivery guarantee.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.exc import DBAPIError

from carepath.channels.base import brief_error

logger = logging.getLogger("carepath.delivery")


@dataclass(frozen=True)
class Backoff:
    """Seconds to wait after consecutive failed rounds: ``first``, doubling to ``cap``."""

    first: float = 1.0
    cap: float = 60.0

    def delay(self, failures: int, rng: random.Random) -> float:
        ceiling = min(self.cap, self.first * 2 ** min(failures - 1, 30))
        return rng.uniform(ceiling / 2, ceiling)


def keep_dispatching(
    one_round: Callable[[], object],
    *,
    interval: float,
    stop: threading.Event,
    backoff: Backoff = Backoff(),
    rng: random.Random | None = None,
) -> None:
    """Call ``one_round`` (recover, then dispatch) every ``interval`` seconds until ``stop`` is
    set. A round that raises is logged and followed by a backoff instead: the loop never ends
    on an error."""
    rng = rng or random.Random()
    failures = 0
    while not stop.is_set():
        try:
            one_round()
        except Exception as exc:  # a lost connection, or a bug: the next round may succeed
            failures += 1
            delay = backoff.delay(failures, rng)
            # A database error's full text quotes the statement's parameters (her inbox text):
            # its first line says enough. Anything else is shown whole, once in a row.
            logger.warning(
                "dispatch round failed (%d in a row): %s; trying again in %.1f s",
                failures,
                brief_error(exc),
                delay,
                exc_info=failures == 1 and not isinstance(exc, DBAPIError),
            )
            stop.wait(delay)
            continue
        if failures:
            logger.warning("dispatch rounds succeed again after %d failed", failures)
            failures = 0
        stop.wait(interval)
