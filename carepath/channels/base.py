"""What every channel adapter shares: the ``Channel`` protocol, ``Message`` and ``Receipt``, the
error kinds the dispatcher acts on, the access-token cache protocol, and the pooled HTTP client.

An adapter imports only this module (and ``carepath.errors``). It turns one ``Message`` into one
provider call and either returns a ``Receipt`` or raises exactly one of:

- ``RetryableError``: try the same channel again later (``retry_after`` seconds when the
  provider said so). ``outcome_unknown`` is true when the request may have reached the provider
  (a read timeout, a dropped connection): a retry may then duplicate the message. Whatever fails
  before the provider call — getting a token (the token store's Redis or database down),
  building the request, a connection refused — sent nothing: ``before_the_call`` and
  ``http_post`` make it a ``RetryableError`` with ``outcome_unknown`` false.
- ``PermanentError``: this channel will not reach her with this message; ``reason`` is a stable
  code (``not-following``, ``no-subscription``, ``config-error``, ``bad-recipient``,
  ``rejected``). The dispatcher falls back to the next channel or dead-letters.
- ``QuotaError``: the account's quota is spent; try tomorrow or fall back now.

External channels (``Channel.external``) carry only the neutral summary, template fields built
from it, and a link: never the title or body, which live in the inbox behind her login.
"""

from __future__ import annotations

import contextlib
import hashlib
import ssl
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Any, NoReturn, Protocol, runtime_checkable

import httpx

from carepath.errors import CarepathError

#: Reasons a ``PermanentError`` may carry; part of the contract, shown to staff.
NOT_FOLLOWING = "not-following"
NO_SUBSCRIPTION = "no-subscription"
CONFIG_ERROR = "config-error"
BAD_RECIPIENT = "bad-recipient"
REJECTED = "rejected"
PERMANENT_REASONS = frozenset({NOT_FOLLOWING, NO_SUBSCRIPTION, CONFIG_ERROR, BAD_RECIPIENT, REJECTED})

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


# --- messages and receipts -----------------------------------------------------------------


@dataclass(frozen=True)
class Message:
    """One notification to one woman through one channel, as the dispatcher hands it over.

    ``recipient`` is her binding for this channel: an openid (official account or mini
    program), a ``+86`` phone number, her inbox id, or her id in the hospital's system for a
    webhook. ``params`` are the template's fields, built by delivery from the summary and her
    safe facts only. ``title`` and ``body`` are for the inbox; external adapters never read them.
    """

    dedupe_key: str
    hospital_id: str
    kind: str
    recipient: str
    summary: str
    link: str | None = None
    template_id: str | None = None
    params: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    title: str = ""
    body: str = ""

    @property
    def client_msg_id(self) -> str:
        """A provider-side dedupe id of fixed length derived from the dedupe key."""
        return hashlib.sha256(self.dedupe_key.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class Receipt:
    """What the provider answered for a message it accepted."""

    channel: str
    provider_message_id: str
    sent_at: datetime
    raw_status: str


# --- errors --------------------------------------------------------------------------------


class ChannelError(CarepathError):
    """A channel could not deliver; ``provider_code`` is the provider's own code when known."""

    code = "channel-error"

    def __init__(self, message: str, *, provider_code: str | None = None) -> None:
        super().__init__(message)
        self.provider_code = provider_code


class RetryableError(ChannelError):
    code = "channel-retryable"

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        outcome_unknown: bool = False,
        provider_code: str | None = None,
    ) -> None:
        super().__init__(message, provider_code=provider_code)
        self.retry_after = retry_after
        self.outcome_unknown = outcome_unknown


class PermanentError(ChannelError):
    code = "channel-permanent"

    def __init__(self, message: str, *, reason: str, provider_code: str | None = None) -> None:
        if reason not in PERMANENT_REASONS:
            raise ValueError(f"unknown permanent reason {reason!r}")
        super().__init__(message, provider_code=provider_code)
        self.reason = reason


class QuotaError(ChannelError):
    """The account's daily quota is spent: back off to tomorrow, or fall back now."""

    code = "channel-quota"


@contextlib.contextmanager
def before_the_call(channel: str, step: str) -> Iterator[None]:
    """Run ``step`` of a send that comes before the provider call (getting a token, building
    the request). Nothing has left carepath yet, so whatever fails inside — a token store's
    lost connection, a bug — is a ``RetryableError`` that is not an unknown outcome: the row
    waits and is tried again, never left for staff as possibly sent. The channel's own errors
    (a token endpoint's refusal) pass through as they are."""
    try:
        yield
    except ChannelError:
        raise
    except Exception as exc:
        raise RetryableError(f"{channel}: nothing sent: {step} failed: {brief_error(exc)}") from exc


def brief_error(exc: BaseException) -> str:
    """The error's class and first line: a driver's message may go on to quote the statement's
    parameters (a token being written), which must reach neither an outbox row nor a log."""
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0][:200]}" if lines else type(exc).__name__


# --- the protocol --------------------------------------------------------------------------


@runtime_checkable
class Channel(Protocol):
    """One way of reaching her. ``external`` channels leave carepath (WeChat, SMS, webhook)."""

    name: str
    external: bool

    def send(self, message: Message) -> Receipt: ...


def external_params(message: Message) -> Mapping[str, str]:
    """The template fields of an external message, after checking that neither they nor the
    summary carry the item's title or body: a wiring mistake upstream must fail loudly here,
    not reach a lock screen."""
    fields = {"summary": message.summary, **message.params}
    for name, value in fields.items():
        for secret, what in ((message.title, "title"), (message.body.strip(), "body")):
            if secret and secret in value:
                raise PermanentError(f"{name!r} would carry the item's {what}", reason=CONFIG_ERROR)
    return message.params


def template_for(message: Message, templates: Mapping[str, str], channel: str) -> str:
    """The message's template id, or the hospital's template for its kind."""
    template = message.template_id or templates.get(message.kind)
    if not template:
        raise PermanentError(
            f"{channel}: no template configured for kind {message.kind!r}", reason=CONFIG_ERROR
        )
    return template


def mask_recipient(recipient: str) -> str:
    """Phone numbers and openids as they may appear in a log: ``+86138****5678``."""
    if len(recipient) <= 7:
        return "*" * len(recipient)
    return recipient[:-8] + "****" + recipient[-4:]


# --- access tokens -------------------------------------------------------------------------


@dataclass(frozen=True)
class CachedToken:
    value: str
    expires_at: datetime


class TokenStore(Protocol):
    """A cache of provider access tokens shared by every process that sends.

    ``get`` returns a token only while it has not expired; ``lock`` serialises refreshes across
    processes (raising ``RetryableError`` when it cannot be had within ``timeout`` seconds).
    """

    def get(self, key: str) -> CachedToken | None: ...

    def put(self, key: str, token: CachedToken) -> None: ...

    def lock(self, key: str, timeout: float) -> AbstractContextManager[None]: ...


class InMemoryTokenStore:
    """One process's token cache, for tests and development."""

    def __init__(self, clock: Clock = utc_now) -> None:
        self._clock = clock
        self._tokens: dict[str, CachedToken] = {}
        self._guard = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}

    def get(self, key: str) -> CachedToken | None:
        token = self._tokens.get(key)
        if token is None or token.expires_at <= self._clock():
            return None
        return token

    def put(self, key: str, token: CachedToken) -> None:
        self._tokens[key] = token

    @contextlib.contextmanager
    def lock(self, key: str, timeout: float) -> Iterator[None]:
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        if not lock.acquire(timeout=timeout):
            raise RetryableError(f"token lock {key!r} busy for {timeout} s")
        try:
            yield
        finally:
            lock.release()


#: A provider's token endpoint: ``force`` asks for a new token; returns (token, seconds valid).
TokenFetcher = Callable[[bool], tuple[str, int]]


class AccessTokens:
    """Get-or-refresh over a ``TokenStore``, so processes sharing one account never refresh
    independently (WeChat's tokens invalidate each other).

    A token is refreshed only under the store's lock, and only when the store still holds none
    (or still holds the one the provider just rejected): whoever waited on the lock uses the
    token its holder fetched.
    """

    def __init__(
        self,
        store: TokenStore,
        key: str,
        fetch: TokenFetcher,
        *,
        clock: Clock = utc_now,
        margin: timedelta = timedelta(minutes=5),
        lock_timeout: float = 10.0,
    ) -> None:
        self._store = store
        self._key = key
        self._fetch = fetch
        self._clock = clock
        self._margin = margin
        self._lock_timeout = lock_timeout

    def current(self) -> str:
        cached = self._store.get(self._key)
        if cached is not None:
            return cached.value
        with self._store.lock(self._key, self._lock_timeout):
            cached = self._store.get(self._key)
            if cached is not None:
                return cached.value
            return self._refresh(force=False)

    def replace(self, rejected: str, *, force: bool) -> str:
        """A token after the provider rejected ``rejected``; ``force`` when it was invalidated
        rather than expired (a forced refresh invalidates the token for everyone)."""
        with self._store.lock(self._key, self._lock_timeout):
            cached = self._store.get(self._key)
            if cached is not None and cached.value != rejected:
                return cached.value
            return self._refresh(force=force)

    def _refresh(self, *, force: bool) -> str:
        value, seconds = self._fetch(force)
        expires_at = self._clock() + timedelta(seconds=seconds) - self._margin
        self._store.put(self._key, CachedToken(value, expires_at))
        return value


# --- HTTP ----------------------------------------------------------------------------------

#: Explicit timeouts: a provider that hangs must not hold a dispatcher thread.
DEFAULT_TIMEOUT = httpx.Timeout(connect=3.0, read=10.0, write=10.0, pool=5.0)


def make_http_client(
    timeout: httpx.Timeout = DEFAULT_TIMEOUT,
    *,
    max_connections: int = 100,
    verify: ssl.SSLContext | bool = True,
) -> httpx.Client:
    """The one pooled client a process's adapters share (close it when the process stops).
    Building one loads the CA bundle (~50 ms): share it, never build one per message."""
    limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections)
    return httpx.Client(timeout=timeout, limits=limits, follow_redirects=False, verify=verify)


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After", "")
    return float(value) if value.isdigit() else None


def http_post(client: httpx.Client, url: str, channel: str, **kwargs: Any) -> httpx.Response:
    """POST, turning transport failures, 5xx and 429 into ``RetryableError``; any other
    response is returned for the adapter to read. Only a failure once the request may have
    been written (a lost or missing reply) is an unknown outcome: a request that could not be
    built, or a connection never made, sent nothing."""
    with before_the_call(channel, "building the request"):
        request = client.build_request("POST", url, **kwargs)
    try:
        response = client.send(request)
    except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
        raise RetryableError(f"{channel}: nothing sent: cannot connect: {exc.__class__.__name__}") from exc
    except httpx.TransportError as exc:
        # The request may have reached the provider: the reply was lost, not the message.
        raise RetryableError(f"{channel}: no reply: {exc.__class__.__name__}", outcome_unknown=True) from exc
    if response.status_code >= 500 or response.status_code == 429:
        raise RetryableError(
            f"{channel}: HTTP {response.status_code}",
            retry_after=_retry_after(response),
            provider_code=str(response.status_code),
        )
    return response


def json_object(response: httpx.Response, channel: str) -> dict[str, Any]:
    """The response's JSON object; anything else is the provider misbehaving (retryable)."""
    try:
        data = response.json()
    except ValueError as exc:
        raise RetryableError(f"{channel}: HTTP {response.status_code} without JSON") from exc
    if not isinstance(data, dict):
        raise RetryableError(f"{channel}: unexpected reply shape")
    return data


# --- the inbox -----------------------------------------------------------------------------


class InboxSink(Protocol):
    """Where inbox items are kept (the store's table in production). ``file`` is idempotent on
    the message's dedupe key and returns the entry's id."""

    def file(self, message: Message, at: datetime) -> str: ...


# --- WeChat's HTTP API (shared by the official-account and mini-program adapters) -------------

WECHAT_BASE_URL = "https://api.weixin.qq.com"

#: errcodes meaning "the token is stale": refresh once and retry once.
_WECHAT_STALE_TOKEN = {40001: True, 40014: True, 42001: False}  # code -> force a new token
#: errcodes a later try may get past (system busy, per-minute frequency limits).
_WECHAT_RETRYABLE = {-1, 45011, 45047}
#: errcodes about the account's setup, not the message: staff must fix the configuration.
_WECHAT_ACCOUNT_ERRORS = {40013, 40125, 40164, 41001, 41002, 41004, 48001, 61024}


class WechatApi:
    """One WeChat account (official account or mini program): stable tokens through a shared
    ``TokenStore``, and POSTs that refresh a stale token once and retry once."""

    def __init__(
        self,
        *,
        appid: str,
        secret: str,
        client: httpx.Client,
        token_store: TokenStore,
        base_url: str = WECHAT_BASE_URL,
        channel: str = "wechat",
        clock: Clock = utc_now,
    ) -> None:
        self.appid = appid
        self._secret = secret
        self._client = client
        self._base_url = base_url.rstrip("/")
        self._channel = channel
        self.tokens = AccessTokens(token_store, f"wechat:token:{appid}", self._fetch_token, clock=clock)

    def _fetch_token(self, force: bool) -> tuple[str, int]:
        body = {
            "grant_type": "client_credential",
            "appid": self.appid,
            "secret": self._secret,
            "force_refresh": force,
        }
        url = f"{self._base_url}/cgi-bin/stable_token"
        data = json_object(http_post(self._client, url, self._channel, json=body), self._channel)
        token = data.get("access_token")
        if not isinstance(token, str) or not token:
            self._raise_for(data, {})
        return token, int(data.get("expires_in", 7200))

    def post(self, path: str, payload: Mapping[str, Any], permanent: Mapping[int, str]) -> dict[str, Any]:
        """POST ``payload`` with the current token; the reply when ``errcode`` is 0. ``permanent``
        maps this endpoint's own permanent errcodes to a reason."""
        with before_the_call(self._channel, "getting an access token"):
            token = self.tokens.current()
        data = self._post_once(path, payload, token)
        code = _errcode(data)
        if code in _WECHAT_STALE_TOKEN:
            # The stale token's call was refused, so this is again before the (second) call.
            with before_the_call(self._channel, "getting an access token"):
                token = self.tokens.replace(token, force=_WECHAT_STALE_TOKEN[code])
            data = self._post_once(path, payload, token)
            code = _errcode(data)
            if code in _WECHAT_STALE_TOKEN:
                raise RetryableError(
                    f"{self._channel}: token rejected again after a refresh",
                    retry_after=60,
                    provider_code=str(code),
                )
        if code == 0:
            return data
        self._raise_for(data, permanent)

    def _post_once(self, path: str, payload: Mapping[str, Any], token: str) -> dict[str, Any]:
        url = f"{self._base_url}{path}"
        response = http_post(
            self._client, url, self._channel, params={"access_token": token}, json=dict(payload)
        )
        return json_object(response, self._channel)

    def _raise_for(self, data: Mapping[str, Any], permanent: Mapping[int, str]) -> NoReturn:
        code = _errcode(data)
        text = f"{self._channel}: errcode {code}: {data.get('errmsg', '')}"
        if code == 45009:
            raise QuotaError(text, provider_code=str(code))
        if code in permanent:
            raise PermanentError(text, reason=permanent[code], provider_code=str(code))
        if code in _WECHAT_ACCOUNT_ERRORS:
            raise PermanentError(text, reason=CONFIG_ERROR, provider_code=str(code))
        if code in _WECHAT_RETRYABLE:
            raise RetryableError(text, retry_after=60 if code != -1 else None, provider_code=str(code))
        # An errcode we do not know: retrying within the budget is safer than dropping her message.
        raise RetryableError(text, provider_code=str(code))


def _errcode(data: Mapping[str, Any]) -> int:
    code = data.get("errcode", 0)
    return code if isinstance(code, int) else -1
