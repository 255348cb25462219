"""``/staff/requests`` (孕妇申请): the deletion and correction requests women file on their data
page (我的数据), in a queue, each decided with a reply she reads (issue 21 item 5).

Permission ``deletion.handle``. The store does the work and audits it
(``store/request_handling.py``): a deletion is carried out only for a woman with no ongoing
pregnancy — otherwise the page explains why and offers the reply instead; a correction of her
name or phone is applied through a ``patient.updated`` event, as the HIS applies one; any other
correction is answered in words. The hospital's retention notice (its ``retention_notice``
setting, what the law makes it keep) is shown beside every decision and begins the reply.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext, lazy_gettext

from carepath.store import her_requests, request_handling
from carepath.webapi.auth.permissions import current_staff, record_not_found, require

blp = Blueprint("staff_requests", __name__, url_prefix="/staff/requests")

FIELD_LABELS = {
    "name": lazy_gettext("Her name"),
    "phone": lazy_gettext("Her phone number"),
    "other": lazy_gettext("Something else (answer in words)"),
}


def _messages() -> dict[str, str]:
    """The sentence for each refused decision, by its stable code."""
    return {
        "open-pregnancy": gettext(
            "Her pregnancy is still ongoing: its care continues and its record is a medical record the "
            "hospital must keep, so nothing was deleted. Answer her with 'Not done' and say why; she may "
            "ask again once the pregnancy has ended."
        ),
        "bad-outcome": gettext("Choose whether the request was done or not done."),
        "no-decision": gettext("Write the reply she will read: what was done, or why not."),
        "too-long": gettext("The reply is too long (at most 2,000 characters)."),
        "not-open": gettext("This request was decided already."),
        "bad-field": gettext("Choose what the correction changes."),
        "bad-value": gettext(
            "The corrected value is not valid: a name of 1 to 40 characters, or an 11-digit mobile number."
        ),
        "no-pregnancy": gettext(
            "She has no pregnancy on file, so the correction cannot be recorded as an event."
        ),
        "no-identifier": gettext(
            "She has neither a hospital patient number nor an ID number on file: correct it at the desk."
        ),
        "event-refused": gettext("The correction was refused by the same checks as the HIS's changes."),
        "wrong-kind": gettext("This form does not fit the kind of request."),
    }


def _context() -> tuple[Any, Any, Any, Any]:
    staff = current_staff()
    assert staff is not None
    app = current_app
    return app.extensions["carepath.db"], app.extensions["carepath.cipher"], app.config["CLOCK"](), staff


def suggested_reply(item: request_handling.QueueItem, notice: str) -> str:
    """The reply the form starts with: what fits her situation, then the retention notice."""
    if item.request.kind == "deletion" and item.ongoing_pregnancy:
        head = gettext(
            "Your pregnancy care is still ongoing and its records must be kept, so we cannot delete them "
            "now. You may ask again after your pregnancy has ended."
        )
    elif item.request.kind == "deletion":
        head = gettext(
            "We have removed your contact bindings and your consent to receive messages; you will no longer "
            "receive messages from us. Your medical records are kept as the law requires."
        )
    else:
        head = gettext("We have corrected your information as you asked.")
    return f"{head}\n\n{notice}"


@blp.get("")
@require("deletion.handle")
def queue_page() -> Any:
    db, cipher, now, me = _context()
    waiting, decided = request_handling.queue(db, cipher, me.actor(request.remote_addr), now)
    return render_template("requests/queue.html", waiting=waiting, decided=decided)


def _detail(
    request_id: int, *, error: str | None = None, status: int = 200, form: dict[str, str] | None = None
) -> Any:
    db, cipher, now, me = _context()
    try:
        item = request_handling.one(db, cipher, me.actor(request.remote_addr), request_id, now)
    except her_requests.HerRequestNotFoundError:
        record_not_found("request")
        message = gettext("No such request in your hospital.")
        return render_template("error.html", title=gettext("Not found"), message=message), 404
    notice = her_requests.retention_notice(db, me.hospital_id)
    page = render_template(
        "requests/detail.html",
        item=item,
        notice=notice,
        reply=(form or {}).get("decision") or suggested_reply(item, notice),
        form=form or {},
        fields=FIELD_LABELS,
        error=error,
        explained=item.request.kind == "deletion" and item.ongoing_pregnancy and item.request.is_open,
    )
    return page, status


@blp.get("/<int:request_id>")
@require("deletion.handle")
def request_page(request_id: int) -> Any:
    return _detail(request_id)


@blp.post("/<int:request_id>/review")
@require("deletion.handle")
def review(request_id: int) -> Any:
    db, cipher, now, me = _context()
    try:
        her_requests.start_review(db, cipher, me.actor(request.remote_addr), request_id, now)
    except her_requests.HerRequestNotFoundError:
        return _detail(request_id)
    except her_requests.HerRequestError as error:
        return _detail(request_id, error=_messages().get(error.code, error.message), status=422)
    flash(gettext("You took up this request."), "info")
    return redirect(url_for("staff_requests.request_page", request_id=request_id))


@blp.post("/<int:request_id>/decide")
@require("deletion.handle")
def decide(request_id: int) -> Any:
    db, cipher, now, me = _context()
    form = {
        "outcome": request.form.get("outcome", ""),
        "decision": request.form.get("decision", "")[:4000],
        "field": request.form.get("field", "other"),
        "value": request.form.get("value", "")[:200],
    }
    kind = request.form.get("kind", "")
    actor = me.actor(request.remote_addr)
    try:
        if kind == "correction":
            request_handling.decide_correction(
                db, cipher, actor, request_id, outcome=form["outcome"], decision=form["decision"],
                field=form["field"], value=form["value"], now=now,
            )  # fmt: skip
        else:
            request_handling.decide_deletion(
                db, cipher, actor, request_id, outcome=form["outcome"], decision=form["decision"], now=now
            )
    except her_requests.HerRequestNotFoundError:
        return _detail(request_id)
    except (her_requests.HerRequestError, request_handling.RequestHandlingError) as error:
        message = _messages().get(error.code, gettext("This decision cannot be recorded."))
        return _detail(request_id, error=message, status=422, form=form)
    flash(gettext("The decision is recorded; she sees it on her data page."), "info")
    return redirect(url_for("staff_requests.queue_page"))
