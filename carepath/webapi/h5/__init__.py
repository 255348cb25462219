"""Her pages: the mobile H5 pages a pregnant woman opens in WeChat or a phone's browser.

One blueprint, ``h5`` (no url prefix: each route names its ``/h5/…`` path), whose routes live
in one module per idea, imported at the end of this file: ``signin.py`` (sign-in inside WeChat
and by SMS code, sign-out), ``home.py`` (her home page), ``inbox.py`` (her inbox) and
``demo.py`` (the demo's sign-in); later issues add theirs the same way (registration at
``/h5/register`` as ``h5.register``).

Every page extends ``templates/h5/base.html`` (Chinese, a phone's viewport, nothing fetched
from a CDN, nothing of the staff pages' chrome; each form carries its CSRF token) and uses
``static/h5/h5.css``, served at ``/static/h5/h5.css`` (``webapi/common/assets.py``). Who she is
comes from ``webapi/auth/patients.py`` (``current_patient``, ``@require_patient``). Her pages
import ``webapi.common`` and ``webapi.auth``, never another audience's package.
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint

blp = Blueprint("h5", __name__, template_folder="templates")
STATIC = Path(__file__).resolve().parent / "static"

from carepath.webapi.h5 import demo, forms, home, inbox, my_data, register, signin  # noqa: E402,F401  (their routes join ``blp``)
