"""Alibaba Cloud SMS, ``SendSms`` of API version 2017-05-25, as one RPC-style signed POST.

Signature version 1.0 (HMAC-SHA1): the parameters, sorted and percent-encoded by RFC 3986, are
signed as ``POST&%2F&<encoded query>`` with the AccessKey secret plus ``&``. Its SDK pulls in
many dependencies; this is the whole of what it would do for one call. Aliyun templates name
their placeholders (``${name}``): ``Message.params`` is sent as the ``TemplateParam`` JSON.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC
from types import MappingProxyType
from urllib.parse import quote

import httpx

from carepath.channels.base import (
    BAD_RECIPIENT,
    CONFIG_ERROR,
    REJECTED,
    Clock,
    Message,
    PermanentError,
    QuotaError,
    Receipt,
    RetryableError,
    external_params,
    http_post,
    json_object,
    template_for,
    utc_now,
)

ENDPOINT = "https://dysmsapi.aliyuncs.com/"
VERSION = "2017-05-25"

_QUOTA = {"isv.DAY_LIMIT_CONTROL", "isv.BUSINESS_LIMIT_DAY"}
_BAD_RECIPIENT = {"isv.MOBILE_NUMBER_ILLEGAL", "isv.PHONE_NUMBER_ILLEGAL"}
_REJECTED = {"isv.BLACK_KEY_CONTROL_LIMIT", "isv.DENY_IP_RANGE"}
_RETRY_LATER = ("isp.", "Throttling", "ServiceUnavailable", "SignatureNonceUsed", "BUSINESS_LIMIT_CONTROL")


@dataclass(frozen=True)
class AliyunSmsSettings:
    """``access_key_id``/``access_key_secret`` come from configuration, never the repo."""

    access_key_id: str
    access_key_secret: str
    sign_name: str
    templates: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    region: str = "cn-hangzhou"
    endpoint: str = ENDPOINT


def percent_encode(text: str) -> str:
    """RFC 3986 encoding as Alibaba Cloud's RPC signature wants it (space -> %20, ``~`` kept)."""
    return quote(text, safe="~")


def rpc_signature(params: Mapping[str, str], secret: str, method: str = "POST") -> str:
    """Base64 HMAC-SHA1 of the canonical query (every parameter but ``Signature``)."""
    query = "&".join(
        f"{percent_encode(k)}={percent_encode(v)}" for k, v in sorted(params.items()) if k != "Signature"
    )
    string_to_sign = f"{method}&{percent_encode('/')}&{percent_encode(query)}"
    digest = hmac.new(f"{secret}&".encode(), string_to_sign.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


class AliyunSmsChannel:
    name = "sms_aliyun"
    external = True

    def __init__(
        self,
        settings: AliyunSmsSettings,
        *,
        client: httpx.Client,
        clock: Clock = utc_now,
        nonce: Callable[[], str] = lambda: uuid.uuid4().hex,
    ) -> None:
        self._settings = settings
        self._client = client
        self._clock = clock
        self._nonce = nonce

    def send(self, message: Message) -> Receipt:
        settings = self._settings
        params = {
            "AccessKeyId": settings.access_key_id,
            "Action": "SendSms",
            "Format": "JSON",
            "RegionId": settings.region,
            "SignatureMethod": "HMAC-SHA1",
            "SignatureNonce": self._nonce(),
            "SignatureVersion": "1.0",
            "Timestamp": self._clock().astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "Version": VERSION,
            "PhoneNumbers": message.recipient,
            "SignName": settings.sign_name,
            "TemplateCode": template_for(message, settings.templates, self.name),
            "TemplateParam": json.dumps(dict(external_params(message)), ensure_ascii=False),
        }
        params["Signature"] = rpc_signature(params, settings.access_key_secret)
        body = "&".join(f"{percent_encode(k)}={percent_encode(v)}" for k, v in params.items())
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        response = http_post(
            self._client, settings.endpoint, self.name, content=body.encode(), headers=headers
        )
        reply = json_object(response, self.name)
        code = str(reply.get("Code", ""))
        if code == "OK":
            return Receipt(self.name, str(reply.get("BizId", "")), self._clock(), code)
        detail = f"{self.name}: {code}: {reply.get('Message', '')}"
        if code in _QUOTA:
            raise QuotaError(detail, provider_code=code)
        if code in _BAD_RECIPIENT:
            raise PermanentError(detail, reason=BAD_RECIPIENT, provider_code=code)
        if code in _REJECTED:
            raise PermanentError(detail, reason=REJECTED, provider_code=code)
        if any(marker in code for marker in _RETRY_LATER):
            raise RetryableError(detail, retry_after=60, provider_code=code)
        # isv.SMS_TEMPLATE_ILLEGAL, isv.SMS_SIGNATURE_ILLEGAL, SignatureDoesNotMatch, balance ...
        raise PermanentError(detail, reason=CONFIG_ERROR, provider_code=code)
