"""``/staff/work``: the workspace (工作台, issue 20 item 2) — my open tasks and my teams'.

- ``/staff/work``: the list (``store/workspace.py``: urgent first, then by due time; overdue in
  red; her name and phone masked), with counts by her colour and by state at the top; keyset
  pages (``?after=``); ``?view=mine|team`` narrows it.
- ``/staff/work/stamp``: a fingerprint of the list for the page's poll (``static/workspace.js``
  asks every 15 s; when it changes it fetches ``/staff/work/rows``, the same rows as HTML, and
  swaps them in). Polling, not server-sent events: docs/workspace.md says why.
- ``/staff/work/tasks/<id>``: one task: her (in full only with ``patient.read``, the opening
  audited), why it exists in words (the pathway, the rule, the event), the call script, the
  outcome form; actions claim, release, record the outcome, reassign within the team
  (``task.assign``). Each action is a POST with the CSRF token and works without JavaScript.

A stale page acting on a task closed meanwhile, or a claim lost to someone quicker, is told so
in Chinese on the page it lands on, never an error page. Another hospital's task is a 404
(counted, ``record_not_found``), as a missing one.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext

from carepath.engine.form_spec import Form
from carepath.engine.preview import PreviewItem
from carepath.engine.simulate import Row
from carepath.store import form_answers, tasks, workspace
from carepath.webapi.auth.permissions import can, current_staff, record_not_found, require
from carepath.webapi.common.diagnostics_text import page_translate
from carepath.webapi.staff.editor_preview import titles
from carepath.webapi.staff.preview_text import why as why_sentence
from carepath.webapi.staff.why_words import said

blp = Blueprint("staff_work", __name__, url_prefix="/staff/work")

#: The colours in the order the counts show them (2017 五色管理), then no colour.
COLOURS = ("purple", "red", "orange", "yellow", "green", workspace.NO_COLOUR)


def _context() -> tuple[Any, Any, Any]:
    staff = current_staff()
    assert staff is not None
    return (
        current_app.extensions["carepath.db"],
        current_app.config["CLOCK"](),
        staff.actor(request.remote_addr),
    )


def _view() -> str:
    view = request.args.get("view", "all")
    return view if view in workspace.VIEWS else "all"


def _not_found() -> Any:
    record_not_found("task")
    message = gettext("No such task in your hospital.")
    return render_template("error.html", title=gettext("Not found"), message=message), 404


def _event_label(event_type: str | None) -> str | None:
    labels = {
        "patient.registered": gettext("registration (建档)"),
        "diagnosis.added": gettext("a diagnosis added"),
        "diagnosis.removed": gettext("a diagnosis removed"),
        "lab.result": gettext("a lab result"),
        "encounter.completed": gettext("a visit"),
        "questionnaire.submitted": gettext("a questionnaire she submitted"),
        "risk.changed": gettext("a change of her risk colour"),
        "delivery": gettext("the birth"),
        "pregnancy.ended": gettext("the end of the pregnancy"),
    }
    if event_type is None:
        return None
    return labels.get(event_type, event_type)


def why_words(found: workspace.Why | None, at: datetime | None = None) -> dict[str, Any]:
    """A task's reason as the pages say it: the pathway and rule by title, the sentence of
    the rule's trigger and condition, and the event that set it off."""
    if found is None:
        return {"pathway": None, "rule": None, "sentence": None, "event": None, "event_at": None}
    sentence = None
    if found.trigger is not None:
        row = Row(at or datetime.min, "", "", "", "", "task", {}, "", "")
        item = PreviewItem(
            row, None, found.pathway_title or "", found.rule_title or "", found.trigger, found.condition
        )
        sentence = why_sentence(item, page_translate, titles())
    detail = found.event_data.get("name") or found.event_data.get("code") if found.event_data else None
    if found.event_type == "lab.result" and isinstance(detail, str):  # the lab by its title
        detail = titles().labs.get(detail, detail)
    event = _event_label(found.event_type)
    return {
        "pathway": found.pathway_title,
        "rule": found.rule_title,
        "sentence": sentence or said(found.record, page_translate, titles()),
        "event": f"{event}（{detail}）" if event and isinstance(detail, str) else event,
        "event_at": found.event_at,
    }


def _list_context(db: Any, now: Any, actor: Any, view: str) -> dict[str, Any]:
    cipher = current_app.extensions["carepath.cipher"]
    page = workspace.list_page(
        db, cipher, actor, now, view=view, after=workspace.Cursor.decode(request.args.get("after"))
    )
    whys = {task_id: why_words(found) for task_id, found in page.whys.items()}
    return {
        "rows": page.rows,
        "whys": whys,
        "next": page.next.encode() if page.next else None,
        "view": view,
        "first_page": not request.args.get("after"),
    }


@blp.get("")
@require("task.work")
def work() -> Any:
    db, now, actor = _context()
    view = _view()
    counts = workspace.counts(db, actor, now, view=view)
    return render_template(
        "workspace/work.html",
        counts=counts,
        colours=COLOURS,
        stamp=workspace.stamp(db, actor, view=view),
        **_list_context(db, now, actor, view),
    )


@blp.get("/rows")
@require("task.work")
def rows() -> Any:
    """The list's rows and counts alone (what the poll swaps in, asked with
    ``X-Requested-With``); anyone else is sent to the page itself."""
    db, now, actor = _context()
    view = _view()
    if not request.headers.get("X-Requested-With"):
        return redirect(url_for("staff_work.work", view=view))
    return render_template(
        "workspace/rows.html",
        counts=workspace.counts(db, actor, now, view=view),
        colours=COLOURS,
        stamp=workspace.stamp(db, actor, view=view),
        **_list_context(db, now, actor, view),
    )


@blp.get("/stamp")
@require("task.work")
def stamp() -> Any:
    db, _now, actor = _context()
    return {"stamp": workspace.stamp(db, actor, view=_view())}


# --- one task -----------------------------------------------------------------------------------


def _forms() -> dict[str, Form]:
    return form_answers.forms()


def _task_page(
    task_id: int,
    *,
    answers: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    outcome: str = "",
    status: int = 200,
) -> Any:
    db, now, actor = _context()
    cipher = current_app.extensions["carepath.cipher"]
    try:
        task = tasks.get_task(db, cipher, actor, task_id, now)
    except tasks.TaskNotFoundError:
        return _not_found()
    task["due_time"] = datetime.fromisoformat(task["due_at"]) if task["due_at"] else None
    her = workspace.her_identity(db, cipher, actor, task_id, now) if can("patient.read") else None
    form = _forms().get(task["form"]) if task["form"] else None
    return (
        render_template(
            "workspace/task.html",
            task=task,
            her=her,
            colour=workspace.her_colour(db, actor, task["pregnancy"]),
            why=why_words(workspace.why_of(db, actor, task_id)),
            team=workspace.task_team(db, actor, task_id),
            form=form,
            answers=answers or {},
            errors=errors or {},
            outcome=outcome,
            my_label=actor.label,
        ),
        status,
    )


@blp.get("/tasks/<int:task_id>")
@require("task.work")
def task_page(task_id: int) -> Any:
    return _task_page(task_id)


def _closed() -> Any:
    flash(gettext("This task was closed meanwhile (done or cancelled): nothing more to do."), "error")
    return redirect(url_for("staff_work.work"), 303)


def _taken(task_id: int) -> Any:
    flash(gettext("Someone else has already taken this task."), "error")
    return redirect(url_for("staff_work.task_page", task_id=task_id), 303)


@blp.post("/tasks/<int:task_id>/claim")
@require("task.work")
def claim(task_id: int) -> Any:
    db, now, actor = _context()
    try:
        tasks.claim(db, current_app.extensions["carepath.cipher"], actor, task_id, now)
    except tasks.TaskNotFoundError:
        return _not_found()
    except tasks.TaskClosedError:
        return _closed()
    except tasks.TaskClaimedError:
        return _taken(task_id)
    flash(gettext("The task is yours."), "info")
    return redirect(url_for("staff_work.task_page", task_id=task_id), 303)


@blp.post("/tasks/<int:task_id>/release")
@require("task.work")
def release(task_id: int) -> Any:
    db, now, actor = _context()
    try:
        tasks.release(db, current_app.extensions["carepath.cipher"], actor, task_id, now)
    except tasks.TaskNotFoundError:
        return _not_found()
    except tasks.TaskClosedError:
        return _closed()
    except tasks.TaskClaimedError:
        return _taken(task_id)
    flash(gettext("You gave the task back: it waits for the team again."), "info")
    return redirect(url_for("staff_work.work"), 303)


def _posted_answers(form: Form | None) -> dict[str, Any]:
    """The form's answers as the form page posted them, typed as the form's items expect
    (numbers as numbers, several choices as a list); left out when empty."""
    if form is None:
        return {}
    answers: dict[str, Any] = {}
    for item in form.items:
        key = f"answer-{item.id}"
        if item.type == "multiple":
            chosen = [v[:200] for v in request.form.getlist(key) if v]
            if chosen:
                answers[item.id] = chosen
            continue
        text = request.form.get(key, "").strip()[:4000]
        if not text:
            continue
        if item.type == "number":
            try:
                number = float(text)
            except ValueError:
                answers[item.id] = text  # told back as "a number is required"
                continue
            answers[item.id] = int(number) if number.is_integer() else number
        else:
            answers[item.id] = text
    return answers


def _field_message(code: str, message: str) -> str:
    if code == "required":
        return gettext("Please answer this question.")
    if code == "too-long":
        return gettext("This answer is too long.")
    if "number" in message:
        return gettext("Please enter a number.")
    if "outside" in message:
        return gettext("This number is outside the range the form allows.")
    if "date" in message:
        return gettext("Please enter a date (YYYY-MM-DD).")
    return gettext("This answer is not one the form allows.")


@blp.post("/tasks/<int:task_id>/outcome")
@require("task.work")
def outcome(task_id: int) -> Any:
    db, now, actor = _context()
    cipher = current_app.extensions["carepath.cipher"]
    text = request.form.get("outcome", "").strip()[:2000]
    try:
        task = tasks.get_task(db, cipher, actor, task_id, now)
    except tasks.TaskNotFoundError:
        return _not_found()
    if task["status"] != "open":
        return _closed()
    form = _forms().get(task["form"]) if task["form"] else None
    answers = _posted_answers(form)
    errors: dict[str, str] = {}
    if not text:
        errors["outcome"] = gettext("Please say what came of it.")
    for problem in tasks.check_outcome(task["form"], answers):
        item = problem["path"].removeprefix("answers.")
        errors[item] = _field_message(problem["code"], problem["message"])
    if errors:
        return _task_page(task_id, answers=answers, errors=errors, outcome=text, status=422)
    try:
        tasks.record_outcome(db, cipher, actor, task_id, now, outcome=text, answers=answers if form else None)
    except tasks.TaskNotFoundError:
        return _not_found()
    except tasks.TaskClosedError:
        return _closed()
    except tasks.TaskClaimedError:
        return _taken(task_id)
    except tasks.InvalidOutcomeError as invalid:  # checked above; the store's check is the last word
        found = {
            p["path"].removeprefix("answers."): _field_message(p["code"], p["message"])
            for p in invalid.errors
        }
        return _task_page(task_id, answers=answers, errors=found, outcome=text, status=422)
    flash(gettext("Outcome recorded: the task is done."), "info")
    return redirect(url_for("staff_work.work"), 303)


@blp.post("/tasks/<int:task_id>/reassign")
@require("task.assign")
def reassign(task_id: int) -> Any:
    db, now, actor = _context()
    try:
        to_staff = int(request.form.get("to", ""))
    except ValueError:
        flash(gettext("Choose a member of the team."), "error")
        return redirect(url_for("staff_work.task_page", task_id=task_id), 303)
    try:
        tasks.reassign(
            db, current_app.extensions["carepath.cipher"], actor, task_id, now, to_staff_id=to_staff
        )
    except tasks.TaskNotFoundError:
        return _not_found()
    except tasks.TaskClosedError:
        return _closed()
    except tasks.NotInTeamError:
        flash(gettext("Only an active member of the task's team can take it over."), "error")
        return redirect(url_for("staff_work.task_page", task_id=task_id), 303)
    flash(gettext("The task was handed over."), "info")
    return redirect(url_for("staff_work.task_page", task_id=task_id), 303)


@blp.app_template_global("colour_label")
def colour_label(colour: str) -> str:
    """Her risk colour in words (五色管理), or that she has none yet."""
    labels = {
        "purple": gettext("Purple"),
        "red": gettext("Red (high risk)"),
        "orange": gettext("Orange"),
        "yellow": gettext("Yellow"),
        "green": gettext("Green (low risk)"),
    }
    return labels.get(colour, gettext("No colour yet"))
