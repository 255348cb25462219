"""Her registration pages (自动化建档, issue 18 items 4, 5 and 7): ``/h5/register``.

``GET /h5/register`` (``h5.register``): the one form, with a one-time token kept in her session
(a form posted without this browser's token — forged, or from another browser — is refused,
and nothing is written). ``POST``: the form checked field by field (``store/registration_form``;
each problem in Chinese next to its field, the form kept as she typed it), then registered
(``store/registration``). A new woman is signed in (``sign_in_patient``) and lands on her inbox,
where the lesson of her week is already filed (``delivery/inbox_now``). An ID number already on
file is never bound to her on the form's word: ``/h5/register/prove`` (``h5.register_prove``)
sends a code to the phone on file (nothing of that woman is shown, not even part of the number)
or sends her to the nurses' desk with a reference number; once a nurse confirms her there, the
same page, reloaded, signs her in.
"""

from __future__ import annotations

import secrets
from typing import Any

from flask import current_app, redirect, render_template, request, session, url_for
from sqlalchemy.orm import Session

from carepath.delivery.inbox_now import file_due_now
from carepath.store import registration, sources
from carepath.store.models import Pregnancy
from carepath.store.models_registration import Registration
from carepath.store.registration_form import (
    DATING_METHODS,
    GUARDIAN_RELATIONS,
    ID_TYPE_NAMES,
    NOTICE_VERSION,
    RegistrationInvalidError,
    check_form,
    screen_form,
)
from carepath.webapi.auth import patients
from carepath.webapi.h5 import blp
from carepath.webapi.h5 import register_codes as codes

#: Her session's key for the open form's one-time token, and for a form waiting for her proof.
TOKEN = "h5_register_token"
PENDING = "h5_register_pending"
#: The source she came from (``h5/sources.py`` keeps its code there until she registers).
SOURCE = "h5_source"
#: Where the inbox copies filed at once link to: the dispatcher's default link (``/inbox/<id>``
#: answers with her page).
LINK_BASE = "/inbox"


def _tools() -> tuple[Any, Any, Any]:
    app = current_app
    return app.extensions["carepath.db"], app.extensions["carepath.cipher"], app.config["CLOCK"]()


def _file_inbox(db_session: Session, row: Registration, pregnancy: Pregnancy) -> None:
    now = current_app.config["CLOCK"]()
    file_due_now(db_session, row.hospital_id, pregnancy.id, now)


def _message(title: str, text: str, status: int, link: str | None = None, link_text: str = "") -> Any:
    return render_template("h5/message.html", title=title, text=text, link=link, link_text=link_text), status


def _form_page(values: dict[str, Any], errors: dict[str, str], status: int = 200) -> Any:
    return render_template(
        "h5/register.html",
        values=values,
        errors=errors,
        token=session[TOKEN],
        screen=screen_form(),
        id_types=ID_TYPE_NAMES,
        dating_methods=DATING_METHODS,
        relations=GUARDIAN_RELATIONS,
        notice_version=NOTICE_VERSION,
    ), status


def _hospital() -> str | None:
    """Her hospital: the source's she came from (its short URL names one hospital), else what
    her session, the host or the configuration say (``patients.her_hospital``)."""
    code = session.get(SOURCE)
    if code:
        with current_app.extensions["carepath.db"].reading() as db_session:
            source = sources.find_by_code(db_session, str(code))
        if source is not None:
            return source.hospital_id
    return patients.her_hospital()


def _signed_in(done: registration.Registered, hospital_id: str) -> Any:
    patients.sign_in_patient(done.patient_id, hospital_id, "registration")
    return redirect(url_for("h5.inbox"))


@blp.get("/h5/register")
def register() -> Any:
    her = patients.current_patient()
    if her is not None and her.pregnancy_id is not None:
        return redirect(url_for("h5.home"))  # registered already: her pages
    if _hospital() is None:
        return _message("无法建档", "请从医院的二维码或医院发给您的链接打开本页面。", 404)
    session[TOKEN] = session.get(TOKEN) or secrets.token_urlsafe(24)
    return _form_page({"id_type": "resident", "dating_method": "lmp"}, {})


@blp.post("/h5/register")
def register_submit() -> Any:
    hospital_id = _hospital()
    if hospital_id is None:
        return _message("无法建档", "请从医院的二维码或医院发给您的链接打开本页面。", 404)
    db, cipher, now = _tools()
    token = request.form.get("token", "")
    if not token or token != session.get(TOKEN):
        her = patients.current_patient()
        known = registration.outcome(db, cipher, token, now) if token and her is not None else None
        if (
            isinstance(known, registration.Registered)
            and her is not None
            and known.patient_id == her.patient_id
        ):
            return redirect(url_for("h5.inbox"))  # the same form sent again after it registered her
        text = "这份表单不是在本页面打开的，或已经提交过。请重新打开建档页面填写。"
        return _message("页面已过期", text, 400, url_for("h5.register"), "重新填写")
    values = {k: request.form.getlist(k) if k.startswith("screen.") else v for k, v in request.form.items()}
    try:
        form = check_form(lambda k: request.form.get(k, ""), request.form.getlist, now)
    except RegistrationInvalidError as invalid:
        return _form_page(values, invalid.errors, 422)
    pending = patients.pending_openid()
    if pending is not None and pending.hospital_id == hospital_id:
        form.extra["openid"] = {"appid": pending.appid, "openid": pending.openid}
    her = patients.current_patient()
    try:
        done = registration.register(
            db,
            cipher,
            hospital_id,
            token,
            form,
            now=now,
            source=session.get(SOURCE),
            signed_in=her.patient_id if her is not None else None,
            remote_addr=request.remote_addr,
            on_done=_file_inbox,
        )
    except registration.TooManyProofsError:
        return _message(
            "提交太频繁", "这台设备或网络提交建档太频繁，请一小时后再试，或到护士站办理建档。", 429
        )
    if isinstance(done, registration.Registered):
        return _signed_in(done, hospital_id)
    session[PENDING] = token
    session[TOKEN] = secrets.token_urlsafe(24)  # a corrected form (a mistyped number) is a new one
    return redirect(url_for("h5.register_prove"))


@blp.get("/h5/register/prove")
def register_prove() -> Any:
    """Her ID number is on file: prove it is hers (or see that a nurse confirmed her)."""
    db, cipher, now = _tools()
    token = session.get(PENDING)
    found = registration.outcome(db, cipher, str(token), now) if token else None
    if found is None:
        text = "没有等待核对的建档，或已超过24小时。请重新填写。"
        return _message("请重新建档", text, 404, url_for("h5.register"), "重新填写")
    if isinstance(found, registration.Registered):  # a nurse confirmed her at the desk
        hospital_id = _hospital()
        assert hospital_id is not None
        return _signed_in(found, hospital_id)
    return _proof_page(found, sent=request.args.get("sent") == "1")


@blp.post("/h5/register/prove/send")
def register_send_code() -> Any:
    """A code to the phone on file of the woman her ID number matched (never to the form's)."""
    now = current_app.config["CLOCK"]()
    _, phone = _waiting()
    if phone is None:
        return redirect(url_for("h5.register_prove"))  # expired, done already, or no phone on file
    hospital_id = _hospital()
    assert hospital_id is not None
    refused = codes.send(hospital_id, phone, now)
    if refused:
        return _proof_page(_pending(), error=refused), 429
    return redirect(url_for("h5.register_prove", sent=1))


@blp.post("/h5/register/prove/check")
def register_check_code() -> Any:
    """The code she read from the phone on file proves the record is hers: registered, signed in."""
    db, cipher, now = _tools()
    token, phone = _waiting()
    if phone is None:
        return redirect(url_for("h5.register_prove"))  # the page says what became of it
    hospital_id = _hospital()
    assert hospital_id is not None
    refused = codes.check(hospital_id, phone, request.form.get("code", ""), now)
    if refused:
        return _proof_page(_pending(), error=refused), 422
    done = registration.complete_pending(db, cipher, token, now, proven_by="sms", on_done=_file_inbox)
    return _signed_in(done, hospital_id)


def _waiting() -> tuple[str, str | None]:
    """Her waiting form's token, and the phone on file its code goes to (None: the form is not
    waiting any more — expired or done — or no phone is on file)."""
    db, cipher, now = _tools()
    token = str(session.get(PENDING) or "")
    if not isinstance(registration.outcome(db, cipher, token, now), registration.ProofNeeded):
        return token, None
    found = registration.phone_on_file(db, cipher, token, now)
    return token, found[1] if found is not None else None


def _proof_page(pending: registration.ProofNeeded | None, **shown: Any) -> str:
    """The proof page; its SMS code only when a phone is on file and the hospital sends SMS."""
    can_sms = pending is not None and pending.can_sms and codes.sms_ready(_hospital())
    return render_template("h5/register_prove.html", pending=pending, can_sms=can_sms, **shown)


def _pending() -> registration.ProofNeeded | None:
    db, cipher, now = _tools()
    found = registration.outcome(db, cipher, str(session.get(PENDING)), now)
    return found if isinstance(found, registration.ProofNeeded) else None
