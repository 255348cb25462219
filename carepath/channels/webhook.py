"""A signed HTTP POST to a hospital system (a call centre, a ward dashboard).

The signature is the inbound API's scheme V2 (``carepath/signing.py``) pointed the other way:
HMAC-SHA256 with the hospital's secret over seven lines joined by ``\\n``::

    CAREPATH-HMAC-SHA256-V2
    <METHOD>          upper case
    <PATH>            the path, plus ?query exactly as sent when there is one
    <TIMESTAMP>       Unix seconds, also in X-Carepath-Timestamp
    <KEY ID>          also in X-Carepath-Key
    <BODY SHA-256>    lower-case hex SHA-256 of the raw body, also in X-Carepath-Content-SHA256
    <NONCE>           random, new for every POST, also in X-Carepath-Nonce

sent as ``X-Carepath-Signature`` (lower-case hex). The receiver recomputes it, compares in
constant time, refuses timestamps more than five minutes off and a nonce it has seen within
them. Every attempt, a retry too, is signed afresh with a new nonce; the body carries the
dedupe key (the receiver's idempotency key, also ``Idempotency-Key``), kind, recipient, neutral
summary and link.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from carepath.channels.base import (
    BAD_RECIPIENT,
    CONFIG_ERROR,
    Clock,
    Message,
    PermanentError,
    Receipt,
    external_params,
    http_post,
    utc_now,
)
from carepath.signing import canonical_string, sign_request

__all__ = ["WebhookChannel", "canonical_string", "sign_request"]


@dataclass(frozen=True)
class WebhookSettings:
    url: str
    key_id: str
    secret: str


class WebhookChannel:
    name = "webhook"
    external = True

    def __init__(self, settings: WebhookSettings, *, client: httpx.Client, clock: Clock = utc_now) -> None:
        self._settings = settings
        self._client = client
        self._clock = clock
        parts = urlsplit(settings.url)
        self._path = parts.path + (f"?{parts.query}" if parts.query else "")

    def send(self, message: Message) -> Receipt:
        external_params(message)
        document = {
            "id": message.dedupe_key,
            "hospital": message.hospital_id,
            "kind": message.kind,
            "recipient": message.recipient,
            "summary": message.summary,
            "link": message.link,
        }
        body = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()
        timestamp = str(int(self._clock().timestamp()))
        headers = sign_request(
            self._settings.secret,
            "POST",
            self._path,
            timestamp=timestamp,
            key_id=self._settings.key_id,
            body=body,
        )
        headers["Content-Type"] = "application/json; charset=utf-8"
        headers["Idempotency-Key"] = message.dedupe_key
        response = http_post(self._client, self._settings.url, self.name, content=body, headers=headers)
        if response.status_code in (404, 410, 422):
            raise PermanentError(
                f"{self.name}: HTTP {response.status_code}: the receiver refused the recipient",
                reason=BAD_RECIPIENT,
                provider_code=str(response.status_code),
            )
        if response.status_code >= 300:
            raise PermanentError(
                f"{self.name}: HTTP {response.status_code}",
                reason=CONFIG_ERROR,
                provider_code=str(response.status_code),
            )
        provider_id = response.headers.get("X-Request-Id") or message.dedupe_key
        return Receipt(self.name, provider_id, self._clock(), str(response.status_code))
