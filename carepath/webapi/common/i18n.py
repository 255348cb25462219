"""The staff UI's languages: Chinese (zh-CN, the default) and English, through flask-babel.

Message ids are English; ``translations/zh_Hans_CN/LC_MESSAGES/messages.po`` (babel's name for
zh_CN) holds the Chinese, and its compiled ``messages.mo`` is committed beside it, so neither
``pip install`` nor CI needs a build step. ``tests/webapi/test_i18n.py`` fails when the .mo is
stale or a marked string has no translation. After editing a message: ``make translations``.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from flask import Blueprint, Flask, redirect, request, session
from flask_babel import Babel
from werkzeug.wrappers import Response

TRANSLATIONS = Path(__file__).resolve().parent / "translations"
#: Locale code -> (the ``<html lang>`` value, the name shown in the switch).
LANGUAGES = {"zh_CN": ("zh-CN", "中文"), "en": ("en", "English")}
DEFAULT_LOCALE = "zh_CN"

blp = Blueprint("i18n", __name__)


def select_locale() -> str:
    chosen = session.get("lang")
    return chosen if chosen in LANGUAGES else DEFAULT_LOCALE


def html_lang() -> str:
    return LANGUAGES[select_locale()][0]


def safe_next(target: str | None, default: str = "/") -> str:
    """A local path to go back to; anything pointing at another site becomes ``default``."""
    if not target:
        return default
    parts = urlsplit(target)
    if (
        parts.scheme
        or parts.netloc
        or not target.startswith("/")
        or target.startswith("//")
        or "\\" in target
    ):
        return default
    return target


@blp.get("/language/<code>")
def choose_language(code: str) -> Response:
    """Switch the UI language for this browser and go back where the switch was clicked."""
    if code in LANGUAGES:
        session["lang"] = code
    return redirect(safe_next(request.args.get("next")))


def init_app(app: Flask) -> None:
    Babel(
        app,
        default_locale=DEFAULT_LOCALE,
        default_timezone="Asia/Shanghai",
        default_translation_directories=str(TRANSLATIONS),
        locale_selector=select_locale,
    )
    app.register_blueprint(blp)
    app.jinja_env.globals.update(html_lang=html_lang, current_locale=select_locale, languages=LANGUAGES)
