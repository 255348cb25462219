"""建档登记: registration at the desk, ``/staff/desk`` (issue 21 item 3, docs/desk-registration.md).

A nurse (``patient.register``) fills her registration form for her: the same fields
(``registration/_fields.html``), checks (``registration_form.check_form`` with ``at_desk``) and
de-duplication (``store/desk_registration.py``) as her own registration. The desk adds how she
gave her consent and the notice version she saw; without them nothing is registered. Her ID
card fills the form: a keyboard-wedge reader types into the ID field (``registration.js``);
a reader with a local service on the desk PC (the hospital's ``id_reader_url``) is asked by the
page's script (``desk.js``), and its answer is mapped here (``POST /staff/desk/card``,
``id_card.py``). A registration ends on its result page with the WeChat binding QR of her record
(``record.bind_code``). An ID number on file registers nothing: the page says so and links her
record. A woman whose own form waits for a proof (her ID number was on file) is confirmed here
too: her reference and the number on her card (``POST /staff/desk/confirm``). Each outcome is
audited by the store; the result page's read here.
"""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, current_app, redirect, render_template, request, session, url_for
from flask_babel import gettext
from sqlalchemy import select

from carepath.delivery.inbox_now import file_due_now
from carepath.engine import identity
from carepath.store import desk_registration, her_record, hospital_settings, registration
from carepath.store.event_input import hospital_today
from carepath.store.models import Pregnancy
from carepath.store.models_registration import Registration
from carepath.store.registration_form import (
    CONSENT_METHODS,
    DATING_METHODS,
    GUARDIAN_RELATIONS,
    ID_TYPE_NAMES,
    NOTICE_VERSION,
    RegistrationInvalidError,
    check_form,
    screen_form,
)
from carepath.store.scope import PregnancyNotFoundError, audit
from carepath.store.state_codec import stored_colour
from carepath.webapi.auth.permissions import current_staff, require
from carepath.webapi.auth.sessions import CONTENT_SECURITY_POLICY
from carepath.webapi.staff import id_card
from carepath.webapi.staff.record import COLOURS, bind_code, not_found

blp = Blueprint("staff_desk", __name__, url_prefix="/staff/desk")

#: The staff session's key for the open desk form's one-time token (a double submit registers once).
TOKEN = "desk_register_token"
#: The largest reader answer mapped (a card's fields, and perhaps its photo, which is ignored).
MAX_CARD_BYTES = 256 * 1024
#: A fresh form's values.
_BLANK = {"id_type": "resident", "dating_method": "lmp"}


def _context() -> tuple[Any, Any, Any, Any]:
    staff = current_staff()
    assert staff is not None
    app = current_app
    return app.extensions["carepath.db"], app.extensions["carepath.cipher"], app.config["CLOCK"](), staff


def _reader_url(hospital_id: str) -> str | None:
    return hospital_settings.current(current_app.extensions["carepath.db"], hospital_id).id_reader_url


def _form_page(values: dict[str, Any], errors: dict[str, str], status: int = 200, **shown: Any) -> Any:
    _, _, _, me = _context()
    reader = _reader_url(me.hospital_id)
    page = render_template(
        "desk/desk.html",
        values=values,
        errors=errors,
        token=session[TOKEN],
        screen=screen_form(),
        id_types=ID_TYPE_NAMES,
        dating_methods=DATING_METHODS,
        relations=GUARDIAN_RELATIONS,
        notice_version=NOTICE_VERSION,
        consent_methods=CONSENT_METHODS,
        reader_url=reader,
        **shown,
    )
    response = current_app.make_response((page, status))
    if reader:  # the page's script may ask the desk PC's reader service, and only it
        parts = urlsplit(reader)
        origin = f"{parts.scheme}://{parts.netloc}"
        response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY.replace(
            "default-src 'self';", f"default-src 'self'; connect-src 'self' {origin};"
        )
    return response


@blp.get("")
@require("patient.register")
def desk_page() -> Any:
    session[TOKEN] = session.get(TOKEN) or secrets.token_urlsafe(24)
    return _form_page(dict(_BLANK), {})


@blp.post("")
@require("patient.register")
def desk_submit() -> Any:
    db, cipher, now, me = _context()
    token = request.form.get("token", "")
    if not token or token != session.get(TOKEN):
        session[TOKEN] = secrets.token_urlsafe(24)
        message = gettext("This form was already sent, or opened in another window. Fill it in again.")
        return _form_page(dict(_BLANK), {"form": message}, 400)
    values = {k: request.form.getlist(k) if k.startswith("screen.") else v for k, v in request.form.items()}
    try:
        form = check_form(lambda k: request.form.get(k, ""), request.form.getlist, now, at_desk=True)
    except RegistrationInvalidError as invalid:
        return _form_page(values, invalid.errors, 422)
    actor = me.actor(request.remote_addr)

    def file_inbox(db_session: Any, row: Registration, pregnancy: Pregnancy) -> None:
        file_due_now(db_session, row.hospital_id, pregnancy.id, now)

    done = desk_registration.register_at_desk(db, cipher, actor, token, form, now=now, on_done=file_inbox)
    if isinstance(done, desk_registration.OnFile):
        # nothing written: the form stays as typed (a mistyped number is corrected and sent again)
        return _form_page(values, {}, 409, on_file=done)
    session[TOKEN] = secrets.token_urlsafe(24)  # the next woman's form is a new one
    return redirect(url_for("staff_desk.registered", pregnancy_id=done.pregnancy_id))


@blp.post("/confirm")
@require("patient.register")
def confirm() -> Any:
    """She filled her form on her phone and her ID number was on file: her page gave her a
    reference (R and six digits) and sent her here. The number on her ID card, read or typed
    by the nurse, must be the form's (``registration.confirm_at_desk``); then she is registered
    and her page, reloaded, signs her in."""
    db, cipher, now, me = _context()
    reference = request.form.get("reference", "").strip()[:20]
    number = request.form.get("card_number", "").strip()[:20]
    shown = {"confirm_values": {"reference": reference, "card_number": number}}
    if not reference or not number:
        problem = gettext("Give the registration number on her phone and the number on her ID card.")
        return _form_page(dict(_BLANK), {}, 422, confirm_error=problem, **shown)

    def file_inbox(db_session: Any, row: Registration, pregnancy: Pregnancy) -> None:
        file_due_now(db_session, row.hospital_id, pregnancy.id, now)

    try:
        done = registration.confirm_at_desk(
            db, cipher, me.actor(request.remote_addr), reference, number, now=now, on_done=file_inbox
        )
    except registration.RegistrationNotFoundError:
        problem = gettext(
            "No form waits for a check under this registration number (or it waited more than 24 "
            "hours): check the number, or register her here."
        )
        return _form_page(dict(_BLANK), {}, 404, confirm_error=problem, **shown)
    except registration.IdentityMismatchError:
        problem = gettext(
            "The number on her ID card is not the one her form gave: check that the card is hers. "
            "Nothing was registered."
        )
        return _form_page(dict(_BLANK), {}, 422, confirm_error=problem, **shown)
    return redirect(url_for("staff_desk.registered", pregnancy_id=done.pregnancy_id))


@blp.get("/<pregnancy_id>/registered")
@require("patient.register")
def registered(pregnancy_id: str) -> Any:
    """The result: who was registered, her EDD and suggested colour, and the binding QR."""
    me = current_staff()
    assert me is not None
    try:
        shown = _registered(pregnancy_id[:80])
    except PregnancyNotFoundError:
        return not_found()  # outside the transaction: its refusal is audited after it ends
    svg, target = bind_code(me.hospital_id)
    return render_template("desk/registered.html", pregnancy_id=pregnancy_id, svg=svg, target=target, **shown)


def _registered(pregnancy_id: str) -> dict[str, Any]:
    """What the result page says of her (her name in clear: the nurse just registered her; the
    read is audited as any read of her record is)."""
    db, cipher, now, me = _context()
    actor = me.actor(request.remote_addr)
    with db.transaction() as db_session:
        pregnancy, patient = her_record.find_pregnancy(db_session, actor, pregnancy_id, now)
        row = db_session.scalar(
            select(Registration)
            .where(Registration.pregnancy_id == pregnancy.id, Registration.hospital_id == me.hospital_id)
            .order_by(Registration.id.desc())
            .limit(1)
        )
        audit(
            db_session, actor, "read", now, "registration at the desk: result and WeChat binding QR shown",
            patient_id=patient.id, pregnancy_id=pregnancy.id,
        )  # fmt: skip
        return {
            "name": cipher.open(patient.name_sealed) if patient.name_sealed else "",
            "reference": row.reference if row is not None else None,
            "colour": COLOURS.get(stored_colour(pregnancy.state.get("facts", {}))["risk_colour"] or ""),
            "edd": pregnancy.edd,
        }


@blp.post("/card")
@require("patient.register")
def card() -> Any:
    """The desk PC's reader answer (JSON, as its service gave it) mapped to the form's fields,
    with the ID number checked as the form will check it (a Chinese problem, nothing kept)."""
    _, _, now, _ = _context()
    if (request.content_length or 0) > MAX_CARD_BYTES:
        return {"problem": "读卡器返回的内容太大，无法识别"}, 413
    answer = request.get_json(silent=True)
    try:
        read = id_card.map_card(answer)
    except id_card.UnreadableCardError:
        return {"problem": "读卡器返回的内容无法识别为身份证信息，请手动填写或重新读卡"}, 422
    problems: dict[str, str] = {}
    try:
        identity.check_id_number(read.id_number or "", "resident", hospital_today(now))
    except identity.InvalidIdNumberError as error:
        problems["id_number"] = error.message_zh
    if read.sex == "male":
        problems["id_number"] = "身份证显示为男性，请读取孕妇本人的身份证"
    return {"fields": read.form_values(), "problems": problems, "format": read.format}
