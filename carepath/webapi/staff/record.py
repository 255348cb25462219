"""患者 and her record: ``/staff/patients`` (the women of my teams, masked, paged) and
``/staff/patients/<pregnancy_id>`` (everything of one pregnancy, and what staff do on it).

Reads come from ``store/her_record.py``, actions from ``store/record_actions.py`` (each through
the language's events, evaluated as the HIS's are). Every view is checked here by permission,
through ``auth/permissions.py``: reading by ``task.work``, her name in clear by ``patient.read``
(audited), acting by ``patient.write`` (changing her team and the people named for her too:
``record_care.py``), confirming a colour by ``risk.confirm``. Another
hospital's pregnancy answers as a missing one (404, counted). An action refused for its input
shows the record again with the field's error in Chinese (422); a success goes back to the
record with a note (post/redirect/get). Docs: docs/her-record.md.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import format_datetime, gettext
from markupsafe import Markup

from carepath.delivery import her_item
from carepath.delivery.inbox_now import file_due_now
from carepath.delivery.sources import draw
from carepath.engine.timing import SendWindow
from carepath.store import care_teams, her_record, hospital_settings, record_actions, search, search_choices
from carepath.store.record_actions import RecordActionError
from carepath.store.roles import label
from carepath.store.scope import PregnancyNotFoundError, audit
from carepath.webapi.auth.permissions import can, current_staff, record_not_found, require
from carepath.webapi.common.diagnostics_text import page_translate
from carepath.webapi.staff import patient_search, record_dating
from carepath.webapi.staff.editor_preview import titles
from carepath.webapi.staff.risk_register import safe_return
from carepath.webapi.staff.why_words import said

blp = Blueprint("staff_record", __name__, url_prefix="/staff/patients")

#: The colours in Chinese (the 2017 five-colour grade).
COLOURS = {"green": "绿色", "yellow": "黄色", "orange": "橙色", "red": "红色", "purple": "紫色"}
#: What each refusal of an action says, by the store's code (English msgids, Chinese in the .po).
MESSAGES = {
    "reason-required": label("Give a reason."),
    "reason-too-long": label("The reason is too long (at most 200 characters)."),
    "tag-required": label("Choose or type a tag."),
    "tag-too-long": label("The tag is too long (at most 40 characters)."),
    "pathway-required": label("Choose a plan."),
    "unknown-pathway": label("No such plan in your hospital's library."),
    "bad-colour": label("Choose a colour."),
    "note-too-long": label("The note is too long (at most 500 characters)."),
    "content-required": label("Choose a content item."),
    "unknown-content": label("No such content item in your hospital's library."),
    "unapproved-content": label(
        "This content item is not approved by a reviewer yet: only approved items can be sent."
    ),
    "title-required": label("Give the task a title."),
    "title-too-long": label("The title is too long (at most 200 characters)."),
    "bad-assign": label("Choose who the task is for."),
    "bad-priority": label("Choose a priority."),
    "bad-due": label("The due time is hours from now: a whole number from 1 to 2160."),
    "stale-form": label("This form was already sent with other values; reload the page and try again."),
    "bad-request-token": label("This form is stale; reload the page and try again."),
    "evaluation-failed": label("The pathways could not apply this change; nothing was saved."),
}
#: Event types in words (English msgids; the page shows the Chinese).
EVENT_TITLES = {
    "patient.registered": label("Registered"),
    "patient.updated": label("Details updated"),
    "diagnosis.added": label("Diagnosis added"),
    "diagnosis.removed": label("Diagnosis removed"),
    "lab.result": label("Lab result"),
    "dating.ultrasound": label("Dating ultrasound"),
    "encounter.completed": label("Visit completed"),
    "appointment.booked": label("Appointment booked"),
    "appointment.attended": label("Appointment attended"),
    "appointment.missed": label("Appointment missed"),
    "appointment.cancelled": label("Appointment cancelled"),
    "appointment.rescheduled": label("Appointment rescheduled"),
    "class.booked": label("Class booked"),
    "class.attended": label("Class attended"),
    "class.cancelled": label("Class cancelled"),
    "course.completed": label("Course completed"),
    "questionnaire.submitted": label("Questionnaire answered"),
    "tag.added": label("Tag added"),
    "tag.removed": label("Tag removed"),
    "risk.confirmed": label("Risk colour confirmed"),
    "plan.enrol_requested": label("Enrolment requested by staff"),
    "plan.end_requested": label("Plan ended by staff"),
    "medication.prescribed": label("Medication prescribed"),
    "medication.stopped": label("Medication stopped"),
    "delivery": label("Gave birth"),
    "pregnancy.ended": label("Pregnancy ended"),
    "newborn.registered": label("Newborn registered"),
    "newborn.died": label("Newborn died"),
    "loss.suspected": label("Loss suspected"),
    "loss.confirmed": label("Loss confirmed"),
    "loss.rejected": label("Loss ruled out"),
    "enrolled": label("Enrolled"),
}
ACTION_TITLES = {
    "push": label("Education sent"),
    "questionnaire": label("Questionnaire sent"),
    "remind": label("Reminder sent"),
    "task": label("Task opened"),
    "tag": label("Tag changed"),
    "risk": label("Risk colour suggested"),
    "enroll": label("Enrolled in a plan"),
}
STATUS_TITLES = {
    "due": label("Waiting to be sent"),
    "in_flight": label("Sending"),
    "sent": label("Sent"),
    "skipped": label("Skipped"),
    "failed": label("Failed, will retry"),
    "dead": label("Not delivered"),
    "cancelled": label("Cancelled"),
    "replaced": label("Replaced by a newer message"),
    "applied": label("Applied"),
    "held": label("Held: content not approved"),
    "open": label("Waiting to be handled"),
    "done": label("Done"),
}
ASSIGN_TITLES = {
    "responsible_doctor": label("Her responsible doctor"),
    "responsible_nurse": label("Her responsible nurse"),
    "case_manager": label("Her case manager"),
    "midwife": label("Midwives"),
    "nutritionist": label("Nutrition"),
    "school": label("Pregnancy school"),
}
PREGNANCY_STATUS = {
    "pregnant": label("pregnant"),
    "delivered": label("delivered"),
    "ended": label("pregnancy ended"),
}
DATING_METHODS = {
    "lmp": label("last menstrual period"),
    "ultrasound": label("ultrasound"),
    "ivf": label("embryo transfer"),
    "edd": label("due date given"),
}
#: What a change of her care row changed, and who made it when not a staff member.
CARE_WHAT = {
    "team": label("Team"),
    "responsible_doctor": label("Responsible doctor"),
    "responsible_nurse": label("Responsible nurse"),
    "case_manager": label("Case manager"),
}
CARE_ACTORS = {"registration": label("at registration"), "migration": label("data migration")}
PRIORITY_TITLES = {"low": label("Low"), "normal": label("Normal"), "high": label("High"), "urgent": "Urgent"}


def _context() -> tuple[Any, Any, Any]:
    staff = current_staff()
    assert staff is not None
    return current_app.extensions["carepath.db"], current_app.config["CLOCK"](), staff


def not_found() -> Any:
    record_not_found("pregnancy")  # another hospital's woman answers, and is counted, as a missing one
    message = gettext("No such woman in your hospital.")
    return render_template("error.html", title=gettext("Not found"), message=message), 404


def _tagged_by(
    by: str, titles: dict[str, str], names: dict[str, str], rules: dict[str, str] | None = None
) -> str:
    """Who changed a tag, in words: a rule (its title and its pathway's), an event, a staff
    member. A rule without a title is not named by its id (issue 20): "a rule of …"."""
    if by.startswith("rule ") and "@" in by and "/" in by:
        pathway, _, _ = by.removeprefix("rule ").partition("@")
        rule = (rules or {}).get(by.removeprefix("rule "))
        named = titles.get(pathway, pathway)
        if rule is None:
            return str(gettext("a rule of %(pathway)s", pathway=named))
        return str(gettext("the rule %(rule)s of %(pathway)s", rule=rule, pathway=named))
    if by.startswith("event "):
        return str(gettext("an event from the HIS or her pages"))
    return names.get(by, by)


def _care_actor(actor: str, names: dict[str, str]) -> str:
    """Who changed her care, as a nurse says it (issue 20): a staff member by name, 建档时, or
    系统（…） for a command or an import; never the label ``staff:12`` or ``cli:…``."""
    if actor in names:
        return names[actor]
    if actor in CARE_ACTORS:
        return str(gettext(CARE_ACTORS[actor]))
    kind, _, who = actor.partition(":")
    if kind in ("cli", "import", "system") and who:
        return str(gettext("the system (%(who)s)", who=who))
    if kind == "staff":
        return str(gettext("a staff member"))
    return actor


def _local(value: str | datetime | None) -> str:
    if not value:
        return "—"
    when = datetime.fromisoformat(value) if isinstance(value, str) else value
    return str(format_datetime(when, "yyyy-MM-dd HH:mm"))


@blp.app_context_processor
def _helpers() -> dict[str, Any]:
    return {
        "record_request": lambda: secrets.token_urlsafe(16),  # one per form: a double click is one action
        "colour_name": lambda colour: COLOURS.get(colour or "", colour or "—"),
        "event_title": lambda kind: gettext(EVENT_TITLES[kind]) if kind in EVENT_TITLES else kind,
        "action_title": lambda kind: gettext(ACTION_TITLES[kind]) if kind in ACTION_TITLES else kind,
        "status_title": lambda s: gettext(STATUS_TITLES[s]) if s in STATUS_TITLES else (s or "—"),
        "assign_title": lambda a: gettext(ASSIGN_TITLES[a]) if a in ASSIGN_TITLES else (a or "—"),
        "priority_title": lambda p: gettext(PRIORITY_TITLES[p]) if p in PRIORITY_TITLES else (p or "—"),
        "iso_local": _local,
        "pregnancy_status": lambda v: gettext(PREGNANCY_STATUS[v]) if v in PREGNANCY_STATUS else v,
        "dating_method": lambda v: gettext(DATING_METHODS[v]) if v in DATING_METHODS else v,
        "dating_details": record_dating.details,
        "tagged_by": _tagged_by,
        # the engine's record of a firing, said in Chinese (issue 20 items 2 and 3)
        "why_said": lambda record: said(record, page_translate, titles()),
        "care_what": lambda w: gettext(CARE_WHAT[w]) if w in CARE_WHAT else w,
        "care_actor": _care_actor,
    }


@blp.get("")
@require("task.work")
def women() -> Any:
    """患者: my teams' women, and the search form (查找孕妇) above them."""
    db, now, me = _context()
    after = request.args.get("after", "")[:80] or None
    page = her_record.my_women(
        db,
        current_app.extensions["carepath.cipher"],
        me.actor(request.remote_addr),
        me.staff_id,
        now,
        after=after,
    )
    return render_template("record/list.html", page=page, after=after, **_search_page(db, me))


@blp.post("")
@require("task.work")
def find_women() -> Any:
    """查找孕妇: the form's filters (POSTed: names and ID numbers stay out of URLs); no filter
    given shows my teams' women as ``women()`` does; a bad field is said beside it (422)."""
    db, now, me = _context()
    cipher = current_app.extensions["carepath.cipher"]
    choices = _search_page(db, me)
    after = request.form.get("after", "")[:80] or None
    form = patient_search.read(
        request.form, SendWindow().local_date(now), {p for p, _ in choices["pathways"]}, after
    )
    found: list[dict[str, Any]] | None = None
    cursor = None
    if form.query is not None and not form.empty:
        try:
            found, cursor = search.search(db, cipher, me.actor(request.remote_addr), form.query, now)
        except (search.SearchInputError, search.SearchTooBroadError) as error:
            patient_search.refused(form, error.code)
    choices["form"] = form
    if form.errors:
        return render_template("record/list.html", page=None, after=None, **choices), 422
    if found is None:
        return women()
    choices.update(found=found, next_after=cursor)
    return render_template("record/list.html", page=None, after=after, **choices)


def _search_page(db: Any, me: Any) -> dict[str, Any]:
    """The search form's choices: the hospital's plans and sources, the ICD-10 categories."""
    with db.reading() as session:
        sources = search_choices.source_choices(session, me.hospital_id)
    return {
        "pathways": record_actions.pathway_choices(db, me.hospital_id),
        "sources": sources,
        "diagnoses": search_choices.diagnosis_categories(),
        "diagnosis_title": search_choices.diagnosis_title,
        "search_colours": patient_search.COLOURS,
        "search_statuses": patient_search.STATUSES,
        "form": patient_search.SearchForm(),
        "found": None,
        "next_after": None,
        "search_messages": patient_search.MESSAGES,
    }


def record_page_with(
    pregnancy_id: str,
    *,
    unmasked: bool = False,
    errors: dict[str, str] | None = None,
    form: dict[str, str] | None = None,
    status: int = 200,
) -> Any:
    db, now, me = _context()
    cipher = current_app.extensions["carepath.cipher"]
    try:
        record = her_record.her_record(
            db, cipher, me.actor(request.remote_addr), pregnancy_id, now, unmasked=unmasked
        )
    except PregnancyNotFoundError:
        return not_found()
    inbox = [{**item, "html": Markup(her_item.body_html(item["body"]))} for item in record["inbox"]]
    return (
        render_template(
            "record/record.html",
            r=record,
            inbox=inbox,
            errors=errors or {},
            form=form or {},
            pathways=record_actions.pathway_choices(db, me.hospital_id),
            assign=record_actions.ASSIGN,
            priorities=record_actions.PRIORITIES,
            colours=record_actions.COLOURS,
            care_teams=_care_choices(db, me.hospital_id),
        ),
        status,
    )


def _care_choices(db: Any, hospital_id: str) -> list[Any]:
    """The hospital's active teams with their active members, for the care form (to whom may
    change it)."""
    if not can("patient.write"):
        return []
    with db.reading() as session:
        return care_teams.list_teams(session, hospital_id)


@blp.get("/<pregnancy_id>")
@require("task.work")
def record_page(pregnancy_id: str) -> Any:
    return record_page_with(pregnancy_id[:80])


@blp.post("/<pregnancy_id>/unmask")
@require("patient.read")
def unmask(pregnancy_id: str) -> Any:
    """显示: her name, ID number and phone in clear on this one answer (audited as ``unmask``)."""
    return record_page_with(pregnancy_id[:80], unmasked=True)


def _act(pregnancy_id: str, action: Any, done_message: str, *, back: str | None = None) -> Any:
    """Run ``action`` (a store call); its refusal shows the record with the field's error. A
    success goes back to the record, or to ``back`` (a page the form came from, already checked)."""
    try:
        done = action()
    except PregnancyNotFoundError:
        return not_found()
    except RecordActionError as error:
        message = (
            gettext(MESSAGES[error.code])
            if error.code in MESSAGES
            else gettext("This change could not be made: %(reason)s", reason=error.message)
        )
        form = {k: v[:500] for k, v in request.form.items() if k != "csrf_token"}
        return record_page_with(
            pregnancy_id,
            errors={error.field or "form": message, "action": request.path},
            form=form,
            status=422,
        )
    if done.replay:
        flash(gettext("This was already done (the same form was sent twice)."), "info")
    else:
        flash(done_message, "ok")
    return redirect(back or url_for("staff_record.record_page", pregnancy_id=pregnancy_id))


def _form(name: str, limit: int = 500) -> str:
    return request.form.get(name, "")[:limit]


@blp.post("/<pregnancy_id>/tags")
@require("patient.write")
def tags(pregnancy_id: str) -> Any:
    db, now, me = _context()
    add = _form("operation") != "remove"
    tag = _form("tag", 100).strip()
    return _act(
        pregnancy_id,
        lambda: record_actions.change_tag(
            db,
            current_app.extensions["carepath.cipher"],
            me.actor(request.remote_addr),
            pregnancy_id,
            tag=tag,
            add=add,
            reason=_form("reason"),
            request=_form("request", 100),
            now=now,
        ),
        gettext("Tag %(tag)s added.", tag=tag) if add else gettext("Tag %(tag)s removed.", tag=tag),
    )


@blp.post("/<pregnancy_id>/plans")
@require("patient.write")
def plans(pregnancy_id: str) -> Any:
    db, now, me = _context()
    enrol = _form("operation") != "end"
    return _act(
        pregnancy_id,
        lambda: record_actions.request_plan(
            db,
            current_app.extensions["carepath.cipher"],
            me.actor(request.remote_addr),
            pregnancy_id,
            pathway=_form("pathway", 100).strip(),
            enrol=enrol,
            reason=_form("reason"),
            request=_form("request", 100),
            now=now,
        ),
        gettext("Enrolment requested: the pathways have been evaluated.")
        if enrol
        else gettext("The plan was ended for her."),
    )


@blp.post("/<pregnancy_id>/colour")
@require("risk.confirm")
def colour(pregnancy_id: str) -> Any:
    db, now, me = _context()
    chosen = _form("colour", 20)
    return _act(
        pregnancy_id,
        lambda: record_actions.confirm_colour(
            db,
            current_app.extensions["carepath.cipher"],
            me.actor(request.remote_addr),
            pregnancy_id,
            colour=chosen,
            note=_form("note", 600),
            request=_form("request", 100),
            now=now,
        ),
        gettext("Risk colour %(colour)s confirmed.", colour=COLOURS.get(chosen, chosen)),
        back=safe_return(_form("next", 2000)),  # confirmed from the register's queue: back to it
    )


def _file_inbox(session: Any, pregnancy: Any) -> None:
    file_due_now(session, pregnancy.hospital_id, pregnancy.id, current_app.config["CLOCK"]())


@blp.post("/<pregnancy_id>/send")
@require("patient.write")
def send(pregnancy_id: str) -> Any:
    db, now, me = _context()
    return _act(
        pregnancy_id,
        lambda: record_actions.send_content(
            db,
            me.actor(request.remote_addr),
            pregnancy_id,
            content=_form("content", 100),
            reason=_form("reason"),
            request=_form("request", 100),
            now=now,
            on_done=_file_inbox,
        ),
        gettext("Sent: it is in her inbox now, and her phone is notified as her channels allow."),
    )


@blp.post("/<pregnancy_id>/tasks")
@require("patient.write")
def new_task(pregnancy_id: str) -> Any:
    db, now, me = _context()
    return _act(
        pregnancy_id,
        lambda: record_actions.open_task(
            db,
            me.actor(request.remote_addr),
            pregnancy_id,
            title=_form("title", 300),
            assign=_form("assign", 40),
            priority=_form("priority", 20),
            due_hours=_form("due_hours", 10).strip(),
            request=_form("request", 100),
            now=now,
        ),
        gettext("Task opened."),
    )


@blp.get("/<pregnancy_id>/bind")
@require("patient.write")
def bind_qr(pregnancy_id: str) -> Any:
    """A QR code she scans with WeChat: her hospital's sign-in, which in WeChat asks the official
    account's web authorisation and, once she proves her phone, binds her WeChat (her pages)."""
    db, now, me = _context()
    actor = me.actor(request.remote_addr)
    try:
        with db.transaction() as session:
            pregnancy, patient = her_record.find_pregnancy(session, actor, pregnancy_id[:80], now)
            audit(
                session,
                actor,
                "read",
                now,
                "her record: WeChat binding QR shown",
                patient_id=patient.id,
                pregnancy_id=pregnancy.id,
            )
    except PregnancyNotFoundError:
        # answered outside the transaction: the error page opens transactions of its own, which
        # SQLite's write lock, held by one still open, would make wait and then fail (a 500)
        return not_found()
    svg, target = bind_code(me.hospital_id)
    return render_template("record/bind.html", pregnancy_id=pregnancy.id, svg=svg, target=target)


def bind_code(hospital_id: str) -> tuple[Markup, str]:
    """The binding QR (inline SVG) and the URL it holds: her hospital's sign-in on her pages
    (``record/_bind_qr.html`` shows it; the desk's registration result shows it too)."""
    db = current_app.extensions["carepath.db"]
    base = hospital_settings.current(db, hospital_id).public_base_url
    path = url_for("h5.sign_in", hospital=hospital_id)
    target = (
        f"{base.rstrip('/')}{path}" if base else url_for("h5.sign_in", hospital=hospital_id, _external=True)
    )
    svg = draw(target, "svg").decode("utf-8")
    return Markup(svg[svg.index("<svg") :]), target  # inline: no XML declaration inside HTML
