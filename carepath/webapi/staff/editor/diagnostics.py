"""Editor diagnostics: a buffer's text in, the problems the real checkers find, located.

``diagnose(kind, text)`` runs the pathway compiler (``pathway``) or the content lint
(``content`` items and ``form`` YAML) over an editor's buffer and returns one JSON-ready
diagnostic per problem: 1-based ``line`` and ``col`` where the checker located it, an
``end_line``/``end_col`` that spans the token there (so the editor can underline it), the
``severity``, the stable ``code``, the ``message`` and a ``hint`` when the checker suggested a
fix, in the language of ``translate`` (the page passes the user's; English by default). It
never raises on bad input: a file over the loader's byte limit, invalid UTF-8 or invalid YAML
are diagnostics like any other.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Literal

from carepath.delivery.rendering import check_template
from carepath.engine import messages
from carepath.engine.catalogue import load_catalogue
from carepath.engine.compiler import compile_text
from carepath.engine.content_lint import lint_text
from carepath.engine.loader import Limits
from carepath.engine.messages import Translate, render, render_text, say, untranslated
from carepath.engine.sentences import sentence
from carepath.errors import Location, Problem, Text

Kind = Literal["pathway", "content", "form"]
KINDS: tuple[Kind, ...] = ("pathway", "content", "form")

#: What the loader accepts; a bigger buffer gets one diagnostic and is not parsed at all.
MAX_BYTES = Limits().max_bytes

_DID_YOU_MEAN = re.compile(r" \(did you mean (?P<choice>'[^']*'|\"[^\"]*\")\?\)")
#: The hint of a "did you mean" (moved out of the message), and hints for codes whose message
#: does not already say what to do; extracted into the staff UI's catalogue.
HINTS: dict[str, str] = dict(
    [
        sentence("editor-hint/did-you-mean", "did you mean {choice}?"),
        sentence(
            "editor-hint/yaml-syntax",
            "check the indentation (spaces, never tabs) and the ':' after each key near here",
        ),
        sentence("editor-hint/duplicate-key", "delete or rename one of the two"),
        sentence(
            "editor-hint/file-too-large", "split the file; a pathway or item is a few hundred lines at most"
        ),
        sentence("editor-hint/empty-file", "start with the file's first key"),
        sentence("editor-hint/missing-front-matter", "start the item with '---', its fields, then '---'"),
        sentence("editor-hint/not-utf8", "save the file as UTF-8"),
    ]
)
# Characters that end the token a diagnostic underlines (a flow collection, a comment, a key).
_TOKEN_END = re.compile(r"[,\]}#]|: |:$")


def diagnose(
    kind: Kind, text: str, path: str | None = None, translate: Translate = untranslated
) -> list[dict[str, Any]]:
    """Every problem in ``text`` as an editor diagnostic, sorted by position.

    ``path`` is the buffer's file name (``gdm.yaml``, ``anaemia.md``); without one the checks
    that compare a key or id with the file name are skipped, since a new buffer has no name.
    """
    data = text.encode("utf-8", errors="surrogatepass")
    if len(data) > MAX_BYTES:
        return [too_large(len(data), translate)]
    name = path or f"<{kind}>"
    if kind == "pathway":
        problems: Sequence[Problem] = compile_text(data, name, load_catalogue()).problems
    else:

        def template_check(body: str) -> list[tuple[int, str]]:
            return [(found.line, found.message) for found in check_template(body)]

        problems = lint_text(text, name, kind, template_check=template_check)
        if path is None:
            problems = [p for p in problems if p.code not in ("key-mismatch", "form-id-mismatch")]
    lines = text.splitlines()
    return [_diagnostic(found, lines, translate) for found in problems]


def too_large(size: int, translate: Translate = untranslated) -> dict[str, Any]:
    """The one diagnostic of a buffer over the loader's limit (it is not parsed at all)."""
    text = say("file-too-large/size", size=size, limit=MAX_BYTES)
    return _diagnostic(messages.problem(Location("<buffer>"), "file-too-large", text), [], translate)


def _diagnostic(
    problem: Problem, lines: Sequence[str], translate: Translate = untranslated
) -> dict[str, Any]:
    line = max(problem.location.line, 1)
    col = max(problem.location.column, 1)
    last = _last_text_line(lines)
    if line > last:  # a mapping's end (``'rules' is required here``): its last line
        line, col = last, 1
    message, hint = _split_hint(problem, translate)
    end_line, end_col = _token_end(lines, line, col)
    return {
        "line": line,
        "col": col,
        "end_line": end_line,
        "end_col": end_col,
        "severity": "warning" if problem.severity == "warning" else "error",
        "code": problem.code,
        "message": message,
        "hint": hint,
    }


def _last_text_line(lines: Sequence[str]) -> int:
    return next((n for n in range(len(lines), 0, -1) if lines[n - 1].strip()), 1)


def _split_hint(problem: Problem, translate: Translate) -> tuple[str, str | None]:
    """Move the checker's "(did you mean 'x'?)" out of the message into the hint."""
    if problem.text is not None:
        choices: list[object] = []
        text = _without_suggestion(problem.text, choices)
        if choices:
            hint = say_hint("editor-hint/did-you-mean", choice=repr(choices[0]))
            return render_text(text, translate).strip(), render_text(hint, translate, HINTS)
        return render(problem, translate), _code_hint(problem.code, translate)
    match = _DID_YOU_MEAN.search(problem.message)
    if match is not None:
        message = (problem.message[: match.start()] + problem.message[match.end() :]).strip()
        hint = say_hint("editor-hint/did-you-mean", choice=match.group("choice"))
        return message, render_text(hint, translate, HINTS)
    return problem.message, _code_hint(problem.code, translate)


def say_hint(key: str, /, **args: object) -> Text:
    if key not in HINTS:
        raise KeyError(key)
    return Text(key, args)


def _code_hint(code: str, translate: Translate) -> str | None:
    key = f"editor-hint/{code}"
    return render_text(Text(key), translate, HINTS) if key in HINTS else None


def _without_suggestion(text: Text, choices: list[object]) -> Text:
    """``text`` with its "did you mean" phrase taken out (its choice put in ``choices``)."""
    args: dict[str, object] = {}
    for name, value in text.args.items():
        if isinstance(value, Text) and value.key == "schema/did-you-mean":
            choices.append(value.args["choice"])
            args[name] = ""
        elif isinstance(value, Text):
            args[name] = _without_suggestion(value, choices)
        else:
            args[name] = value
    return Text(text.key, args)


def _token_end(lines: Sequence[str], line: int, col: int) -> tuple[int, int]:
    """Where the underline ends (exclusive column): the end of the scalar, key or line at
    (line, col); the whole line when the checker gave only a line (column 1)."""
    if line > len(lines):
        return line, col + 1
    text = lines[line - 1]
    start = col - 1
    if start >= len(text.rstrip()):
        return line, max(col, len(text.rstrip()) + 1) if text.strip() else col + 1
    if col == 1 and not text[:1].isspace() and problem_spans_line(text):
        return line, len(text.rstrip()) + 1
    if text[start] in "\"'":
        close = text.find(text[start], start + 1)
        return line, (close + 2 if close != -1 else len(text.rstrip()) + 1)
    if text[start] in "{[":
        return line, len(text.rstrip()) + 1
    stop = _TOKEN_END.search(text, start + 1)
    end = stop.start() if stop is not None else len(text)
    end = len(text[:end].rstrip())
    return line, max(end, start + 1) + 1


def problem_spans_line(text: str) -> bool:
    """A line-only location on a Markdown or top-level line: underline all of it."""
    return not re.match(r"^[\w-]+:", text)
