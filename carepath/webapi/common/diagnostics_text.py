"""Diagnostics in the reader's language, from the staff UI's translation catalogue.

The compiler, the lint and the preview say what they found as catalogue sentences
(``engine/messages.py``); this module gives the translator that puts them into a language:
on a page, flask-babel's ``pgettext`` in the language the user chose; in the CLI, the same
``.mo`` loaded by babel for ``--lang zh`` (English, the default, needs no catalogue).
"""

from __future__ import annotations

from functools import cache

from babel.support import Translations
from flask_babel import pgettext

from carepath.engine.messages import Translate, code_title, render, render_line, untranslated
from carepath.errors import Problem
from carepath.webapi.common.i18n import TRANSLATIONS

#: ``--lang`` values -> the catalogue's locale (None: English, the templates as written).
LANGS: dict[str, str | None] = {"en": None, "zh": "zh_Hans_CN"}


@cache
def translator(lang: str = "en") -> Translate:
    """The translator of a ``--lang`` value; ValueError for one the catalogue lacks."""
    if lang not in LANGS:
        raise ValueError(f"unknown language {lang!r}; one of {', '.join(LANGS)}")
    locale = LANGS[lang]
    if locale is None:
        return untranslated
    translations = Translations.load(str(TRANSLATIONS), [locale])
    return translations.pgettext


def format_problem(problem: Problem, lang: str = "en") -> str:
    """``PATH:LINE:COL: CODE: message`` in ``lang``: what the CLI prints for each problem
    (``lang="en"`` is ``str(problem)``, byte for byte)."""
    return render_line(problem, translator(lang))


def page_translate(context: str, message: str) -> str:
    """The translator of a page: the language of the signed-in user's choice."""
    return str(pgettext(context, message))


def problem_message(problem: Problem) -> str:
    """A problem's message in the page's language."""
    return render(problem, page_translate)


def problem_line(problem: Problem) -> str:
    """A problem's ``PATH:LINE:COL: CODE: message`` line in the page's language."""
    return render_line(problem, page_translate)


def problem_title(code: str) -> str:
    """What a stable code means, in the page's language ("" when the catalogue lacks it)."""
    return code_title(code, page_translate)
