"""``/staff/audit`` (审计日志): who read or changed what, for ``audit.read`` (issue 21 item 6).

The filters are a plain GET form (who, action, a woman's HIS id or a pregnancy id, a date
range), so a filtered view is a link; pages are keyset pages (``?after=<cursor>``) newest first;
``/staff/audit/export.csv`` gives the same filter as CSV. Reading and exporting are audited by
the store (``store/audit_read.py``), which also puts every row in words.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import date
from typing import Any

from flask import Blueprint, Response, current_app, render_template, request, stream_with_context
from flask_babel import gettext

from carepath.store import audit_read, audit_words
from carepath.webapi.auth.permissions import current_staff, require

blp = Blueprint("staff_audit", __name__, url_prefix="/staff/audit")


def _context() -> tuple[Any, Any, Any, Any]:
    staff = current_staff()
    assert staff is not None
    app = current_app
    return app.extensions["carepath.db"], app.extensions["carepath.cipher"], app.config["CLOCK"](), staff


def _day(name: str, errors: list[str]) -> date | None:
    text = request.args.get(name, "").strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        errors.append(gettext("Write dates as YYYY-MM-DD."))
        return None


def _own_only(me: Any) -> bool:
    """Without ``audit.read`` a member of staff reads her own entries only (我的操作记录): what
    she read and changed is hers to check, as the issue's Done-when has the demo doctor do."""
    return not me.can("audit.read")


def _wanted(errors: list[str], me: Any) -> audit_read.AuditFilter:
    patient = request.args.get("patient", "")
    return audit_read.AuditFilter(
        who=f"staff:{me.staff_id}" if _own_only(me) else request.args.get("who", "")[:140],
        action=request.args.get("action", "")[:20],
        patient_id=int(patient) if patient.isdigit() else None,
        target=request.args.get("target", "")[:80],
        since=_day("since", errors),
        until=_day("until", errors),
    )


def _messages() -> dict[str, str]:
    return {
        "bad-cursor": gettext("That page link is no longer valid; start from the first page."),
        "bad-range": gettext("The first day is after the last day."),
        "unknown-target": gettext("No woman with this patient number and no pregnancy with this id."),
    }


@blp.get("")
@require()
def log_page() -> Any:
    db, cipher, now, me = _context()
    errors: list[str] = []
    wanted = _wanted(errors, me)
    found = audit_read.AuditPage([], None)
    status = 200
    if not errors:
        try:
            found = audit_read.page(
                db, cipher, me.actor(request.remote_addr), wanted, now, cursor=request.args.get("after", "")
            )
        except audit_read.AuditFilterError as error:
            errors.append(_messages().get(error.code, gettext("This filter cannot be read.")))
    if errors:
        status = 422
    args = {k: v for k, v in request.args.items() if k != "after" and v}
    page = render_template(
        "audit/log.html",
        page=found,
        wanted=wanted,
        args=args,
        errors=errors,
        who_choices=[(wanted.who, me.name)] if _own_only(me) else audit_read.who_choices(db, me.actor(None)),
        own_only=_own_only(me),
        actions=audit_words.ACTION_ZH,
        first=not request.args.get("after"),
    )
    return page, status


def _csv(rows: Iterator[tuple[str, ...]]) -> Iterator[str]:
    yield "\ufeff"  # a BOM: Excel opens the file as UTF-8 (Chinese), not the ANSI code page
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for row in rows:
        writer.writerow(row)
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()


@blp.get("/export.csv")
@require()
def export() -> Any:
    db, cipher, now, me = _context()
    errors: list[str] = []
    wanted = _wanted(errors, me)
    if errors:
        return render_template("error.html", title=gettext("Audit log"), message=errors[0]), 422
    try:
        rows = audit_read.export(db, cipher, me.actor(request.remote_addr), wanted, now)
    except audit_read.AuditFilterError as error:
        message = _messages().get(error.code, gettext("This filter cannot be read."))
        return render_template("error.html", title=gettext("Audit log"), message=message), 422
    name = f"audit-log-{now:%Y%m%d-%H%M}.csv"
    return Response(
        stream_with_context(_csv(rows)),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"},
    )
