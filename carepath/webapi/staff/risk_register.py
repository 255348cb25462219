"""``/staff/register``: the high-risk register (高危专案, issue 21 item 1), for ``patient.read``.

- ``/staff/register``: every pregnancy I may see, by colour then EDD (``store/risk_register.py``),
  names and phones masked, each row a link to her record (which audits the opening); the counts
  by colour; the filters of the 2017 规范's case management (orange, red and purple women confirmed
  by a clinician and followed up), each said in words on the page; keyset pages (``?after=``).
- ``/staff/register/queue``: the colours a rule suggested that wait for a clinician, each with
  the rule that suggested it. A ``risk.confirm`` holder confirms or changes the colour right there:
  the form posts to her record's own ``/staff/patients/<id>/colour`` (``record.colour``, the one
  colour-confirm path) with ``next`` naming this queue, and comes back here afterwards.
- ``/staff/register/export.xlsx``: the filtered list as a spreadsheet, masked, each woman in it an
  ``export`` audit row. It needs ``patient.read``, not ``export``: it is the same masked list the
  page shows, for the staff who follow these women up (``export`` is the analysts' permission for
  reports; no role holds both, so requiring it would leave the register without an export).

A filter value the page does not know is said in Chinese beside the form (422), and the list is
shown without it; never a 500.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable
from datetime import date
from typing import IO, Any
from urllib.parse import urlsplit

import xlsxwriter
from flask import Blueprint, Response, current_app, render_template, request, url_for
from flask_babel import format_datetime, gettext

from carepath.store import record_actions, risk_register
from carepath.store.risk_register import Cursor, RegisterFilter, RegisterRow
from carepath.store.roles import label
from carepath.webapi.auth.permissions import current_staff, require

blp = Blueprint("staff_register", __name__, url_prefix="/staff/register")

#: The colour filter's choices in the page's order (English msgids; the page shows the Chinese).
COLOUR_CHOICES = {
    "": label("All colours"),
    "high": label("Orange, red or purple (case management)"),
    "red": label("Red"),
    "orange": label("Orange"),
    "yellow": label("Yellow"),
    "green": label("Green"),
    "purple": label("Purple (infectious disease)"),
    "none": label("No colour yet"),
}
CONFIRMATION_CHOICES = {
    "": label("Confirmed or not"),
    "unconfirmed": label("Not confirmed by a clinician"),
    "confirmed": label("Confirmed by a clinician"),
}
STATUS_CHOICES = {
    "pregnant": label("Pregnant"),
    "delivered": label("Delivered"),
    "ended": label("Pregnancy ended"),
    "all": label("Any"),
}
#: The "no contact for N days" filter's starting value: a setting of the hospital's protocol
#: (``REGISTER_CONTACT_DAYS``), not a figure of the 规范 (docs/risk-register.md).
CONTACT_DAYS = 30
#: The pages a confirmation may return to (never another site: an open redirect otherwise).
RETURN_PREFIX = "/staff/register"


def safe_return(value: str | None) -> str | None:
    """``value`` when it is a path of this register (the queue a confirmation came from), else None."""
    if not value or len(value) > 2000:
        return None
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or "\\" in value or not parts.path.startswith(RETURN_PREFIX):
        return None
    return value


def _context() -> tuple[Any, Any, Any]:
    staff = current_staff()
    assert staff is not None
    return (
        current_app.extensions["carepath.db"],
        current_app.config["CLOCK"](),
        staff.actor(request.remote_addr),
    )


def _contact_days() -> int:
    return int(current_app.config.get("REGISTER_CONTACT_DAYS", CONTACT_DAYS))


#: How long this process reuses a hospital's colour counts (``REGISTER_COUNTS_SECONDS``; 0 counts
#: on every page): 20 staff on the register would otherwise read the whole colour index 20 times a
#: second. A count may trail the list by this long, never a colour this process just confirmed.
COUNTS_SECONDS = 15.0


def _counts_seconds() -> float:
    return float(current_app.config.get("REGISTER_COUNTS_SECONDS", COUNTS_SECONDS))


def _filters() -> tuple[RegisterFilter, dict[str, str]]:
    """The filter the query string asks for, and what was wrong with it (field -> Chinese)."""
    args, errors = request.args, {}
    colour = args.get("colour", "")
    if colour not in risk_register.COLOUR_FILTERS:
        errors["colour"], colour = gettext("Choose a colour from the list."), ""
    confirmation = args.get("confirmation", "")
    if confirmation not in risk_register.CONFIRMATIONS:
        errors["confirmation"], confirmation = gettext("Choose confirmed or not from the list."), ""
    status = args.get("status", "pregnant")
    if status not in risk_register.STATUSES:
        errors["status"], status = gettext("Choose a status from the list."), "pregnant"
    days: int | None = None
    if args.get("quiet"):
        raw = args.get("days", "").strip() or str(_contact_days())
        if raw.isdigit() and 1 <= int(raw) <= risk_register.MAX_CONTACT_DAYS:
            days = int(raw)
        else:
            errors["days"] = gettext(
                "The days without contact are a whole number from 1 to %(most)s.",
                most=risk_register.MAX_CONTACT_DAYS,
            )
    return RegisterFilter(colour, confirmation, args.get("overdue") == "1", days, status), errors


def _query(filters: RegisterFilter) -> dict[str, Any]:
    """The filter as query arguments (links to the next page, the export, the queue's return)."""
    query: dict[str, Any] = {
        "colour": filters.colour,
        "confirmation": filters.confirmation,
        "status": filters.status,
    }
    if filters.overdue:
        query["overdue"] = "1"
    if filters.no_contact_days is not None:
        query |= {"quiet": "1", "days": str(filters.no_contact_days)}
    return {k: v for k, v in query.items() if v and not (k == "status" and v == "pregnant")}


def _presets(days: int) -> list[tuple[str, str, str]]:
    """The 2017 规范's case-management checks as ready filters: (id, link text, what it means)."""
    high: dict[str, Any] = {"colour": "high"}
    return [
        (
            "preset-unconfirmed",
            gettext("Orange, red or purple, colour not confirmed"),
            url_for("staff_register.register_page", confirmation="unconfirmed", **high),
        ),
        (
            "preset-quiet",
            gettext("Orange, red or purple, no contact for %(days)s days", days=days),
            url_for("staff_register.register_page", quiet="1", days=str(days), **high),
        ),
        (
            "preset-overdue",
            gettext("Orange, red or purple, with overdue tasks"),
            url_for("staff_register.register_page", overdue="1", **high),
        ),
    ]


def _page(*, queue: bool) -> Any:
    db, now, actor = _context()
    filters, errors = _filters()
    if queue:
        filters = RegisterFilter(status=filters.status)
    after = Cursor.decode(request.args.get("after"))
    cipher = current_app.extensions["carepath.cipher"]
    found = risk_register.page(db, cipher, actor, now, filters, after=after, queue=queue)
    query = _query(filters)
    return (
        render_template(
            "register/queue.html" if queue else "register/list.html",
            page=found,
            filters=filters,
            query=query,
            errors=errors,
            # the counts head the first page only (each reads a whole index); the queue needs its own
            counts=risk_register.counts(
                db, actor, now, filters.status, only_queue=queue, reuse_seconds=_counts_seconds()
            )
            if after is None or queue
            else None,
            next_url=url_for(request.endpoint or "", after=found.next.encode(), **query)
            if found.next
            else None,
            first_page=after is None,
            colour_choices=COLOUR_CHOICES,
            confirmation_choices=CONFIRMATION_CHOICES,
            status_choices=STATUS_CHOICES,
            contact_days=filters.no_contact_days or _contact_days(),
            presets=_presets(_contact_days()),
            colours=record_actions.COLOURS,
            here=request.full_path.rstrip("?"),
        ),
        422 if errors else 200,
    )


@blp.get("")
@require("patient.read")
def register_page() -> Any:
    return _page(queue=False)


@blp.get("/queue")
@require("patient.read")
def queue_page() -> Any:
    return _page(queue=True)


#: The export's columns (English msgids; the file's header is the Chinese).
EXPORT_COLUMNS = (
    label("Name"),
    label("HIS patient id"),
    label("Risk colour"),
    label("Colour confirmed"),
    label("Purple"),
    label("Gestational age"),
    label("EDD"),
    label("Diagnoses"),
    label("Plans"),
    label("Overdue tasks"),
    label("Last contact"),
    label("Last contact task"),
)
COLOUR_WORDS = {
    "red": label("Red"),
    "orange": label("Orange"),
    "yellow": label("Yellow"),
    "green": label("Green"),
}


def _cells(row: RegisterRow) -> list[Any]:
    contact = row.last_contact
    return [
        row.name or "",
        row.his_id or "",
        gettext(COLOUR_WORDS[row.colour]) if row.colour in COLOUR_WORDS else "",
        {"confirmed": gettext("yes"), "suggested": gettext("no")}.get(row.colour_status or "", ""),
        gettext("yes") if row.purple else "",
        row.gestational_age or "",
        row.edd.isoformat() if isinstance(row.edd, date) else "",
        "；".join(row.diagnoses),
        "；".join(row.plans),
        row.overdue,
        str(format_datetime(contact.at, "yyyy-MM-dd")) if contact else "",
        contact.task if contact else "",
    ]


def _workbook(pages: Iterable[list[RegisterRow]]) -> IO[bytes]:
    """The rows in an XLSX file (a temporary file the response streams), written as
    ``api/exports.py`` writes its own: constant memory, every text a string (never a formula or
    a link), a leading apostrophe before anything a spreadsheet would compute."""
    out = tempfile.TemporaryFile()  # noqa: SIM115 - the response streams it, then closes it
    try:
        book = xlsxwriter.Workbook(
            out,
            {
                "constant_memory": True,
                "strings_to_formulas": False,
                "strings_to_urls": False,
                "strings_to_numbers": False,
            },
        )
        sheet = book.add_worksheet(gettext("High-risk register")[:31])
        sheet.write_row(0, 0, [gettext(c) for c in EXPORT_COLUMNS])
        line = 0
        for rows in pages:
            for row in rows:
                line += 1
                sheet.write_row(line, 0, [_plain(v) for v in _cells(row)])
        book.close()
    except BaseException:
        out.close()
        raise
    out.seek(0)
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(("=", "+", "-", "@", "\t", "\r")):
        return "'" + value
    return value


def _streamed(file: IO[bytes]) -> Iterable[bytes]:
    with file:
        while chunk := file.read(64 * 1024):
            yield chunk


@blp.get("/export.xlsx")
@require("patient.read")
def export() -> Any:
    db, now, actor = _context()
    filters, errors = _filters()
    if errors:
        return _page(queue=False)
    cipher = current_app.extensions["carepath.cipher"]
    # the whole file is written (and the audit committed) before the first byte is sent
    file = _workbook(risk_register.export_pages(db, cipher, actor, now, filters))
    stamp = now.strftime("%Y%m%d")
    return Response(
        _streamed(file),
        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={
            "Content-Disposition": f'attachment; filename="high-risk-register-{stamp}.xlsx"',
            "Cache-Control": "no-store",
        },
    )
