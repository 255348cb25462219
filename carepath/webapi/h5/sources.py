"""``/h5/s/<code>``: the short URL a source prints and draws in its QR codes (``store/sources.py``).

Opening it:
1. records a scan of the source (``how``: ``link-wechat`` inside WeChat's browser, known by
   ``MicroMessenger`` in the User-Agent, else ``link``) — once per browser session, so a reload
   or a second tap does not count again, and never for a ``HEAD`` (link previewers);
2. remembers the source in her session, so registration can attribute her and follow the
   source's department and doctor. **Until her own session exists** (h5-identity's patient
   session), the source's code is kept in Flask's session under the key ``h5_source``
   (``SESSION_KEY``); registration reads it there;
3. sends her on to registration, ``/h5/register`` (which takes her hospital from the source) —
   inside WeChat first through her sign-in, ``/h5/sign-in?next=/h5/register&hospital=<id>``
   (``webapi/h5/signin.py`` of her sign-in's change: inside WeChat it goes on to web
   authorisation when the hospital's account is configured; ``hospital`` names the flow's
   hospital, ``next`` where she goes after), so she arrives with her openid — bound already
   (she is signed in) or pending for registration to bind.

A campaign's source whose WeChat code has expired still lands here: the short URL printed on a
leaflet is still where she came from. An unknown code is a Chinese page, 404.
"""

from __future__ import annotations

from urllib.parse import urlencode

from flask import Blueprint, current_app, redirect, render_template, request, session
from werkzeug.wrappers import Response

from carepath.store import sources

blp = Blueprint("h5_sources", __name__, url_prefix="/h5", template_folder="templates")

SESSION_KEY = "h5_source"  # the code of the source she came from (until her own session holds it)
REGISTER_PATH = "/h5/register"
SIGN_IN_PATH = "/h5/sign-in"


def in_wechat() -> bool:
    return "micromessenger" in request.headers.get("User-Agent", "").lower()


def next_step(hospital_id: str) -> str:
    """Where she goes after the landing: registration, through her sign-in inside WeChat."""
    if in_wechat():
        return f"{SIGN_IN_PATH}?{urlencode({'next': REGISTER_PATH, 'hospital': hospital_id})}"
    return REGISTER_PATH


@blp.get("/s/<code>")
def landing(code: str) -> Response | tuple[str, int]:
    database = current_app.extensions["carepath.db"]
    now = current_app.config["CLOCK"]()
    with database.transaction() as db_session:
        source = sources.find_by_code(db_session, code)
        if source is None:
            return render_template("h5/source_unknown.html"), 404
        if request.method == "GET" and session.get(SESSION_KEY) != source.code:
            how = sources.HOW_LINK_WECHAT if in_wechat() else sources.HOW_LINK
            sources.record_scan(db_session, source, how, now)
        session[SESSION_KEY] = source.code
        hospital_id = source.hospital_id
    return redirect(next_step(hospital_id), code=302)
