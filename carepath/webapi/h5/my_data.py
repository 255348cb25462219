"""Her data and her rights (我的数据, issue 19 item 4): ``/h5/my-data`` and what it posts.

- ``GET /h5/my-data``: what is held about her (``store/her_data.py``), her channels with a
  button each to stop or start, her phone with its form, her requests and the form to ask
  for deletion or correction, the hospital's retention text;
- ``POST /h5/my-data/phone`` (a new phone: a code goes to it) and ``/h5/my-data/phone/verify``
  (the code typed back: her phone changes, ``store/her_contact.py``);
- ``POST /h5/my-data/consent`` (``channel`` wechat|sms, ``give`` 0|1);
- ``GET /h5/my-data/download.json`` and ``/h5/my-data/print``: her data to keep;
- ``POST /h5/my-data/requests`` and ``GET /h5/my-data/requests/<id>`` (``store/her_requests.py``).

Plain HTML forms, each with its CSRF token: everything works with JavaScript off. After a
change the page is shown again by a redirect (``?done=…`` names what happened), so a reload
posts nothing twice. Every read is audited (``patient:<id>``); an id that is not hers answers
404 as an unknown one would, and the attempt is audited.
"""

from __future__ import annotations

import json
import logging
from datetime import date, datetime, timedelta, timezone
from typing import Any

from flask import abort, current_app, redirect, render_template, request, session, url_for
from markupsafe import Markup

from carepath.delivery import her_item
from carepath.delivery import sign_in as sign_in_channels
from carepath.delivery.sign_in import ChannelError
from carepath.store import audit, her_contact, her_data, her_pages, her_requests, sign_in_codes
from carepath.store.scope import Actor
from carepath.webapi.auth import patients
from carepath.webapi.h5 import blp, signin

log = logging.getLogger(__name__)
NEW_PHONE = "my_new_phone"
LAST_ID = 2**31 - 1
#: What the page says after a change (``?done=``).
DONE = {
    "phone": "手机号已更新。以后请用新手机号登录。",
    "phone-same": "这就是您现在登记的手机号，没有改动。",
    "sms-off": "已停止通过短信给您发消息。之后的消息会在孕期助手里，或通过您同意的其他渠道发送。",
    "sms-on": "已恢复通过短信给您发消息。",
    "wechat-off": "已停止通过微信给您发消息。之后的消息会在孕期助手里，或通过您同意的其他渠道发送。",
    "wechat-on": "已恢复通过微信给您发消息。",
}
KIND_ERRORS = {
    "no-text": "请写明哪一项信息不对、应当是什么。",
    "too-long": f"最多 {her_requests.TEXT_LIMIT} 个字。",
    "bad-kind": "请选择申请的类型。",
}


def _her() -> patients.PatientIdentity:
    her = patients.current_patient()
    assert her is not None  # @require_patient
    return her


def _services() -> tuple[Any, Any, Any]:
    app = current_app
    return app.extensions["carepath.db"], app.extensions["carepath.cipher"], app.config["CLOCK"]()


def _page(status: int = 200, **context: Any) -> Any:
    her = _her()
    db, cipher, now = _services()
    data = her_data.held(db, cipher, her.hospital_id, her.patient_id, now, remote_addr=request.remote_addr)
    context.setdefault("phone_value", "")
    context.setdefault("request_kind", "deletion")
    context.setdefault("request_text", "")
    done = DONE.get(request.args.get("done", ""))
    return render_template("h5/my_data.html", data=data, done=done, channel_zh=her_data.CHANNEL_ZH,
                           kinds=her_requests.KIND_ZH, **context), status  # fmt: skip


@blp.get("/h5/my-data")
@patients.require_patient
def my_data() -> Any:
    return _page()


# --- her phone -------------------------------------------------------------------------------


@blp.post("/h5/my-data/phone")
@patients.require_patient
def change_phone() -> Any:
    her = _her()
    typed = request.form.get("phone", "")[:40]
    phone = sign_in_codes.mainland_mobile(typed)
    if phone is None:
        return _page(422, phone_value=typed, phone_error="请输入中国大陆的 11 位手机号码。")
    setup = signin._setup(her.hospital_id)
    if setup.sms is None:
        return _page(503, phone_value=typed, phone_error="本院暂未开通短信验证，请到护士站更改手机号。")
    db, cipher, now = _services()
    try:
        code = sign_in_codes.issue(
            db, cipher, her.hospital_id, phone, now, remote_addr=request.remote_addr, limits=signin._limits()
        )
    except sign_in_codes.SignInCodeError as exc:
        wait = max(1, exc.retry_after)
        text = (
            f"发送太频繁，请 {wait} 秒后再试。"
            if wait < 120
            else f"发送太频繁，请 {(wait + 59) // 60} 分钟后再试。"
        )
        return _page(429, phone_value=typed, phone_error=text)
    try:
        sign_in_channels.send_code(setup, phone, code)
    except (ChannelError, LookupError) as exc:
        log.warning("phone-change code for hospital %s not sent: %s", her.hospital_id, exc)
        return _page(502, phone_value=typed, phone_error="短信暂时发不出去，请稍后再试，或到护士站求助。")
    session[NEW_PHONE] = phone
    return render_template("h5/my_data_phone.html", shown=phone)


@blp.post("/h5/my-data/phone/verify")
@patients.require_patient
def verify_phone() -> Any:
    her = _her()
    phone = session.get(NEW_PHONE)
    if not phone:
        return _page(400, phone_error="请先填写新手机号并获取验证码。")
    db, cipher, now = _services()
    try:
        owner = sign_in_codes.verify(
            db, cipher, her.hospital_id, str(phone), code=request.form.get("code", "")[:20], now=now
        )
    except sign_in_codes.SignInCodeError as exc:
        if exc.code == "wrong-code":
            text = f"验证码不对，还可以再试 {exc.remaining} 次。"
            return render_template("h5/my_data_phone.html", shown=phone, error=text), 422
        session.pop(NEW_PHONE, None)
        refusals = {
            "expired": "验证码已过期，请重新获取。",
            "too-many-tries": "验证码错误次数过多，已失效。请重新获取验证码。",
        }
        return _page(400, phone_value=phone, phone_error=refusals.get(exc.code, "请先获取验证码。"))
    session.pop(NEW_PHONE, None)
    taken = "这个手机号已登记在本院其他孕妇的档案中，不能在这里改用。如确需使用，请到护士站办理。"
    if owner is not None and owner != her.patient_id:
        return _page(409, phone_value=phone, phone_error=taken)
    try:
        changed = her_contact.change_phone(
            db, cipher, hospital_id=her.hospital_id, patient_id=her.patient_id, phone=str(phone), now=now,
            remote_addr=request.remote_addr,
        )  # fmt: skip
    except her_contact.PhoneTakenError:
        return _page(409, phone_value=phone, phone_error=taken)
    return redirect(url_for("h5.my_data", done="phone" if changed else "phone-same", _anchor="contact"), 303)


# --- her consent per channel -------------------------------------------------------------------


@blp.post("/h5/my-data/consent")
@patients.require_patient
def consent() -> Any:
    her = _her()
    channel, give = request.form.get("channel", ""), request.form.get("give", "")
    if channel not in her_data.CHANNELS or give not in ("0", "1"):
        return _page(422, consent_error="请从页面上的按钮选择。")
    db, _, now = _services()
    her_data.set_channel(
        db, hospital_id=her.hospital_id, patient_id=her.patient_id, channel=channel, give=give == "1",
        now=now, remote_addr=request.remote_addr,
    )  # fmt: skip
    done = f"{channel}-{'on' if give == '1' else 'off'}"
    return redirect(url_for("h5.my_data", done=done, _anchor="channels"), 303)


# --- her copy ----------------------------------------------------------------------------------


@blp.get("/h5/my-data/download.json")
@patients.require_patient
def download() -> Any:
    her = _her()
    db, cipher, now = _services()
    data = her_data.held(db, cipher, her.hospital_id, her.patient_id, now, purpose="json",
                         remote_addr=request.remote_addr)  # fmt: skip
    body = json.dumps(data, ensure_ascii=False, indent=2)
    name = f"my-data-{now.date().isoformat()}.json"
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "Content-Disposition": f'attachment; filename="{name}"',
        "X-Content-Type-Options": "nosniff",
    }
    return body, 200, headers


@blp.get("/h5/my-data/print")
@patients.require_patient
def print_page() -> Any:
    her = _her()
    db, cipher, now = _services()
    data = her_data.held(db, cipher, her.hospital_id, her.patient_id, now, purpose="print",
                         remote_addr=request.remote_addr)  # fmt: skip
    return render_template("h5/my_data_print.html", data=data, bodies=_bodies(her, db, cipher, now))


def _bodies(her: Any, db: Any, cipher: Any, now: Any) -> dict[int, Markup]:
    """Each message's body as her item page shows it (her safe facts, the one safe renderer):
    her printed copy never shows Markdown source or a greeting without her name."""
    today = her_pages.hospital_today(db, her.hospital_id, now)
    with db.reading() as session:
        facts = her_pages.her_home_in(session, cipher, hospital_id=her.hospital_id, patient_id=her.patient_id,
                                      pregnancy_id=her.pregnancy_id, today=today)  # fmt: skip
        safe = her_item.her_facts(facts, today)
        return {
            item_id: Markup(her_item.body_html(her_item.body_text_in(session, her.hospital_id, item, safe)))
            for item_id, item in her_pages.her_items_in(session, her.hospital_id, her.patient_id).items()
        }


# --- her requests ------------------------------------------------------------------------------


@blp.post("/h5/my-data/requests")
@patients.require_patient
def ask() -> Any:
    her = _her()
    kind, text = request.form.get("kind", ""), request.form.get("text", "")[: her_requests.TEXT_LIMIT + 1]
    db, cipher, now = _services()
    try:
        found, _ = her_requests.submit(
            db, cipher, hospital_id=her.hospital_id, patient_id=her.patient_id, kind=kind, text=text, now=now,
            remote_addr=request.remote_addr,
        )  # fmt: skip
    except her_requests.HerRequestError as exc:
        return _page(
            422,
            request_kind=kind,
            request_text=text,
            request_error=KIND_ERRORS.get(exc.code, "请检查后再提交。"),
        )
    return redirect(url_for("h5.her_request", request_id=found.id), 303)


@blp.get("/h5/my-data/requests/<int:request_id>")
@patients.require_patient
def her_request(request_id: int) -> Any:
    her = _her()
    db, cipher, now = _services()
    try:
        if request_id > LAST_ID:
            raise her_requests.HerRequestNotFoundError(str(request_id))
        found = her_requests.get_for_patient(
            db, cipher, her.hospital_id, her.patient_id, request_id=request_id, now=now
        )
    except her_requests.HerRequestNotFoundError:
        actor = Actor(her.hospital_id, "patient", str(her.patient_id), request.remote_addr)
        detail = f"no her-request visible: GET {request.path[:300]}"
        audit.record_repeated(db, actor, "not-found", now, detail, target_kind="her-request")
        abort(404)
    return render_template("h5/my_data_request.html", item=found)


@blp.app_template_filter("h5_when")
def h5_when(value: Any) -> str:
    """An ISO date (``2026-10-12``) or time from her data as she reads it: 2026年10月12日, or
    2026年7月10日 14:00 (in the hospital's day, UTC+8, as ``h5_date``)."""
    if not value:
        return ""
    text = str(value)
    if len(text) == 10:
        found = date.fromisoformat(text)
        return f"{found.year}年{found.month}月{found.day}日"
    local = datetime.fromisoformat(text).astimezone(timezone(timedelta(hours=8)))
    return f"{local.year}年{local.month}月{local.day}日 {local:%H:%M}"
