"""Tencent Cloud SMS, ``SendSms`` of API version 2021-01-11, as one TC3-HMAC-SHA256 signed POST.

The official SDK (``tencentcloud-sdk-python-sms``) would do the same signing; a request of our
own keeps installs light and lets the tests' fake provider check the signature byte for byte.
Tencent templates number their placeholders ``{1}``, ``{2}`` ...: ``Message.params`` is keyed
``"1"``, ``"2"`` ... and sent in that order.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import MappingProxyType
from urllib.parse import urlsplit

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

ENDPOINT = "https://sms.tencentcloudapi.com/"
SERVICE = "sms"
ACTION = "SendSms"
VERSION = "2021-01-11"
ALGORITHM = "TC3-HMAC-SHA256"
CONTENT_TYPE = "application/json; charset=utf-8"

_QUOTA = ("LimitExceeded.PhoneNumberDailyLimit", "LimitExceeded.DailyLimit", "LimitExceeded.AppDailyLimit")
_RETRY_LATER = (
    "LimitExceeded.",
    "RequestLimitExceeded",
    "InternalError",
    "FailedOperation.FailResolvePacket",
)
_BAD_RECIPIENT = (
    "InvalidParameterValue.IncorrectPhoneNumber",
    "UnsupportedOperation.ContainDomesticAndInternational",
)
_REJECTED = ("FailedOperation.PhoneNumberInBlacklist", "FailedOperation.ContainSensitiveWord")


@dataclass(frozen=True)
class TencentSmsSettings:
    """``secret_id``/``secret_key`` come from configuration (environment), never the repo."""

    secret_id: str
    secret_key: str
    sdk_app_id: str
    sign_name: str
    templates: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    region: str = "ap-guangzhou"
    endpoint: str = ENDPOINT


def tc3_authorization(
    *,
    secret_id: str,
    secret_key: str,
    host: str,
    path: str,
    timestamp: int,
    payload: bytes,
    action: str = ACTION,
    service: str = SERVICE,
    content_type: str = CONTENT_TYPE,
) -> str:
    """The ``Authorization`` header of a TC3-HMAC-SHA256 signed POST (Tencent Cloud API 3.0)."""
    day = _utc_day(timestamp)
    canonical_headers = f"content-type:{content_type}\nhost:{host}\nx-tc-action:{action.lower()}\n"
    signed_headers = "content-type;host;x-tc-action"
    canonical_request = "\n".join(
        ["POST", path or "/", "", canonical_headers, signed_headers, hashlib.sha256(payload).hexdigest()]
    )
    scope = f"{day}/{service}/tc3_request"
    string_to_sign = "\n".join(
        [ALGORITHM, str(timestamp), scope, hashlib.sha256(canonical_request.encode()).hexdigest()]
    )
    key = _hmac(("TC3" + secret_key).encode(), day)
    key = _hmac(key, service)
    key = _hmac(key, "tc3_request")
    signature = hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()
    return (
        f"{ALGORITHM} Credential={secret_id}/{scope}, SignedHeaders={signed_headers}, Signature={signature}"
    )


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def _utc_day(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d")


class TencentSmsChannel:
    name = "sms_tencent"
    external = True

    def __init__(self, settings: TencentSmsSettings, *, client: httpx.Client, clock: Clock = utc_now) -> None:
        self._settings = settings
        self._client = client
        self._clock = clock
        parts = urlsplit(settings.endpoint)
        self._host = parts.netloc
        self._path = parts.path or "/"

    def send(self, message: Message) -> Receipt:
        settings = self._settings
        params = external_params(message)
        ordered = [params[key] for key in sorted(params, key=lambda k: (len(k), k))]
        body = {
            "PhoneNumberSet": [message.recipient],
            "SmsSdkAppId": settings.sdk_app_id,
            "SignName": settings.sign_name,
            "TemplateId": template_for(message, settings.templates, self.name),
            "TemplateParamSet": ordered,
        }
        payload = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
        timestamp = int(self._clock().timestamp())
        headers = {
            "Authorization": tc3_authorization(
                secret_id=settings.secret_id,
                secret_key=settings.secret_key,
                host=self._host,
                path=self._path,
                timestamp=timestamp,
                payload=payload,
            ),
            "Content-Type": CONTENT_TYPE,
            "Host": self._host,
            "X-TC-Action": ACTION,
            "X-TC-Timestamp": str(timestamp),
            "X-TC-Version": VERSION,
            "X-TC-Region": settings.region,
        }
        reply = json_object(
            http_post(self._client, settings.endpoint, self.name, content=payload, headers=headers), self.name
        )
        response = reply.get("Response")
        if not isinstance(response, dict):
            raise RetryableError(f"{self.name}: reply without Response")
        error = response.get("Error")
        if isinstance(error, dict):
            _raise_for(str(error.get("Code", "")), str(error.get("Message", "")), self.name)
        statuses = response.get("SendStatusSet") or []
        status = statuses[0] if statuses and isinstance(statuses[0], dict) else {}
        code = str(status.get("Code", ""))
        if code != "Ok":
            _raise_for(code, str(status.get("Message", "")), self.name)
        return Receipt(self.name, str(status.get("SerialNo", "")), self._clock(), code)


def _raise_for(code: str, text: str, channel: str) -> None:
    detail = f"{channel}: {code}: {text}"
    if code in _QUOTA:
        raise QuotaError(detail, provider_code=code)
    if code.startswith(_BAD_RECIPIENT):
        raise PermanentError(detail, reason=BAD_RECIPIENT, provider_code=code)
    if code.startswith(_REJECTED):
        raise PermanentError(detail, reason=REJECTED, provider_code=code)
    if code.startswith(_RETRY_LATER):
        raise RetryableError(detail, retry_after=60, provider_code=code)
    # AuthFailure.*, UnauthorizedOperation.*, FailedOperation.{Signature,Template}*, balance ...
    raise PermanentError(detail, reason=CONFIG_ERROR, provider_code=code)
