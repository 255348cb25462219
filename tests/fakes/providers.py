"""Fake WeChat, Tencent Cloud SMS, Alibaba Cloud SMS and webhook receivers on one local HTTP
server, for tests and benchmarks: real adapters talk to it over loopback.

It speaks the providers' request and reply shapes, checks their signatures with its own
implementation (so a signing bug in an adapter fails here as it would at the provider), keeps
WeChat's stable-token rules (the same token while valid, ``force_refresh`` invalidates it), and
counts what it received. Faults are programmable per route: a queue of ``Fault`` consumed one
per request, or a random rate. Routes: ``wechat.token``, ``wechat.template``,
``wechat.subscribe``, ``wechat.qrcode`` (and ``GET /cgi-bin/showqrcode``: ``wechat_qr.py``),
``tencent.sms``, ``aliyun.sms``, ``webhook``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import random
import re
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

from tests.fakes import wechat_qr, wechat_web

ROUTES = ("wechat.token", "wechat.template", "wechat.subscribe", "tencent.sms", "aliyun.sms", "webhook",
          "wechat.authorize", "wechat.oauth_token")  # fmt: skip
ROUTES += ("wechat.qrcode",)


@dataclass(frozen=True)
class Fault:
    """``status``: answer with this HTTP status. ``hang``: wait this long before answering
    (after accepting the message when ``delivered``, as when a reply is lost). ``code``: the
    provider's own error code (an errcode for WeChat, a Code string for SMS)."""

    status: int | None = None
    hang: float | None = None
    delivered: bool = False
    code: int | str | None = None


def http_error(status: int = 503) -> Fault:
    return Fault(status=status)


def hang(seconds: float, *, delivered: bool = False) -> Fault:
    return Fault(hang=seconds, delivered=delivered)


def provider_code(code: int | str) -> Fault:
    return Fault(code=code)


@dataclass
class Received:
    route: str
    path: str
    headers: dict[str, str]
    text: str  # the request decoded (JSON unescaped, forms unquoted), for leak checks
    payload: dict[str, Any]
    status: int = 0
    delivered: bool = False
    reply: dict[str, Any] = field(default_factory=dict)  # what the fake answered


@dataclass
class _Request:
    fake: FakeProviders
    route: str
    path: str  # as sent, with the query
    headers: Any
    raw: bytes
    received: Received
    fault: Fault | None

    @property
    def split(self) -> Any:
        return urlsplit(self.path)


@dataclass
class _Token:
    value: str
    expires_at: float
    invalid: bool = False


@dataclass
class FakeProviders:
    wechat_accounts: dict[str, str] = field(default_factory=lambda: {"wx-hospital": "wx-secret"})
    tencent_keys: dict[str, str] = field(default_factory=lambda: {"AKIDfake": "tencent-secret"})
    aliyun_keys: dict[str, str] = field(default_factory=lambda: {"LTAIfake": "aliyun-secret"})
    webhook_keys: dict[str, str] = field(default_factory=lambda: {"ck_hospital": "hook-secret"})
    token_seconds: int = 7200
    not_following: set[str] = field(default_factory=set)
    no_subscription: set[str] = field(default_factory=set)
    #: Seconds within which a repeated template ``client_msg_id`` is not delivered again (0: off).
    #: WeChat documents the dedupe but not its reply; the fake answers like the first send.
    client_msg_id_window: float = 0.0
    web: wechat_web.WebAuth = field(default_factory=wechat_web.WebAuth)  # web authorisation
    qr_codes: dict[str, dict[str, Any]] = field(default_factory=dict)  # ticket -> what it encodes

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: list[Received] = []
        self.errors: list[str] = []  # exceptions inside the fake's handlers
        self._faults: dict[str, deque[Fault]] = defaultdict(deque)
        self._random: tuple[float, random.Random, tuple[Fault, ...]] | None = None
        self._tokens: dict[str, _Token] = {}
        self._issued: dict[str, _Token] = {}
        self._ids = itertools.count(1)
        self._nonces: set[str] = set()
        self._client_msg_ids: dict[str, tuple[float, int]] = {}
        self.tokens_issued: dict[str, int] = defaultdict(int)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._port = 0  # chosen at the first start; a restart listens on the same port

    # --- lifecycle -----------------------------------------------------------------------

    def start(self) -> FakeProviders:
        """Listen (again, after ``close``: on the same port, so adapters built against
        ``base_url`` reach it again; what it received before is kept)."""
        server = _Server(("127.0.0.1", self._port), _Handler)
        server.fake = self
        self._port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )
        self._thread.start()
        return self

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def __enter__(self) -> FakeProviders:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    @property
    def base_url(self) -> str:
        assert self._server is not None, "start() the fake first"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    # --- programming faults ----------------------------------------------------------------

    def inject(self, route: str, *faults: Fault) -> None:
        assert route in ROUTES, route
        with self._lock:
            self._faults[route].extend(faults)

    def fault_rate(
        self, rate: float, *, seed: int = 0, faults: tuple[Fault, ...] = (http_error(503),)
    ) -> None:
        """Fail this share of send requests (never token requests) with one of ``faults``."""
        with self._lock:
            self._random = (rate, random.Random(seed), faults) if rate > 0 else None

    def expire_tokens(self) -> None:
        """Every token issued so far expires now (mid-run expiry: the next send gets 42001)."""
        with self._lock:
            for token in self._tokens.values():
                token.expires_at = 0.0

    def _next_fault(self, route: str) -> Fault | None:
        with self._lock:
            if self._faults[route]:
                return self._faults[route].popleft()
            if self._random is not None and route != "wechat.token":
                rate, rng, faults = self._random
                if rng.random() < rate:
                    return rng.choice(faults)
        return None

    # --- what was received -------------------------------------------------------------------

    def count(self, route: str) -> int:
        with self._lock:
            return sum(1 for r in self.requests if r.route == route)

    def delivered(self, route: str | None = None) -> list[Received]:
        with self._lock:
            return [r for r in self.requests if r.delivered and (route is None or r.route == route)]

    def received_text(self) -> str:
        with self._lock:
            return "\n".join(r.text for r in self.requests)

    def _record(self, received: Received) -> None:
        with self._lock:
            self.requests.append(received)

    # --- WeChat ------------------------------------------------------------------------------

    def stable_token(self, body: dict[str, Any]) -> dict[str, Any]:
        appid, secret = body.get("appid"), body.get("secret")
        if body.get("grant_type") != "client_credential":
            return {"errcode": 40002, "errmsg": "invalid grant_type"}
        if appid not in self.wechat_accounts:
            return {"errcode": 40013, "errmsg": "invalid appid"}
        if self.wechat_accounts[appid] != secret:
            return {"errcode": 40125, "errmsg": "invalid appsecret"}
        now = time.monotonic()
        with self._lock:
            current = self._tokens.get(appid)
            if body.get("force_refresh") or current is None or current.expires_at <= now:
                if current is not None and body.get("force_refresh"):
                    current.invalid = True
                value = f"TOKEN-{appid}-{next(self._ids)}"
                current = _Token(value, now + self.token_seconds)
                self._tokens[appid] = current
                self._issued[value] = current
                self.tokens_issued[appid] += 1
            return {"access_token": current.value, "expires_in": max(int(current.expires_at - now), 0)}

    def check_token(self, value: str) -> int:
        """0 for a valid token; 40001 for one unknown or replaced by a forced refresh; 42001
        for one that expired."""
        with self._lock:
            token = self._issued.get(value)
            if token is None or token.invalid:
                return 40001
            if token.expires_at <= time.monotonic():
                return 42001
            return 0

    def next_id(self) -> int:
        with self._lock:
            return next(self._ids)

    def seen_client_msg_id(self, client_msg_id: str) -> int | None:
        """The msgid of an earlier send with this id inside the dedupe window, else None (and
        the id is remembered with a new msgid)."""
        with self._lock:
            now = time.monotonic()
            earlier = self._client_msg_ids.get(client_msg_id)
            if earlier is not None and now - earlier[0] < self.client_msg_id_window:
                return earlier[1]
            self._client_msg_ids[client_msg_id] = (now, next(self._ids))
            return None

    def msgid_for(self, client_msg_id: str) -> int:
        with self._lock:
            return self._client_msg_ids[client_msg_id][1]

    def fresh_nonce(self, nonce: str) -> bool:
        with self._lock:
            if nonce in self._nonces:
                return False
            self._nonces.add(nonce)
            return True


class _Server(ThreadingHTTPServer):
    daemon_threads = False
    block_on_close = True
    fake: FakeProviders

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that timed out and hung up is part of the game


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 5
    # One write per reply, sent at once: headers and body in separate small packets would
    # meet the client's delayed ACK and cost 40 ms a request.
    wbufsize = 64 * 1024
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        fake = self.server.fake
        length = int(self.headers.get("Content-Length", "0"))
        raw = self.rfile.read(length)
        split = urlsplit(self.path)
        route = _route(split.path, self.headers)
        received = Received(route, self.path, {k.lower(): v for k, v in self.headers.items()}, "", {})
        fault = fake._next_fault(route) if route != "unknown" else None
        try:
            if fault is not None and fault.hang is not None and not fault.delivered:
                received.text = _decode(raw)
                status, reply, extra = 504, {"error": "injected hang"}, {}
            else:
                request = _Request(fake, route, self.path, self.headers, raw, received, fault)
                status, reply, extra = self._dispatch(request)
        except Exception as exc:  # a bug in the fake must fail the test, not look like a lost reply
            fake.errors.append(f"{route}: {exc!r}")
            status, reply, extra = 500, {"error": "fake provider bug"}, {}
        finally:
            fake._record(received)
        if fault is not None and fault.hang is not None:
            time.sleep(fault.hang)
        received.status = status
        received.reply = reply
        self._reply(status, reply, extra)

    def _dispatch(self, req: _Request) -> tuple[int, dict[str, Any], dict[str, str]]:
        fake, route, raw, received, fault = req.fake, req.route, req.raw, req.received, req.fault
        if fault is not None and fault.status is not None:
            received.text = _decode(raw)
            return fault.status, {"error": "injected"}, {}
        if route == "wechat.token":
            body = _json(raw)
            received.payload, received.text = body, json.dumps(body, ensure_ascii=False)
            return 200, fake.stable_token(body), {}
        if route in ("wechat.template", "wechat.subscribe"):
            return _wechat_send(req)
        if route == "wechat.qrcode":
            return wechat_qr.create(req)
        if route == "tencent.sms":
            return _tencent(req)
        if route == "aliyun.sms":
            return _aliyun(req)
        if route == "webhook":
            return _webhook(req)
        if route.startswith(("wechat.authorize", "wechat.oauth_token")):
            return wechat_web.handle(req)
        return 404, {"error": "no such route"}, {}

    def do_GET(self) -> None:
        """``showqrcode`` answers an image; any other GET goes the way of a POST (its routes)."""
        split = urlsplit(self.path)
        if split.path != "/cgi-bin/showqrcode":
            return self.do_POST()
        status, data, kind = wechat_qr.show(self.server.fake, split.query)
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _reply(self, status: int, reply: dict[str, Any], extra: dict[str, str]) -> None:
        data = json.dumps(reply, ensure_ascii=False).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            for name, value in extra.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True


def send_finished_callback(
    received: Received,
    token: str,
    status: str = "success",
    *,
    created: int = 1783666800,
    timestamp: str = "1783666800",
    nonce: str = "nonce-1",
) -> tuple[dict[str, str], bytes]:
    """The query and body of WeChat's ``TEMPLATESENDJOBFINISH`` callback for a template message
    the fake accepted (its openid and msgid), signed with the account's callback token."""
    msgid, openid = received.reply["msgid"], received.payload["touser"]
    body = (
        f"<xml><ToUserName><![CDATA[gh_hospital]]></ToUserName>"
        f"<FromUserName><![CDATA[{openid}]]></FromUserName><CreateTime>{created}</CreateTime>"
        f"<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[TEMPLATESENDJOBFINISH]]></Event>"
        f"<MsgID>{msgid}</MsgID><Status><![CDATA[{status}]]></Status></xml>"
    ).encode()
    return callback_query(token, timestamp, nonce), body


def callback_query(token: str, timestamp: str, nonce: str, **extra: str) -> dict[str, str]:
    """WeChat's callback query: ``signature`` = SHA-1 of the sorted token, timestamp, nonce."""
    signature = hashlib.sha1("".join(sorted([token, timestamp, nonce])).encode()).hexdigest()
    return {"signature": signature, "timestamp": timestamp, "nonce": nonce, **extra}


def _route(path: str, headers: Any) -> str:
    if wechat_web.route(path):
        return str(wechat_web.route(path))
    if path == "/cgi-bin/stable_token":
        return "wechat.token"
    if path == "/cgi-bin/message/template/send":
        return "wechat.template"
    if path == "/cgi-bin/message/subscribe/send":
        return "wechat.subscribe"
    if path == "/cgi-bin/qrcode/create":
        return "wechat.qrcode"
    if path.startswith("/tencent"):
        return "tencent.sms"
    if path.startswith("/aliyun"):
        return "aliyun.sms"
    if path.startswith("/hooks/"):
        return "webhook"
    return "unknown"


def _json(raw: bytes) -> dict[str, Any]:
    try:
        data = json.loads(raw or b"{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _decode(raw: bytes) -> str:
    try:
        return json.dumps(json.loads(raw), ensure_ascii=False)
    except ValueError:
        return " ".join(
            f"{k}={v}" for k, v in parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True)
        )


def _wechat_send(req: _Request) -> tuple[int, dict[str, Any], dict[str, str]]:
    fake, raw, received, fault = req.fake, req.raw, req.received, req.fault
    body = _json(raw)
    received.payload, received.text = body, json.dumps(body, ensure_ascii=False)
    token = dict(parse_qsl(req.split.query)).get("access_token", "")
    state = fake.check_token(token)
    if state:
        return (
            200,
            {"errcode": state, "errmsg": "invalid credential" if state == 40001 else "access_token expired"},
            {},
        )
    if fault is not None and fault.code is not None:
        return 200, {"errcode": fault.code, "errmsg": "injected"}, {}
    if not body.get("touser") or not body.get("template_id") or not isinstance(body.get("data"), dict):
        return 200, {"errcode": 47001, "errmsg": "data format error"}, {}
    if req.route == "wechat.template" and body["touser"] in fake.not_following:
        return 200, {"errcode": 43004, "errmsg": "require subscribe"}, {}
    if req.route == "wechat.subscribe" and body["touser"] in fake.no_subscription:
        return 200, {"errcode": 43101, "errmsg": "user refuse to accept the msg"}, {}
    client_msg_id = body.get("client_msg_id")
    if req.route == "wechat.template" and client_msg_id and fake.client_msg_id_window > 0:
        earlier = fake.seen_client_msg_id(str(client_msg_id))
        if earlier is not None:
            return 200, {"errcode": 0, "errmsg": "ok", "msgid": earlier}, {}
        received.delivered = True
        return 200, {"errcode": 0, "errmsg": "ok", "msgid": fake.msgid_for(str(client_msg_id))}, {}
    received.delivered = True
    return 200, {"errcode": 0, "errmsg": "ok", "msgid": fake.next_id()}, {}


def _tencent_expected(secret_key: str, req: _Request, signed: list[str], timestamp: str) -> str:
    """TC3-HMAC-SHA256 as Tencent's documentation states it, written apart from the adapter."""
    headers, raw = req.headers, req.raw
    canonical_headers = "".join(f"{name}:{headers.get(name, '').strip().lower()}\n" for name in signed)
    request = f"POST\n{req.split.path}\n\n{canonical_headers}\n{';'.join(signed)}\n{hashlib.sha256(raw).hexdigest()}"
    day = datetime.fromtimestamp(int(timestamp), UTC).strftime("%Y-%m-%d")
    text = (
        f"TC3-HMAC-SHA256\n{timestamp}\n{day}/sms/tc3_request\n{hashlib.sha256(request.encode()).hexdigest()}"
    )
    key = ("TC3" + secret_key).encode()
    for part in (day, "sms", "tc3_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()


def _tencent(req: _Request) -> tuple[int, dict[str, Any], dict[str, str]]:
    fake, raw, received, fault = req.fake, req.raw, req.received, req.fault
    headers = req.headers
    body = _json(raw)
    received.payload, received.text = body, json.dumps(body, ensure_ascii=False)
    request_id = f"req-{fake.next_id()}"

    def error(code: str) -> tuple[int, dict[str, Any], dict[str, str]]:
        return 200, {"Response": {"Error": {"Code": code, "Message": code}, "RequestId": request_id}}, {}

    auth = headers.get("Authorization", "")
    try:
        algorithm, rest = auth.split(" ", 1)
        parts = dict(item.strip().split("=", 1) for item in rest.split(","))
        secret_id, credential_day, service, terminator = parts["Credential"].split("/")
        signed = parts["SignedHeaders"].split(";")
    except (ValueError, KeyError):
        return error("AuthFailure.InvalidAuthorization")
    if algorithm != "TC3-HMAC-SHA256" or service != "sms" or terminator != "tc3_request":
        return error("AuthFailure.InvalidAuthorization")
    if secret_id not in fake.tencent_keys:
        return error("AuthFailure.SecretIdNotFound")
    timestamp = headers.get("X-TC-Timestamp", "0")
    if abs(int(timestamp) - time.time()) > 300:
        return error("AuthFailure.SignatureExpire")
    if credential_day != datetime.fromtimestamp(int(timestamp), UTC).strftime("%Y-%m-%d"):
        return error("AuthFailure.SignatureFailure")
    if "x-tc-action" not in signed or "content-type" not in signed or "host" not in signed:
        return error("AuthFailure.InvalidAuthorization")
    expected = _tencent_expected(fake.tencent_keys[secret_id], req, signed, timestamp)
    if not hmac.compare_digest(expected, parts.get("Signature", "")):
        return error("AuthFailure.SignatureFailure")
    if headers.get("X-TC-Action") != "SendSms" or headers.get("X-TC-Version") != "2021-01-11":
        return error("InvalidAction")
    for key in ("PhoneNumberSet", "SmsSdkAppId", "TemplateId", "SignName"):
        if not body.get(key):
            return error("MissingParameter")
    phone = body["PhoneNumberSet"][0]
    if fault is not None and fault.code is not None:
        status = {"SerialNo": "", "PhoneNumber": phone, "Fee": 0, "Code": fault.code, "Message": "injected"}
    elif not (isinstance(phone, str) and phone.startswith("+86") and len(phone) == 14):
        status = {
            "SerialNo": "",
            "PhoneNumber": phone,
            "Fee": 0,
            "Code": "InvalidParameterValue.IncorrectPhoneNumber",
        }
    else:
        received.delivered = True
        serial = f"2433:{fake.next_id()}"
        status = {"SerialNo": serial, "PhoneNumber": phone, "Fee": 1, "Code": "Ok", "Message": "send success"}
    return 200, {"Response": {"SendStatusSet": [status], "RequestId": request_id}}, {}


def _aliyun_expected(params: dict[str, str], secret: str) -> str:
    def enc(text: str) -> str:
        return quote(text, safe="-_.~")

    pairs = sorted((k, v) for k, v in params.items() if k != "Signature")
    query = "&".join(f"{enc(k)}={enc(v)}" for k, v in pairs)
    digest = hmac.new(f"{secret}&".encode(), f"POST&%2F&{enc(query)}".encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def _aliyun(req: _Request) -> tuple[int, dict[str, Any], dict[str, str]]:
    fake, raw, received, fault = req.fake, req.raw, req.received, req.fault
    params = dict(parse_qsl(raw.decode(), keep_blank_values=True))
    received.payload = params
    received.text = " ".join(f"{k}={v}" for k, v in params.items())
    request_id = f"req-{fake.next_id()}"

    def error(status: int, code: str) -> tuple[int, dict[str, Any], dict[str, str]]:
        return status, {"Code": code, "Message": code, "RequestId": request_id}, {}

    secret = fake.aliyun_keys.get(params.get("AccessKeyId", ""))
    if secret is None:
        return error(404, "InvalidAccessKeyId.NotFound")
    if not hmac.compare_digest(_aliyun_expected(params, secret), params.get("Signature", "")):
        return error(400, "SignatureDoesNotMatch")
    stamp = datetime.strptime(params.get("Timestamp", ""), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    if abs(stamp.timestamp() - time.time()) > 900:
        return error(400, "InvalidTimeStamp.Expired")
    if not fake.fresh_nonce(params.get("SignatureNonce", "")):
        return error(400, "SignatureNonceUsed")
    if params.get("Action") != "SendSms" or params.get("Version") != "2017-05-25":
        return error(400, "InvalidAction.NotFound")
    for key in ("PhoneNumbers", "SignName", "TemplateCode"):
        if not params.get(key):
            return error(400, "MissingParameter")
    if fault is not None and fault.code is not None:
        return error(200, str(fault.code))
    if not params["PhoneNumbers"].lstrip("+").removeprefix("86").isdigit():
        return error(200, "isv.MOBILE_NUMBER_ILLEGAL")
    json.loads(params.get("TemplateParam") or "{}")
    received.delivered = True
    return 200, {"Code": "OK", "Message": "OK", "BizId": f"{fake.next_id()}^0", "RequestId": request_id}, {}


def _webhook(req: _Request) -> tuple[int, dict[str, Any], dict[str, str]]:
    fake, raw, received, fault = req.fake, req.raw, req.received, req.fault
    headers = req.headers
    body = _json(raw)
    received.payload, received.text = body, json.dumps(body, ensure_ascii=False)
    secret = fake.webhook_keys.get(headers.get("X-Carepath-Key", ""))
    if secret is None:
        return 401, {"code": "unknown-key"}, {}
    timestamp = headers.get("X-Carepath-Timestamp", "0")
    if abs(int(timestamp) - time.time()) > 300:
        return 401, {"code": "stale-timestamp"}, {}
    digest = hashlib.sha256(raw).hexdigest()
    if digest != headers.get("X-Carepath-Content-SHA256"):
        return 401, {"code": "body-hash"}, {}
    # Scheme V2, written out here rather than imported, so a signing bug in the channel fails.
    nonce = headers.get("X-Carepath-Nonce", "")
    if not re.fullmatch(r"[A-Za-z0-9_-]{16,64}", nonce):
        return 401, {"code": "bad-nonce"}, {}
    key_id = headers["X-Carepath-Key"]
    text = "\n".join(["CAREPATH-HMAC-SHA256-V2", "POST", req.path, timestamp, key_id, digest, nonce])
    expected = hmac.new(secret.encode(), text.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, headers.get("X-Carepath-Signature", "")):
        return 401, {"code": "bad-signature"}, {}
    if not fake.fresh_nonce(f"webhook:{key_id}:{nonce}"):
        return 401, {"code": "replayed"}, {}
    if fault is not None and fault.code is not None:
        return int(fault.code), {"code": "injected"}, {}
    received.delivered = True
    return 200, {"ok": True}, {"X-Request-Id": f"hook-{fake.next_id()}"}
