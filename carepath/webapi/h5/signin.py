"""Her sign-in and sign-out.

- ``GET /h5/sign-in[?next=…]``: inside WeChat (its browser says ``MicroMessenger``) and with
  the hospital's official account configured, straight on to web authorisation; elsewhere her
  phone number.
- ``GET /h5/sign-in/wechat`` → ``open.weixin.qq.com`` (``snsapi_base``, a fresh ``state`` kept in
  her cookie) → ``GET /h5/sign-in/wechat/return?code&state``: the state must be the one this
  browser was given (once), the code is claimed once in the nonce store (a second use is refused
  before WeChat is asked) and exchanged on the server for the openid. An openid bound to a woman
  of this hospital signs her in; an unknown one goes to registration (``/h5/register``) with the
  openid pending in her cookie.
- ``POST /h5/sign-in/code`` sends a one-time code by SMS; ``POST /h5/sign-in/verify`` checks it.
  A phone nobody registered is told so only after the code (she owns the phone), and offered
  registration with the phone proved.
- ``POST /h5/sign-out``.

Every refusal is a Chinese page with the way on, never a traceback.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
from datetime import timedelta, timezone
from typing import Any

from flask import current_app, redirect, render_template, request, session, url_for
from flask_wtf.csrf import CSRFError
from sqlalchemy import select
from werkzeug.exceptions import NotFound
from werkzeug.routing import BuildError

from carepath.delivery import sign_in as sign_in_channels
from carepath.delivery.sign_in import ChannelError
from carepath.store import her_pages, hospital_settings, sign_in_codes
from carepath.store.models import ChannelBinding
from carepath.store.nonces import NonceStoreUnavailableError
from carepath.webapi.auth import patients
from carepath.webapi.common.i18n import safe_next
from carepath.webapi.h5 import blp

log = logging.getLogger(__name__)
STATE = "wx_state"
PHONE = "sms_phone"
#: How long a claimed web-authorisation code is remembered (WeChat's codes live 5 minutes).
CODE_MEMORY = timedelta(minutes=30)

REFUSALS = {
    "bad-phone": "请输入中国大陆的 11 位手机号码。",
    "no-code": "请先获取验证码。",
    "expired": "验证码已过期，请重新获取。",
    "too-many-tries": "验证码错误次数过多，已失效。请重新获取验证码。",
    "send-failed": "短信暂时发不出去，请稍后再试，或到护士站求助。",
    "no-sms": "本院暂未开通短信登录，请在微信里打开医院公众号发给您的链接。",
}


def page(template: str, status: int = 200, **context: Any) -> Any:
    return render_template(template, **context), status


def message(title: str, text: str, status: int, **context: Any) -> Any:
    """A refusal or a dead end, in Chinese, with the way on."""
    return page("h5/message.html", status, title=title, text=text, **context)


def _services() -> tuple[Any, Any, Any]:
    app = current_app
    return app.extensions["carepath.db"], app.extensions["carepath.cipher"], app.config["CLOCK"]()


def _channels() -> sign_in_channels.SignInSetup:
    """Every hospital's sign-in channels from ``CHANNELS_CONFIG`` (the authorize URL from
    ``WECHAT_AUTHORIZE_URL``: a test's fake), read again only when either changes."""
    source = str(current_app.config.get("CHANNELS_CONFIG") or "")
    authorize = str(current_app.config["WECHAT_AUTHORIZE_URL"])
    cached: sign_in_channels.SignInSetup | None = current_app.extensions.get("carepath.sign_in")
    if cached is None or (cached.source, cached.authorize_url) != (source, authorize):
        if cached is not None:
            cached.close()
        cached = sign_in_channels.SignInSetup(source, os.environ, authorize_url=authorize)
        current_app.extensions["carepath.sign_in"] = cached
    return cached


def _setup(hospital_id: str) -> sign_in_channels.HospitalSignIn:
    return _channels().get(hospital_id)


def _register_url() -> str:
    try:
        return url_for("h5.register")
    except BuildError:  # registration's page is another change's; its path is agreed
        return "/h5/register"


def _in_wechat() -> bool:
    return "micromessenger" in request.headers.get("User-Agent", "").lower()


def _no_hospital() -> Any:
    return message("无法登录", "请从医院发给您的链接或医院的二维码打开本页面。", 404)


@blp.get("/h5/sign-in")
def sign_in() -> Any:
    """Signed in already: where she was going. Otherwise her hospital's sign-in."""
    if patients.current_patient() is not None:
        return redirect(safe_next(request.args.get("next"), url_for("h5.home")))
    patients.remember_next(request.args.get("next"))
    hospital = patients.her_hospital()
    if hospital is None:
        return _no_hospital()
    if _in_wechat() and request.args.get("via") != "sms" and _setup(hospital).wechat is not None:
        return redirect(url_for("h5.wechat_start"))
    return page("h5/sign_in.html", phone="")


def page_context() -> dict[str, Any]:
    """Her sign-in page says when proving her phone will also bind her WeChat."""
    pending = patients.pending_openid()
    return {"binding": pending is not None and pending.hospital_id == session.get(patients.HOSPITAL)}


blp.context_processor(page_context)


# --- inside WeChat ---------------------------------------------------------------------------


def _return_url(hospital_id: str) -> str:
    """Our ``redirect_uri``: on the hospital's public base URL (the domain configured for web
    authorisation in the account), else this request's host."""
    base = hospital_settings.current(current_app.extensions["carepath.db"], hospital_id).public_base_url
    path = url_for("h5.wechat_return")
    return f"{base.rstrip('/')}{path}" if base else url_for("h5.wechat_return", _external=True)


@blp.get("/h5/sign-in/wechat")
def wechat_start() -> Any:
    hospital = patients.her_hospital()
    if hospital is None:
        return _no_hospital()
    account = _setup(hospital).wechat
    if account is None:
        return redirect(url_for("h5.sign_in", via="sms"))
    state = secrets.token_hex(16)  # WeChat allows a-zA-Z0-9, up to 128 bytes
    session[STATE] = state
    return redirect(sign_in_channels.authorize_url(account, _return_url(hospital), state))


def _start_again(text: str, status: int = 400) -> Any:
    return message("登录没有成功", text, status, link=url_for("h5.sign_in"), link_text="重新登录")


@blp.get("/h5/sign-in/wechat/return")
def wechat_return() -> Any:
    expected = session.pop(STATE, None)
    state, code = request.args.get("state", ""), request.args.get("code", "")
    if not expected or not hmac.compare_digest(str(expected), state):
        # forged, replayed, or begun in another browser: nothing of the code is used
        return _start_again("登录链接已失效或不是从本页面发起的，请重新打开页面登录。")
    if not code or len(code) > 256:
        return _start_again("微信没有完成授权，请重新打开页面登录。")
    hospital = patients.her_hospital()
    account = _setup(hospital).wechat if hospital else None
    if hospital is None or account is None:
        return _no_hospital()
    db, _, now = _services()
    try:
        first = current_app.extensions["carepath.nonces"].claim(
            "wechat-web-code",
            hashlib.sha256(code.encode()).hexdigest(),
            expires_at=now + CODE_MEMORY,
            now=now,
        )
    except NonceStoreUnavailableError:
        return _start_again("系统繁忙，请稍后重新打开页面。", 503)
    if not first:
        return _start_again("这个登录链接已经用过了，请重新打开页面登录。")
    try:
        openid = sign_in_channels.exchange_code(_channels().client, account, code)
    except ChannelError as exc:
        log.warning("web authorisation for hospital %s: %s", hospital, exc)
        return _start_again("微信授权没有成功（可能已过期或已使用），请重新打开页面登录。")
    with db.reading() as read:
        patient = read.scalar(
            select(ChannelBinding.patient_id).where(
                ChannelBinding.hospital_id == hospital,
                ChannelBinding.kind == "wechat_oa",
                ChannelBinding.account == account.appid,
                ChannelBinding.value == openid,
                ChannelBinding.unbound_at.is_(None),
            )
        )
    if patient is None:
        patients.remember_openid(hospital, account.appid, openid)
        if patients.next_page().startswith("/h5/inbox/"):
            # a push link: she is on record already; her phone's code binds this WeChat to her
            return redirect(url_for("h5.sign_in", via="sms"))
        return redirect(_register_url())
    patients.sign_in_patient(int(patient), hospital, "wechat")
    return redirect(patients.next_page())


# --- outside WeChat: her phone and a one-time code ---------------------------------------------


def _limits() -> sign_in_codes.CodeLimits:
    config = current_app.config
    return sign_in_codes.CodeLimits(
        per_phone=int(config.get("H5_CODES_PER_PHONE", 5)),
        per_address=int(config.get("H5_CODES_PER_ADDRESS", 20)),
    )


@blp.post("/h5/sign-in/code")
def send_code() -> Any:
    hospital = patients.her_hospital()
    if hospital is None:
        return _no_hospital()
    typed = request.form.get("phone", "")[:40]
    phone = sign_in_codes.mainland_mobile(typed)
    if phone is None:
        return page("h5/sign_in.html", 422, phone=typed, error=REFUSALS["bad-phone"])
    setup = _setup(hospital)
    if setup.sms is None:
        return page("h5/sign_in.html", 503, phone=typed, error=REFUSALS["no-sms"])
    db, cipher, now = _services()
    try:
        code = sign_in_codes.issue(
            db, cipher, hospital, phone, now, remote_addr=request.remote_addr, limits=_limits()
        )
    except sign_in_codes.SignInCodeError as exc:
        wait = max(1, exc.retry_after)
        text = (
            f"发送太频繁，请 {wait} 秒后再试。"
            if wait < 120
            else f"发送太频繁，请 {(wait + 59) // 60} 分钟后再试。"
        )
        html = render_template("h5/sign_in.html", phone=typed, error=text)
        return html, 429, {"Retry-After": str(wait)}
    try:
        sign_in_channels.send_code(setup, phone, code)
    except (ChannelError, LookupError) as exc:
        log.warning("sign-in code for hospital %s not sent: %s", hospital, exc)
        return page("h5/sign_in.html", 502, phone=typed, error=REFUSALS["send-failed"])
    session[PHONE] = phone
    return page("h5/sign_in_code.html", shown=f"{phone[:3]}****{phone[-4:]}")


@blp.post("/h5/sign-in/verify")
def verify_code() -> Any:
    hospital = patients.her_hospital()
    phone = session.get(PHONE)
    if hospital is None:
        return _no_hospital()
    if not phone:
        return page("h5/sign_in.html", 400, phone="", error=REFUSALS["no-code"])
    shown = f"{phone[:3]}****{phone[-4:]}"
    db, cipher, now = _services()
    try:
        patient = sign_in_codes.verify(
            db, cipher, hospital, str(phone), code=request.form.get("code", "")[:20], now=now
        )
    except sign_in_codes.SignInCodeError as exc:
        if exc.code == "wrong-code":
            text = f"验证码不对，还可以再试 {exc.remaining} 次。"
            return page("h5/sign_in_code.html", 422, shown=shown, error=text)
        if exc.code in ("too-many-tries", "expired", "no-code"):
            session.pop(PHONE, None)
            return page(
                "h5/sign_in.html",
                429 if exc.code == "too-many-tries" else 400,
                phone=phone,
                error=REFUSALS[exc.code],
            )
        raise
    session.pop(PHONE, None)
    if patient is None:
        patients.remember_verified_phone(hospital, str(phone))
        return message(
            "还没有建档",
            "这个手机号在本院还没有建档。请先登记您的信息，以后就可以用这个手机号登录。",
            200,
            kind="muted",
            link=_register_url(),
            link_text="去登记",
        )
    pending = patients.pending_openid()
    if pending is not None and pending.hospital_id == hospital:
        her_pages.bind_wechat(
            db, cipher, hospital, patient, appid=pending.appid, openid=pending.openid, now=now
        )
    patients.sign_in_patient(patient, hospital, "sms")
    return redirect(patients.next_page())


@blp.post("/h5/sign-out")
def sign_out() -> Any:
    patients.sign_out()
    return redirect(url_for("h5.sign_in"))


# --- her refusals ------------------------------------------------------------------------------


@blp.errorhandler(CSRFError)
def form_expired(error: CSRFError) -> Any:
    """Her form was not sent by this page, or the page was open too long."""
    return message("页面已过期", "页面已过期或表单不是从本站提交的，请返回后刷新页面再试。", 400)


@blp.errorhandler(NotFound)
def not_found(error: NotFound) -> Any:
    return message("没有找到", "没有这条内容，或者它不属于您。", 404)


@blp.app_template_filter("h5_date")
def h5_date(value: Any) -> str:
    """A date as she reads it: 2026年7月10日 (in the hospital's day, UTC+8)."""
    local = value.astimezone(timezone(timedelta(hours=8)))
    return f"{local.year}年{local.month}月{local.day}日"
