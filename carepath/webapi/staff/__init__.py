"""The staff pages: the editor (``editor/``, ``editor_api.py``), review and history
(``editor_review.py``, ``review_impact.py``), the preview (``editor_preview.py`` and the
timeline it draws, ``timeline_svg.py``), staff and roles (``admin.py``) and the drafts banner.

Their templates (``templates/editor``, ``templates/admin``) are found through :data:`blp`, which
has no routes of its own; their static files (``static/``) are served at ``/static/``
(``webapi/common/assets.py``).
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint

blp = Blueprint("staff", __name__, template_folder="templates")
STATIC = Path(__file__).resolve().parent / "static"
