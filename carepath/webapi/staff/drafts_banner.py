"""The warning every staff page shows while the hospital sends unapproved content.

A hospital's ``drafts_allowed`` setting (the demo turns it on) lets content items and forms
that no reviewer approved reach patients; ``base.html`` asks ``drafts_allowed()`` and shows a
banner above every page of a logged-in staff member of that hospital. The setting is read
through the settings cache, so a page costs no query most of the time.
"""

from __future__ import annotations

from flask import Flask, current_app

from carepath.store import hospital_settings
from carepath.webapi.auth.permissions import current_staff


def drafts_allowed() -> bool:
    """Whether the logged-in staff member's hospital sends unapproved content."""
    staff = current_staff()
    if staff is None:
        return False
    return hospital_settings.current(current_app.extensions["carepath.db"], staff.hospital_id).drafts_allowed


def init_app(app: Flask) -> None:
    app.jinja_env.globals["drafts_allowed"] = drafts_allowed
