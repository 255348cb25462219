"""Adapters under a storm of faults: every send ends in a receipt or one of the error kinds,
and retrying until a receipt duplicates a message only where a reply was lost."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest

from carepath.channels.base import Channel, Message, Receipt, RetryableError
from tests.channels.conftest import ROUTE, SUMMARY, Adapters, message_for
from tests.fakes.providers import hang, http_error, provider_code

FAULTS = (http_error(503), http_error(502), hang(2.0), hang(2.0, delivered=True))


def _message(name: str, key: str) -> Message:
    """A message whose template fields carry its key, so deliveries can be counted per key."""
    params = (
        {"1": SUMMARY, "2": key} if name == "sms_tencent" else {"thing1": SUMMARY, "character_string2": key}
    )
    return message_for(name, key=key, params=params)


def _send_until_receipt(channel: Channel, message: Message, lost: Counter[str]) -> Receipt:
    for _ in range(30):
        try:
            return channel.send(message)
        except RetryableError as exc:
            if exc.outcome_unknown:
                lost[message.dedupe_key] += 1
    raise AssertionError(f"{message.dedupe_key} never got through")


@pytest.mark.parametrize("name", ["wechat_template", "sms_tencent", "webhook"])
def test_thirty_percent_faults_and_a_token_expiry_lose_nothing(impatient: Adapters, name: str) -> None:
    adapters = impatient
    adapters.fake.fault_rate(0.3, seed=7, faults=FAULTS)
    channel = adapters.build(name)
    lost: Counter[str] = Counter()
    keys = [f"storm-{i:03d}" for i in range(60)]

    def run(index: int) -> Receipt:
        if index == len(keys) // 2:
            adapters.fake.expire_tokens()  # mid-run
        return _send_until_receipt(channel, _message(name, keys[index]), lost)

    with ThreadPoolExecutor(8) as pool:
        receipts = list(pool.map(run, range(len(keys))))
    assert all(r.provider_message_id for r in receipts)
    assert sum(lost.values()) > 0, "the storm should have lost some replies"
    if name == "wechat_template":  # eight senders, one expiry: one refresh
        assert adapters.fake.tokens_issued["wx-hospital"] == 2

    delivered = Counter(key for r in adapters.fake.delivered(ROUTE[name]) for key in keys if key in r.text)
    for key in keys:
        # At least once; more only where a reply was lost after the provider had the message.
        assert 1 <= delivered[key] <= 1 + lost[key], key


def test_within_wechats_dedupe_window_a_resend_after_a_lost_reply_is_not_delivered_twice(
    impatient: Adapters,
) -> None:
    adapters = impatient
    adapters.fake.client_msg_id_window = 300
    adapters.fake.inject("wechat.template", hang(2.0, delivered=True))
    channel = adapters.build("wechat_template")
    message = message_for("wechat_template")
    with pytest.raises(RetryableError) as caught:
        channel.send(message)
    assert caught.value.outcome_unknown
    receipt = channel.send(message)
    assert len(adapters.fake.delivered("wechat.template")) == 1
    (first,) = adapters.fake.delivered("wechat.template")
    assert receipt.provider_message_id
    assert first.payload["client_msg_id"] == message.client_msg_id


def test_quota_then_recovery(adapters: Adapters) -> None:
    from carepath.channels.base import QuotaError

    adapters.fake.inject("wechat.template", provider_code(45009))
    channel = adapters.build("wechat_template")
    with pytest.raises(QuotaError):
        channel.send(message_for("wechat_template"))
    assert channel.send(message_for("wechat_template")).provider_message_id
