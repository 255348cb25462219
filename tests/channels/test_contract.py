"""One contract, every adapter: run against the fake providers over loopback, never a mock."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC

import pytest

from carepath.channels.base import (
    BAD_RECIPIENT,
    CONFIG_ERROR,
    NO_SUBSCRIPTION,
    NOT_FOLLOWING,
    Channel,
    ChannelError,
    InMemoryTokenStore,
    PermanentError,
    QuotaError,
    RetryableError,
    TokenStore,
)
from tests.channels.conftest import (
    ADAPTERS,
    BODY,
    EXTERNAL,
    ROUTE,
    SUMMARY,
    TITLE,
    WECHAT,
    Adapters,
    message_for,
)
from tests.fakes.providers import Fault, hang, http_error, provider_code


@pytest.mark.parametrize("name", ADAPTERS)
def test_success_gives_a_receipt_with_a_provider_id(adapters: Adapters, name: str) -> None:
    channel = adapters.build(name)
    assert isinstance(channel, Channel)
    assert channel.name == name
    receipt = channel.send(message_for(name))
    assert receipt.channel == name
    assert receipt.provider_message_id
    assert receipt.sent_at.tzinfo is not None and receipt.sent_at.utcoffset() == UTC.utcoffset(None)
    if name in EXTERNAL:
        assert len(adapters.fake.delivered(ROUTE[name])) == 1


@pytest.mark.parametrize("name", EXTERNAL)
def test_external_channels_carry_the_summary_and_link_never_title_or_body(
    adapters: Adapters, name: str
) -> None:
    adapters.build(name).send(message_for(name))
    text = adapters.fake.received_text()
    assert SUMMARY in text
    assert BODY not in text and TITLE not in text
    for fragment in ("糖尿病", "6.1", "mmol"):
        assert fragment not in text


@pytest.mark.parametrize("name", EXTERNAL)
def test_template_fields_carrying_the_body_are_refused_before_any_call(adapters: Adapters, name: str) -> None:
    message = message_for(name, summary=f"提醒：{BODY}")
    with pytest.raises(PermanentError) as caught:
        adapters.build(name).send(message)
    assert caught.value.reason == CONFIG_ERROR
    assert adapters.fake.count(ROUTE[name]) == 0


@pytest.mark.parametrize("name", ["inbox", "console"])
def test_internal_channels_are_marked_internal(adapters: Adapters, name: str) -> None:
    assert adapters.build(name).external is False


def test_the_inbox_keeps_the_full_text_once_per_dedupe_key(adapters: Adapters) -> None:
    inbox = adapters.build("inbox")
    first = inbox.send(message_for("inbox"))
    again = inbox.send(message_for("inbox"))
    assert first.provider_message_id == again.provider_message_id
    (entry,) = adapters.inbox.entries.values()
    assert (entry.title, entry.body, entry.summary) == (TITLE, BODY, SUMMARY)


@pytest.mark.parametrize("name", EXTERNAL)
def test_5xx_is_retryable_and_the_message_was_not_sent(adapters: Adapters, name: str) -> None:
    adapters.fake.inject(ROUTE[name], http_error(503))
    with pytest.raises(RetryableError) as caught:
        adapters.build(name).send(message_for(name))
    assert caught.value.outcome_unknown is False
    assert adapters.fake.delivered(ROUTE[name]) == []


@pytest.mark.parametrize("name", EXTERNAL)
def test_a_lost_reply_is_retryable_with_the_outcome_unknown(impatient: Adapters, name: str) -> None:
    impatient.fake.inject(ROUTE[name], hang(2.0, delivered=True))
    with pytest.raises(RetryableError) as caught:
        impatient.build(name).send(message_for(name))
    assert caught.value.outcome_unknown is True


@pytest.mark.parametrize("name", EXTERNAL)
def test_a_closed_port_is_retryable(adapters: Adapters, name: str) -> None:
    channel = adapters.build(name)
    adapters.fake.close()
    with pytest.raises(RetryableError) as caught:
        channel.send(message_for(name))
    assert caught.value.outcome_unknown is False


@pytest.mark.parametrize(
    "name", [name for name in EXTERNAL if name != "webhook"]
)  # a webhook has no templates
def test_a_kind_without_a_template_is_a_configuration_error(adapters: Adapters, name: str) -> None:
    with pytest.raises(PermanentError) as caught:
        adapters.build(name).send(message_for(name, kind="lesson"))
    assert caught.value.reason == CONFIG_ERROR
    assert adapters.fake.count(ROUTE[name]) == 0


# What docs/channels.md ("What the providers' documentation says") says each provider code means: (adapter, fault, error kind, reason).
ERROR_MAP: list[tuple[str, Fault, type[ChannelError], str | None]] = [
    ("wechat_template", provider_code(43004), PermanentError, NOT_FOLLOWING),
    ("wechat_template", provider_code(40003), PermanentError, CONFIG_ERROR),
    ("wechat_template", provider_code(40037), PermanentError, CONFIG_ERROR),
    ("wechat_template", provider_code(45009), QuotaError, None),
    ("wechat_template", provider_code(-1), RetryableError, None),
    ("wechat_subscribe", provider_code(43101), PermanentError, NO_SUBSCRIPTION),
    ("wechat_subscribe", provider_code(47003), PermanentError, CONFIG_ERROR),
    ("wechat_subscribe", provider_code(41030), PermanentError, CONFIG_ERROR),
    ("wechat_subscribe", provider_code(45009), QuotaError, None),
    ("sms_tencent", provider_code("LimitExceeded.PhoneNumberDailyLimit"), QuotaError, None),
    ("sms_tencent", provider_code("LimitExceeded.PhoneNumberThirtySecondLimit"), RetryableError, None),
    (
        "sms_tencent",
        provider_code("FailedOperation.TemplateIncorrectOrUnapproved"),
        PermanentError,
        CONFIG_ERROR,
    ),
    (
        "sms_tencent",
        provider_code("FailedOperation.SignatureIncorrectOrUnapproved"),
        PermanentError,
        CONFIG_ERROR,
    ),
    (
        "sms_tencent",
        provider_code("InvalidParameterValue.IncorrectPhoneNumber"),
        PermanentError,
        BAD_RECIPIENT,
    ),
    ("sms_tencent", provider_code("FailedOperation.PhoneNumberInBlacklist"), PermanentError, "rejected"),
    ("sms_tencent", provider_code("InternalError.Timeout"), RetryableError, None),
    ("sms_aliyun", provider_code("isv.DAY_LIMIT_CONTROL"), QuotaError, None),
    ("sms_aliyun", provider_code("isv.BUSINESS_LIMIT_CONTROL"), RetryableError, None),
    ("sms_aliyun", provider_code("isv.SMS_TEMPLATE_ILLEGAL"), PermanentError, CONFIG_ERROR),
    ("sms_aliyun", provider_code("isv.SMS_SIGNATURE_ILLEGAL"), PermanentError, CONFIG_ERROR),
    ("sms_aliyun", provider_code("isv.MOBILE_NUMBER_ILLEGAL"), PermanentError, BAD_RECIPIENT),
    ("sms_aliyun", provider_code("isp.SYSTEM_ERROR"), RetryableError, None),
    ("webhook", provider_code(410), PermanentError, BAD_RECIPIENT),
    ("webhook", provider_code(403), PermanentError, CONFIG_ERROR),
    ("webhook", http_error(429), RetryableError, None),
]


@pytest.mark.parametrize(
    ("name", "fault", "kind", "reason"), ERROR_MAP, ids=lambda v: str(getattr(v, "code", v))
)
def test_provider_errors_map_to_the_documented_kind(
    adapters: Adapters, name: str, fault: Fault, kind: type[ChannelError], reason: str | None
) -> None:
    adapters.fake.inject(ROUTE[name], fault)
    with pytest.raises(ChannelError) as caught:
        adapters.build(name).send(message_for(name))
    assert type(caught.value) is kind
    assert getattr(caught.value, "reason", None) == reason
    assert adapters.fake.delivered(ROUTE[name]) == []


def test_the_error_kinds_are_distinct() -> None:
    assert not issubclass(QuotaError, PermanentError | RetryableError)
    assert not issubclass(PermanentError, RetryableError)
    with pytest.raises(ValueError):
        PermanentError("x", reason="because")


# --- access tokens ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", WECHAT)
def test_an_expired_token_is_refreshed_once_and_the_send_retried(adapters: Adapters, name: str) -> None:
    channel = adapters.build(name)
    channel.send(message_for(name, key="a"))
    adapters.fake.expire_tokens()  # mid-run: the cached token is now refused with 42001
    receipt = channel.send(message_for(name, key="b"))
    assert receipt.provider_message_id
    assert adapters.fake.tokens_issued["wx-hospital"] == 2
    assert adapters.fake.count(ROUTE[name]) == 3  # first, refused (42001), retried
    assert len(adapters.fake.delivered(ROUTE[name])) == 2


@pytest.mark.parametrize("name", WECHAT)
def test_an_invalidated_token_is_force_refreshed_once(adapters: Adapters, name: str) -> None:
    channel = adapters.build(name)
    channel.send(message_for(name, key="a"))
    adapters.fake.inject(ROUTE[name], provider_code(40001))
    channel.send(message_for(name, key="b"))
    tokens = [r.payload for r in adapters.fake.requests if r.route == "wechat.token"]
    assert [t["force_refresh"] for t in tokens] == [False, True]


@pytest.mark.parametrize("name", WECHAT)
def test_a_token_refused_again_after_its_refresh_is_retryable_not_a_loop(
    adapters: Adapters, name: str
) -> None:
    adapters.fake.inject(ROUTE[name], provider_code(42001), provider_code(42001))
    with pytest.raises(RetryableError):
        adapters.build(name).send(message_for(name))
    assert adapters.fake.count(ROUTE[name]) == 2


def test_wrong_account_secret_is_a_configuration_error(adapters: Adapters) -> None:
    adapters.fake.wechat_accounts["wx-hospital"] = "rotated"
    with pytest.raises(PermanentError) as caught:
        adapters.build("wechat_template").send(message_for("wechat_template"))
    assert caught.value.reason == CONFIG_ERROR


def _send_concurrently(channels: list[Channel], name: str, per_channel: int) -> None:
    start = threading.Barrier(len(channels) * per_channel)
    failures: list[BaseException] = []

    def run(channel: Channel, index: int) -> None:
        start.wait()
        try:
            channel.send(message_for(name, key=f"k{index}"))
        except BaseException as exc:  # reported below, in the test's thread
            failures.append(exc)

    threads = [
        threading.Thread(target=run, args=(channel, i * 100 + j))
        for i, channel in enumerate(channels)
        for j in range(per_channel)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []


@pytest.mark.parametrize("store_kind", ["memory", "redis"])
@pytest.mark.parametrize("name", WECHAT)
def test_senders_sharing_a_token_store_refresh_once(
    adapters: Adapters, name: str, store_kind: str, request: pytest.FixtureRequest
) -> None:
    """Two adapter instances (two processes' worth) on one store: one refresh, not one each."""
    if store_kind == "redis":
        make: Callable[[], TokenStore] = request.getfixturevalue("redis_store")
        stores = [make(), make()]
    else:
        shared = InMemoryTokenStore()
        stores = [shared, shared]
    channels = [adapters.build(name, token_store=store) for store in stores]
    _send_concurrently(channels, name, per_channel=4)
    assert adapters.fake.tokens_issued["wx-hospital"] == 1
    adapters.fake.expire_tokens()
    _send_concurrently(channels, name, per_channel=4)
    assert adapters.fake.tokens_issued["wx-hospital"] == 2
    assert len(adapters.fake.delivered(ROUTE[name])) == 16
