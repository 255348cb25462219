"""After a failed send: back off, fall back, or wait out the quota."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from carepath.channels.base import PermanentError, QuotaError, RetryableError
from carepath.delivery.retry import ChannelFailed, QuotaSpent, RetryAt, RetryBudget, after_failure, backoff
from carepath.engine.timing import SendWindow

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 6, 20, 15, 0, tzinfo=SHANGHAI)
WINDOW = SendWindow()


def outcome(error: Exception, attempt: int = 1, first_try: datetime = NOW) -> object:
    return after_failure(
        error,  # type: ignore[arg-type]
        channel="wechat_template",
        attempt=attempt,
        first_try=first_try,
        now=NOW,
        window=WINDOW,
        rng=random.Random(1),
    )


def test_a_retryable_error_is_retried_later_on_the_same_channel() -> None:
    got = outcome(RetryableError("503"))
    assert isinstance(got, RetryAt) and NOW <= got.at <= NOW + timedelta(seconds=60)
    assert got.outcome_unknown is False
    lost = outcome(RetryableError("timeout", outcome_unknown=True))
    assert isinstance(lost, RetryAt) and lost.outcome_unknown


def test_the_providers_retry_after_is_respected() -> None:
    got = outcome(RetryableError("429", retry_after=600))
    assert isinstance(got, RetryAt) and got.at >= NOW + timedelta(seconds=600)


def test_a_spent_budget_fails_the_channel_so_delivery_falls_back() -> None:
    assert outcome(RetryableError("503"), attempt=8) == ChannelFailed(
        "wechat_template", "retries-exhausted", False
    )
    day_old = NOW - timedelta(hours=24)
    assert isinstance(outcome(RetryableError("503"), attempt=2, first_try=day_old), ChannelFailed)


def test_permanent_errors_fail_the_channel_and_configuration_errors_call_staff() -> None:
    assert outcome(PermanentError("43004", reason="not-following")) == ChannelFailed(
        "wechat_template", "not-following", False
    )
    assert outcome(PermanentError("40037", reason="config-error")) == ChannelFailed(
        "wechat_template", "config-error", True
    )


def test_a_spent_quota_waits_for_local_midnight() -> None:
    assert outcome(QuotaError("45009")) == QuotaSpent(
        "wechat_template", datetime(2026, 6, 21, 0, 0, tzinfo=SHANGHAI)
    )


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 40), st.none() | st.floats(0, 7200), st.integers(0, 2**32))
def test_backoff_stays_between_the_providers_wish_and_the_cap(
    attempt: int, retry_after: float | None, seed: int
) -> None:
    budget = RetryBudget()
    delay = backoff(attempt, budget, random.Random(seed), retry_after)
    assert delay >= timedelta(0)
    assert delay <= max(budget.cap, timedelta(seconds=retry_after or 0))
    assert delay <= max(budget.base * 2**attempt, timedelta(seconds=retry_after or 0))
    if retry_after is not None:
        assert delay >= timedelta(seconds=retry_after)
