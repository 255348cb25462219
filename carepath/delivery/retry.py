"""What a failed send means for the outbox row: a pure translation of the channel's error
into the next step, so the dispatcher (which owns the row and the clock) only records it.

- ``RetryableError``: try the same channel again after an exponential backoff with full
  jitter (at least the provider's ``retry_after``), until the budget — attempts or time since
  the first try — is spent; then the channel counts as failed for this item.
- ``PermanentError``: the channel failed for this item; delivery falls back to the next one.
  A ``config-error`` is also flagged for staff: every message through that channel will fail
  until someone fixes the configuration.
- ``QuotaError``: the channel's quota is spent until the next local midnight; the policy
  falls back now or holds the item until then.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from carepath.channels.base import CONFIG_ERROR, ChannelError, PermanentError, QuotaError, RetryableError
from carepath.engine.timing import SendWindow


@dataclass(frozen=True)
class RetryBudget:
    max_attempts: int = 8
    base: timedelta = timedelta(seconds=30)
    cap: timedelta = timedelta(hours=1)
    within: timedelta = timedelta(hours=24)


@dataclass(frozen=True)
class RetryAt:
    at: datetime
    outcome_unknown: bool  # the provider may have the message: a resend may duplicate it


@dataclass(frozen=True)
class ChannelFailed:
    channel: str
    reason: str
    staff_attention: bool


@dataclass(frozen=True)
class QuotaSpent:
    channel: str
    until: datetime


Outcome = RetryAt | ChannelFailed | QuotaSpent


def backoff(
    attempt: int, budget: RetryBudget, rng: random.Random, retry_after: float | None = None
) -> timedelta:
    """Full jitter: uniform in [0, min(cap, base * 2**attempt)], never below ``retry_after``."""
    ceiling = min(budget.cap, budget.base * (2 ** min(attempt, 30)))
    delay = timedelta(seconds=rng.uniform(0, ceiling.total_seconds()))
    if retry_after is not None:
        delay = max(delay, timedelta(seconds=retry_after))
    return delay


def after_failure(
    error: ChannelError,
    *,
    channel: str,
    attempt: int,
    first_try: datetime,
    now: datetime,
    window: SendWindow,
    rng: random.Random,
    budget: RetryBudget = RetryBudget(),
) -> Outcome:
    """The next step after ``attempt`` (1 for the first try) failed with ``error``."""
    if isinstance(error, QuotaError):
        midnight = datetime.combine(window.local_date(now) + timedelta(days=1), time(0), window.zone)
        return QuotaSpent(channel, midnight)
    if isinstance(error, PermanentError):
        return ChannelFailed(channel, error.reason, staff_attention=error.reason == CONFIG_ERROR)
    if isinstance(error, RetryableError):
        at = now + backoff(attempt, budget, rng, error.retry_after)
        if attempt >= budget.max_attempts or at - first_try > budget.within:
            return ChannelFailed(channel, "retries-exhausted", staff_attention=False)
        return RetryAt(at, error.outcome_unknown)
    return ChannelFailed(channel, "unknown-error", staff_attention=True)
