"""``/staff/on-call``: the minimal page an on-call notice links to (issue 17 item 1), until the
workspace (issue 20) has a task page of its own that absorbs it.

``/staff/on-call/<token>``: the one-time link of an SMS or webhook notice. Behind staff login
(the login form brings them back here) and the ``task.work`` permission; the first opening
acknowledges the task (audited), which stops the notices going on down the roster, then leads to
the task. An unknown, expired or other hospital's link answers alike (404, counted).
``/staff/on-call/tasks/<id>``: all her open urgent tasks, this one first (title, due, why,
who was told), with a 已知晓 button that claims them all for whoever pressed it (``tasks.claim``
per task, audited; CSRF-protected) and leads on to the workspace's task page
(``/staff/work/tasks/<id>``: her, why, the script, the outcome form), where the task is worked.
One link per woman: see ``store/on_call.py``.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext

from carepath.store import on_call, tasks
from carepath.webapi.auth.permissions import current_staff, record_not_found, require

blp = Blueprint("staff_on_call", __name__, url_prefix="/staff/on-call")


def _context() -> tuple[Any, Any, Any]:
    staff = current_staff()
    assert staff is not None
    actor = staff.actor(request.remote_addr)
    return current_app.extensions["carepath.db"], current_app.config["CLOCK"](), actor


def _not_found(message: str) -> Any:
    record_not_found("task")
    return render_template("error.html", title=gettext("Not found"), message=message), 404


@blp.get("/<token>")
@require("task.work")
def open_link(token: str) -> Any:
    db, now, actor = _context()
    try:
        task_id = on_call.open_link(db, actor, token[:200], now)
    except on_call.OnCallLinkError:
        return _not_found(gettext("This on-call link is unknown or has expired."))
    return redirect(url_for("staff_on_call.task_page", task_id=task_id))


@blp.get("/tasks/<int:task_id>")
@require("task.work")
def task_page(task_id: int) -> Any:
    db, now, actor = _context()
    try:
        task = on_call.task_page(db, current_app.extensions["carepath.cipher"], actor, task_id, now)
    except tasks.TaskNotFoundError:
        return _not_found(gettext("No such task in your hospital."))
    return render_template("on_call/task.html", task=task, me=actor.label)


@blp.post("/tasks/<int:task_id>/acknowledge")
@require("task.work")
def acknowledge(task_id: int) -> Any:
    """已知晓: claims this task and every other open urgent task of hers the page listed (one
    ``tasks.claim`` each, audited per task); one taken by someone else is left to them."""
    db, now, actor = _context()
    cipher = current_app.extensions["carepath.cipher"]
    others = [other for other in on_call.her_urgent_tasks(db, actor, task_id) if other != task_id]
    try:
        tasks.claim(db, cipher, actor, task_id, now)
    except tasks.TaskNotFoundError:
        return _not_found(gettext("No such task in your hospital."))
    except tasks.TaskClaimedError:
        flash(gettext("Someone else has already taken this task."), "error")
    except tasks.TaskClosedError:
        flash(gettext("This task is already closed."), "error")
    else:
        flash(gettext("Acknowledged: the task is yours."), "ok")
    for other in others:
        try:
            tasks.claim(db, cipher, actor, other, now)
        except (tasks.TaskClaimedError, tasks.TaskClosedError, tasks.TaskNotFoundError):
            continue  # taken or closed meanwhile: left as it is
    # Acknowledged: on to the workspace's task page, where the doctor acts (issue 20).
    return redirect(url_for("staff_work.task_page", task_id=task_id))
