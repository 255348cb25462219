"""Her pages: the mobile H5 pages a pregnant woman opens in WeChat (registration, home, inbox,
forms, school, booking, conversations), which later issues add here.

For now the blueprint has no routes, only what every page of hers will extend:
``templates/h5/base.html`` (Chinese, a phone's viewport, nothing fetched from a CDN, nothing of
the staff pages' chrome) and ``static/h5/h5.css``, served at ``/static/h5/h5.css``
(``webapi/common/assets.py``). Her pages import ``webapi.common`` and ``webapi.auth``, never
another audience's package.
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint

blp = Blueprint("h5", __name__, template_folder="templates")
STATIC = Path(__file__).resolve().parent / "static"
