"""The safety release on the upstream page (``/editor/review``; issue 17 item 14).

When the shipped library's release manifest says ``safety: true`` and the release is still
pending for the hospital (``store/release.py``), the page says so at the top, in Chinese: what
changed and why, how many enrolments are still on older versions, the cohort impact of adopting
(pin against migrate, the editor's impact model; for staff with ``impact.run``, on a click —
``?release_impact=1`` — because it runs every pregnancy in care, as the review page's panel
does; audited as a read of the women's states) and, for staff with ``pathway.publish``, one
button that adopts it with migrate. The hospital's own copies in the release are listed to adopt
through review.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import current_app
from sqlalchemy.orm import Session

from carepath.store import release
from carepath.store.accounts import StaffIdentity
from carepath.store.library_files import Shipped, display_path
from carepath.webapi.staff.editor.candidate import engine_settings

#: The weeks the page's cohort impact looks ahead (the review page's default).
WEEKS = 8


@dataclass(frozen=True)
class SafetyRelease:
    found: release.Pending
    report: dict[str, Any] | None  # the cohort impact, when asked for and allowed
    may_adopt: bool
    may_run: bool  # impact.run: the page offers the cohort impact
    own: list[str]  # display paths of the hospital's copies in the release, to adopt by review

    @property
    def release(self) -> release.Release:
        return self.found.release


def safety_release(
    session: Session, hospital_id: str, staff: StaffIdentity, shipped: Shipped, now: datetime, *, run: bool
) -> SafetyRelease | None:
    """What the page shows about a pending safety release, or None; ``run``: with the cohort
    impact (when the staff member may run it)."""
    try:
        found = release.pending(session, hospital_id, shipped)
    except release.ReleaseError as error:  # a broken manifest is ours to fix: never a 500 here
        current_app.logger.error("release manifest: %s", error.message)
        return None
    if found is None or not found.release.safety or not found.open:
        return None
    report = None
    may_run = bool(found.builtin) and staff.can("impact.run")
    if run and may_run:
        report = release.impact(session, hospital_id, found, now, weeks=WEEKS, settings=engine_settings())
    return SafetyRelease(
        found,
        report,
        bool(found.builtin) and staff.can("pathway.publish"),
        may_run,
        [display_path(c.kind, c.name) for c in found.own],
    )
