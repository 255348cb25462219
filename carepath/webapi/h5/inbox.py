"""Her inbox: ``/h5/inbox`` (the items sent to her, newest first) and ``/h5/inbox/<id>`` (one
item, its body through the safe renderer). ``/inbox/<id>``, the link older pushes carried,
answers with a redirect to ``/h5/inbox/<id>``. Another woman's item id is 404, as an unknown one."""

from __future__ import annotations

from typing import Any

from flask import abort, current_app, redirect, render_template
from markupsafe import Markup

from carepath.delivery import her_item
from carepath.store import her_forms, her_pages
from carepath.store.inbox import InboxItemNotFoundError
from carepath.webapi.auth import patients
from carepath.webapi.h5 import blp

#: The largest id an inbox item can have (its column is a 32-bit INTEGER on PostgreSQL); a
#: larger one in her address is no item of hers (SQLite's driver would raise on it: a 500).
LAST_ID = 2**31 - 1


def _her() -> patients.PatientIdentity:
    her = patients.current_patient()
    assert her is not None  # @require_patient
    return her


@blp.get("/h5/inbox")
@patients.require_patient
def inbox() -> Any:
    her = _her()
    db, now = current_app.extensions["carepath.db"], current_app.config["CLOCK"]()
    items = her_pages.her_inbox(db, her.hospital_id, her.patient_id, now)
    return render_template("h5/inbox.html", items=items)


@blp.get("/h5/inbox/<int:item_id>")
@patients.require_patient
def item(item_id: int) -> Any:
    her = _her()
    if item_id > LAST_ID:
        abort(404)
    db, now = current_app.extensions["carepath.db"], current_app.config["CLOCK"]()
    try:
        found = her_pages.her_item(db, her.hospital_id, her.patient_id, item_id, now)
    except InboxItemNotFoundError:
        abort(404)
    today = her_pages.hospital_today(db, her.hospital_id, now)
    with db.reading() as session:  # her facts and the item's text in one session
        facts = her_pages.her_home_in(
            session,
            current_app.extensions["carepath.cipher"],
            hospital_id=her.hospital_id,
            patient_id=her.patient_id,
            pregnancy_id=her.pregnancy_id,
            today=today,
        )
        text = her_item.body_text_in(session, her.hospital_id, found, her_item.her_facts(facts, today))
    form_url = her_forms.form_url_of_item(db, found)  # a form sent to her: the button to fill it in
    return render_template(
        "h5/item.html", item=found, body=Markup(her_item.body_html(text)), form_url=form_url
    )


@blp.get("/inbox/<int:item_id>")
def old_link(item_id: int) -> Any:
    """Pushes sent before issue 18 carried ``/inbox/<id>``: it answers now."""
    return redirect(f"/h5/inbox/{item_id}", code=301)
