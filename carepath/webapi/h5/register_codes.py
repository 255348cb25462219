"""The one-time SMS codes that prove an ID number on file is hers: h5-identity's sign-in codes
(``store/sign_in_codes.py``: 6 digits, stored hashed, 5 minutes, 5 tries, rate-limited per
phone and per address), issued for and sent to the phone **already on file**, through the
hospital's SMS channel (``delivery/sign_in.py``). Each function answers None when all is well,
else her Chinese words (never the phone's digits)."""

from __future__ import annotations

import logging
from datetime import datetime

from flask import current_app, request

from carepath.delivery import sign_in as sign_in_channels
from carepath.store import sign_in_codes
from carepath.webapi.h5 import signin

log = logging.getLogger(__name__)
DESK = "请到护士站核对身份。"


def sms_ready(hospital_id: str | None) -> bool:
    """Whether the hospital sends SMS codes at all (else the proof page offers only the desk)."""
    return hospital_id is not None and signin._setup(hospital_id).sms is not None


def send(hospital_id: str, phone: str, now: datetime) -> str | None:
    setup = signin._setup(hospital_id)  # the sign-in page's channels (one cache)
    if setup.sms is None:
        return "本院暂未开通短信验证，" + DESK
    db, cipher = current_app.extensions["carepath.db"], current_app.extensions["carepath.cipher"]
    try:
        code = sign_in_codes.issue(
            db,
            cipher,
            hospital_id,
            phone,
            now,
            remote_addr=request.remote_addr,
            limits=signin._limits(),
        )
    except sign_in_codes.SignInCodeError as exc:
        wait = max(1, exc.retry_after)
        return (
            f"发送太频繁，请 {wait} 秒后再试。"
            if wait < 120
            else f"发送太频繁，请 {(wait + 59) // 60} 分钟后再试。"
        )
    try:
        sign_in_channels.send_code(setup, phone, code)
    except (sign_in_channels.ChannelError, LookupError) as exc:
        log.warning("registration proof code for hospital %s not sent: %s", hospital_id, exc)
        return "短信暂时发不出去，请稍后再试，或" + DESK
    return None


def check(hospital_id: str, phone: str, code: str, now: datetime) -> str | None:
    db, cipher = current_app.extensions["carepath.db"], current_app.extensions["carepath.cipher"]
    try:
        sign_in_codes.verify(db, cipher, hospital_id, phone, code=code[:20], now=now)
    except sign_in_codes.SignInCodeError as exc:
        if exc.code == "wrong-code":
            return f"验证码不对，还可以再试 {exc.remaining} 次。"
        return signin.REFUSALS.get(exc.code, "验证码无效，请重新获取。")
    return None
