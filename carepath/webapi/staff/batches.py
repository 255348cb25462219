"""批量操作 (issue 21 item 4, 自动化患者管理): ``/staff/batches``, for ``batch.run`` (doctors).

Filter → preview (the count and a masked sample) → the action and a reason → the confirm
screen (how many, how many have the item already, where education goes; above 500 women a
second confirmation) → the batch is recorded (audited) and run in the background, in pages,
while its page polls its progress. Store: ``store/cohort_batches.py``; docs/batch-actions.md.

The runner is a thread this process starts when the batch is confirmed (``BATCH_RUNNER =
"inline"`` runs it in the request instead: the page tests). A runner that died (the process
restarted mid-batch) is replaced by the next look at the batches or at that batch's progress:
its claim expires and the batch goes on from its cursor.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
from typing import Any

from flask import Blueprint, current_app, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext

from carepath.store import cohort_batch_runs, cohort_batches, record_actions
from carepath.store.record_actions import RecordActionError
from carepath.store.roles import label
from carepath.webapi.auth.permissions import current_staff, require
from carepath.webapi.staff.record import COLOURS, MESSAGES, PREGNANCY_STATUS

log = logging.getLogger(__name__)
blp = Blueprint("staff_batches", __name__, url_prefix="/staff/batches")

#: What a batch's refusal says, beyond her record's (English msgids, Chinese in the .po).
BATCH_MESSAGES = {
    **MESSAGES,
    "empty-filter": label(
        "Choose at least one filter: a batch never acts on every woman of the hospital by omission."
    ),
    "bad-week": label("A gestational week is a whole number from 0 to 45."),
    "bad-action": label("Choose what to do: add a tag, enrol in a plan, or send an approved item."),
    "empty-cohort": label("No woman matches this filter: nothing to do."),
    "name-too-broad": label(
        "Too many women for a name search before the names are indexed: add another filter."
    ),
    "filter-refused": label("This filter cannot select anyone as written: check it and try again."),
    "second-confirmation": label(
        "This batch is for more than 500 women: tick the second confirmation to go on."
    ),
}
ACTION_TITLES = {
    "tag": label("Add a tag"),
    "enrol": label("Enrol in a plan"),
    "push": label("Send an approved content item"),
}
STATE_TITLES = {"running": label("Running"), "done": label("Done"), "failed": label("Failed")}


def _context() -> tuple[Any, Any, Any, Any]:
    staff = current_staff()
    assert staff is not None
    app = current_app
    return app.extensions["carepath.db"], app.extensions["carepath.cipher"], app.config["CLOCK"](), staff


def _message(error: RecordActionError) -> str:
    if error.code in BATCH_MESSAGES:
        return str(gettext(BATCH_MESSAGES[error.code]))
    return str(gettext("This change could not be made: %(reason)s", reason=error.message))


def _filters(values: Any) -> dict[str, str]:
    names = cohort_batches.TEXT_FILTERS + cohort_batches.WEEK_FILTERS
    return {name: str(values.get(name, ""))[:100] for name in names}


@blp.app_context_processor
def _helpers() -> dict[str, Any]:
    return {
        "batch_action": lambda a: gettext(ACTION_TITLES[a]) if a in ACTION_TITLES else a,
        "batch_state": lambda s: gettext(STATE_TITLES[s]) if s in STATE_TITLES else s,
    }


def _choices() -> dict[str, Any]:
    db, _, _, me = _context()
    return {
        "pathways": record_actions.pathway_choices(db, me.hospital_id),
        "colours": COLOURS,
        "statuses": {k: gettext(v) for k, v in PREGNANCY_STATUS.items()},
        "large": cohort_batches.LARGE,
    }


def _index(filters: dict[str, str], error: str | None = None, status: int = 200) -> Any:
    db, _, _, me = _context()
    _resume_stalled(me.hospital_id)
    batches = cohort_batches.recent(db, me.hospital_id)
    return render_template(
        "batches/index.html", filters=filters, error=error, batches=batches, **_choices()
    ), status


@blp.get("")
@require("batch.run")
def index() -> Any:
    return _index(_filters({}))


@blp.get("/preview")
@require("batch.run")
def preview() -> Any:
    """The cohort of a filter: its count and a masked sample, and the action's form."""
    db, cipher, now, me = _context()
    filters = _filters(request.args)
    try:
        query = cohort_batches.query_of(filters)
    except RecordActionError as error:
        return _index(filters, _message(error), 422)
    shown = cohort_batches.preview(db, cipher, me.actor(request.remote_addr), query, now)
    return render_template(
        "batches/preview.html", filters=filters, shown=shown, form={}, errors={}, **_choices()
    )


def _chosen() -> dict[str, str]:
    action = request.form.get("action", "")[:20]
    return {
        "action": action,
        "target": request.form.get(f"target_{action}", request.form.get("target", ""))[:100].strip(),
        "reason": request.form.get("reason", "")[:500],
    }


@blp.post("/check")
@require("batch.run")
def check() -> Any:
    """The confirm screen of a chosen action (or the preview again, with the refusal)."""
    db, cipher, now, me = _context()
    filters, chosen = _filters(request.form), _chosen()
    actor = me.actor(request.remote_addr)
    try:
        query = cohort_batches.query_of(filters)
        plan = cohort_batches.check(db, cipher, actor, query, now=now, **chosen)
    except RecordActionError as error:
        return _preview_again(filters, chosen, error)
    return render_template(
        "batches/confirm.html",
        filters=filters,
        plan=plan,
        error=None,
        request_token=secrets.token_urlsafe(16),
    )


def _preview_again(filters: dict[str, str], chosen: dict[str, str], error: RecordActionError) -> Any:
    db, cipher, now, me = _context()
    try:
        query = cohort_batches.query_of(filters)
    except RecordActionError as refused:
        return _index(filters, _message(refused), 422)
    shown = cohort_batches.preview(db, cipher, me.actor(request.remote_addr), query, now)
    return render_template(
        "batches/preview.html",
        filters=filters,
        shown=shown,
        form=chosen,
        errors={error.field or "form": _message(error)},
        **_choices(),
    ), 422


@blp.post("")
@require("batch.run")
def confirm() -> Any:
    """Record the confirmed batch and start it; its page shows the progress."""
    db, cipher, now, me = _context()
    filters, chosen = _filters(request.form), _chosen()
    try:
        query = cohort_batches.query_of(filters)
        batch_id, _ = cohort_batches.start(
            db,
            cipher,
            me.actor(request.remote_addr),
            query,
            now=now,
            request=request.form.get("request", "")[:100],
            confirmed_large=request.form.get("confirm_large") == "yes",
            **chosen,
        )
    except RecordActionError as error:
        if error.code != "second-confirmation":
            return _preview_again(filters, chosen, error)
        plan = cohort_batches.check(db, cipher, me.actor(request.remote_addr), query, now=now, **chosen)
        return render_template(
            "batches/confirm.html",
            filters=filters,
            plan=plan,
            error=_message(error),
            request_token=request.form.get("request", "")[:100],
        ), 422
    launch(batch_id)
    return redirect(url_for("staff_batches.batch_page", batch_id=batch_id))


@blp.get("/<int:batch_id>")
@require("batch.run")
def batch_page(batch_id: int) -> Any:
    db, _, _, me = _context()
    _resume_stalled(me.hospital_id)
    shown = cohort_batches.progress(db, me.hospital_id, batch_id)
    if shown is None:
        return render_template(
            "error.html", title=gettext("Not found"), message=gettext("No such batch.")
        ), 404
    return render_template("batches/batch.html", b=shown)


@blp.get("/<int:batch_id>/progress")
@require("batch.run")
def progress(batch_id: int) -> Any:
    db, _, _, me = _context()
    _resume_stalled(me.hospital_id)
    shown = cohort_batches.progress(db, me.hospital_id, batch_id)
    if shown is None:
        return jsonify({"code": "not-found"}), 404
    return jsonify({k: shown[k] for k in ("id", "state", "total", "done", "skipped", "failed")})


def _resume_stalled(hospital_id: str) -> None:
    """Batches whose runner died go on (a claim that expired: see the module)."""
    db, _, now, _ = _context()
    for batch_id in cohort_batch_runs.stalled(db, hospital_id, now):
        launch(batch_id)


def launch(batch_id: int) -> None:
    """Run the batch: in a thread of this process, or in the request (``BATCH_RUNNER``)."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    if app.config.get("BATCH_RUNNER", "thread") == "inline":
        _run(app, batch_id)
        return
    threading.Thread(target=_run, args=(app, batch_id), name=f"batch-{batch_id}", daemon=True).start()


def _run(app: Any, batch_id: int) -> None:
    worker = f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"
    with app.app_context():
        db, clock = app.extensions["carepath.db"], app.config["CLOCK"]
        try:
            cohort_batch_runs.run(db, app.extensions["carepath.cipher"], batch_id, worker, clock)
        except Exception as error:  # a page that failed is retried by the next runner, from its cursor
            log.exception("batch %s stopped", batch_id)
            cohort_batch_runs.release(db, batch_id, worker, f"{type(error).__name__}: {error}", clock())
