"""Her sign-in and sign-out: ``/h5/sign-in`` (inside WeChat: web authorisation; elsewhere her
phone and a one-time SMS code) and ``POST /h5/sign-out``."""

from __future__ import annotations

from datetime import timedelta, timezone
from typing import Any

from flask import redirect, render_template, request, url_for
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import NotFound

from carepath.webapi.auth import patients
from carepath.webapi.common.i18n import safe_next
from carepath.webapi.h5 import blp


def page(template: str, status: int = 200, **context: Any) -> Any:
    return render_template(template, **context), status


def message(title: str, text: str, status: int) -> Any:
    """A refusal or a dead end, in Chinese, with the way on."""
    return page("h5/message.html", status, title=title, text=text)


@blp.get("/h5/sign-in")
def sign_in() -> Any:
    """Signed in already: where she was going. Otherwise the sign-in page of her hospital."""
    if patients.current_patient() is not None:
        return redirect(safe_next(request.args.get("next"), url_for("h5.home")))
    patients.remember_next(request.args.get("next"))
    hospital = patients.her_hospital()
    if hospital is None:
        return message("无法登录", "请从医院发给您的链接或医院的二维码打开本页面。", 404)
    return page("h5/sign_in.html", phone="")


@blp.post("/h5/sign-out")
def sign_out() -> Any:
    patients.sign_out()
    return redirect(url_for("h5.sign_in"))


@blp.post("/h5/sign-in/code")
def send_code() -> Any:
    return message("暂不可用", "短信登录即将开放。", 503)


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
