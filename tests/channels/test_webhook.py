"""Webhook: the inbound API's HMAC scheme, pointed at a hospital system."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from carepath.channels.base import CONFIG_ERROR, PermanentError
from carepath.channels.webhook import canonical_string, sign_request
from tests.channels.conftest import BODY, SUMMARY, Adapters, message_for


def test_canonical_string_is_seven_lines_in_the_documented_order() -> None:
    text = canonical_string("post", "/hooks/x?a=1", "1750000000", "ck_1", "ab" * 32, nonce="N" * 16)
    assert text.split("\n") == [
        "CAREPATH-HMAC-SHA256-V2",
        "POST",
        "/hooks/x?a=1",
        "1750000000",
        "ck_1",
        "ab" * 32,
        "N" * 16,
    ]


def test_signature_is_hmac_sha256_of_the_canonical_string() -> None:
    body = b'{"id":"x"}'
    headers = sign_request(
        "s3cret", "POST", "/hooks/x", timestamp="1750000000", key_id="ck_1", body=body, nonce="n" * 20
    )
    digest = hashlib.sha256(body).hexdigest()
    expected = hmac.new(
        b"s3cret",
        f"CAREPATH-HMAC-SHA256-V2\nPOST\n/hooks/x\n1750000000\nck_1\n{digest}\n{'n' * 20}".encode(),
        hashlib.sha256,
    ).hexdigest()
    assert headers == {
        "X-Carepath-Key": "ck_1",
        "X-Carepath-Timestamp": "1750000000",
        "X-Carepath-Content-SHA256": digest,
        "X-Carepath-Nonce": "n" * 20,
        "X-Carepath-Signature": expected,
    }


def test_a_retry_is_signed_again_with_a_new_nonce_the_dedupe_key_unchanged(adapters: Adapters) -> None:
    """The receiver refuses a nonce it has seen (the fake does); the channel's second attempt
    at one message is a new request, delivered, and carries the same idempotency key."""
    channel, message = adapters.build("webhook"), message_for("webhook")
    channel.send(message)
    channel.send(message)
    first, second = adapters.fake.delivered("webhook")
    assert first.headers["x-carepath-nonce"] != second.headers["x-carepath-nonce"]
    assert first.headers["idempotency-key"] == second.headers["idempotency-key"] == message.dedupe_key


def test_the_receiver_gets_the_dedupe_key_summary_and_link_only(adapters: Adapters) -> None:
    message = message_for("webhook")
    receipt = adapters.build("webhook").send(message)
    (sent,) = adapters.fake.delivered("webhook")
    assert sent.payload == {
        "id": message.dedupe_key,
        "hospital": "h1",
        "kind": "checkup-reminder",
        "recipient": "his-000123",
        "summary": SUMMARY,
        "link": message.link,
    }
    assert sent.headers["idempotency-key"] == message.dedupe_key
    assert BODY not in sent.text
    assert receipt.provider_message_id.startswith("hook-")


def test_a_refused_signature_is_a_configuration_error(adapters: Adapters) -> None:
    adapters.fake.webhook_keys["ck_hospital"] = "rotated"
    with pytest.raises(PermanentError) as caught:
        adapters.build("webhook").send(message_for("webhook"))
    assert (caught.value.reason, caught.value.provider_code) == (CONFIG_ERROR, "401")
