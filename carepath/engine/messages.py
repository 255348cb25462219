"""The engine's words as data, and their rendering in the reader's language.

A checker says what it found as a ``Text`` (``carepath.errors``): a key of the sentence
catalogue (``engine/sentences.py``) and the values the sentence names. ``say`` builds one;
``english`` gives the sentence every ``Problem.message`` carries (so nothing that prints a
problem changed); ``render`` gives it in any language through a translator shaped like
gettext's ``pgettext(context, message)``: the catalogue key is the context, the English
template the message id. Flask passes ``flask_babel.pgettext``, the CLI a
``babel.support.Translations`` loaded from the staff UI's catalogue; both use the same
``.po``/``.mo``. A template names its values as ``str.format`` fields (``{text!r}``,
``{size:,}``); a value that is itself a ``Text`` is rendered first, in the same language.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from carepath.engine.sentences import CODE_TITLES, SENTENCES
from carepath.errors import CarepathError, Location, Problem, Text

#: ``(context, English message id) -> the message in the reader's language``: pgettext's shape.
Translate = Callable[[str, str], str]


def untranslated(context: str, message: str) -> str:
    """The translator of the English rendering: every template as written."""
    return message


def say(key: str, /, **args: object) -> Text:
    """A catalogue sentence with its values; an unknown key is a programming error."""
    if key not in SENTENCES:
        raise KeyError(f"no sentence {key!r} in engine/sentences.py")
    return Text(key, args)


class _Fields(string.Formatter):
    """``str.format`` restricted to plain field names: a template (a translation included)
    can place the values it is given and nothing else (no ``{x.__class__}``)."""

    def get_field(self, field_name: str, args: Sequence[Any], kwargs: Mapping[str, Any]) -> Any:
        if not field_name.isidentifier():
            raise KeyError(field_name)
        return kwargs[field_name], field_name


_FORMATTER = _Fields()


def render_text(
    text: Text, translate: Translate = untranslated, sentences: Mapping[str, str] = SENTENCES
) -> str:
    """``text`` in the translator's language; the English sentence when the translation
    is missing or does not fit the values (a mistake in a .po never hides a problem).

    ``sentences``: the table the keys come from (the pages keep their own, such as the
    preview's reasons, beside this catalogue)."""
    template = sentences.get(text.key)
    if template is None:
        return text.key
    values = {
        name: render_text(value, translate, sentences) if isinstance(value, Text) else value
        for name, value in text.args.items()
    }
    translated = translate(text.key, template)
    if translated and translated != template:
        try:
            return _FORMATTER.vformat(translated, (), values)
        except (KeyError, IndexError, ValueError, TypeError):
            pass
    return _FORMATTER.vformat(template, (), values)


def english(text: Text) -> str:
    """The English sentence of ``text``: what ``Problem.message`` and ``str()`` show."""
    return render_text(text)


def render(problem: Problem | CarepathError, translate: Translate = untranslated) -> str:
    """A problem's (or a coded error's) message in the translator's language; its own
    English ``message`` when its checker gave no ``Text``."""
    if problem.text is None:
        return problem.message
    return render_text(problem.text, translate)


def render_line(problem: Problem, translate: Translate = untranslated) -> str:
    """``PATH:LINE:COL: CODE: [warning: ]message`` in the translator's language; with the
    untranslated translator it is ``str(problem)``, byte for byte."""
    prefix = "" if problem.severity == "error" else render_text(say("line/warning"), translate)
    return f"{problem.location}: {problem.code}: {prefix}{render(problem, translate)}"


def code_title(code: str, translate: Translate = untranslated) -> str:
    """What a stable code means, in a few words ("" for a code the catalogue lacks)."""
    title = CODE_TITLES.get(code)
    return translate(code, title) if title else ""


def problem(location: Location, code: str, text: Text, severity: str = "error") -> Problem:
    """A located problem whose message is ``text`` in English."""
    return Problem(location, code, english(text), severity, text)


def recognised(raw: str, patterns: Iterable[tuple[re.Pattern[str], str]], fallback: str) -> Text:
    """A message someone else wrote (PyYAML, Python, jsonschema) as a catalogue sentence:
    the first pattern that matches and whose sentence gives back exactly ``raw`` in English,
    else ``fallback`` with the raw words as ``{detail}``."""
    for pattern, key in patterns:
        match = pattern.fullmatch(raw)
        if match is not None:
            text = say(key, **match.groupdict())
            if english(text) == raw:
                return text
    return say(fallback, detail=raw)
