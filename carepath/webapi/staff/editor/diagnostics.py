"""Editor diagnostics: a buffer's text in, the problems the real checkers find, located.

``diagnose(kind, text)`` runs the pathway compiler (``pathway``) or the content lint
(``content`` items and ``form`` YAML) over an editor's buffer and returns one JSON-ready
diagnostic per problem: 1-based ``line`` and ``col`` where the checker located it, an
``end_line``/``end_col`` that spans the token there (so the editor can underline it), the
``severity``, the stable ``code``, the ``message`` and a ``hint`` when the checker suggested a
fix. It never raises on bad input: a file over the loader's byte limit, invalid UTF-8 or
invalid YAML are diagnostics like any other.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Literal

from carepath.delivery.rendering import check_template
from carepath.engine.catalogue import load_catalogue
from carepath.engine.compiler import compile_text
from carepath.engine.content_lint import lint_text
from carepath.engine.loader import Limits
from carepath.errors import Location, Problem

Kind = Literal["pathway", "content", "form"]
KINDS: tuple[Kind, ...] = ("pathway", "content", "form")

#: What the loader accepts; a bigger buffer gets one diagnostic and is not parsed at all.
MAX_BYTES = Limits().max_bytes

_DID_YOU_MEAN = re.compile(r" \(did you mean (?P<choice>'[^']*'|\"[^\"]*\")\?\)")
#: Hints for codes whose message does not already say what to do.
_CODE_HINTS = {
    "yaml-syntax": "check the indentation (spaces, never tabs) and the ':' after each key near here",
    "duplicate-key": "delete or rename one of the two",
    "file-too-large": "split the file; a pathway or item is a few hundred lines at most",
    "empty-file": "start with the file's first key",
    "missing-front-matter": "start the item with '---', its fields, then '---'",
    "not-utf8": "save the file as UTF-8",
}
# Characters that end the token a diagnostic underlines (a flow collection, a comment, a key).
_TOKEN_END = re.compile(r"[,\]}#]|: |:$")


def diagnose(kind: Kind, text: str, path: str | None = None) -> list[dict[str, Any]]:
    """Every problem in ``text`` as an editor diagnostic, sorted by position.

    ``path`` is the buffer's file name (``gdm.yaml``, ``anaemia.md``); without one the checks
    that compare a key or id with the file name are skipped, since a new buffer has no name.
    """
    data = text.encode("utf-8", errors="surrogatepass")
    if len(data) > MAX_BYTES:
        return [too_large(len(data))]
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
    return [_diagnostic(problem, lines) for problem in problems]


def too_large(size: int) -> dict[str, Any]:
    """The one diagnostic of a buffer over the loader's limit (it is not parsed at all)."""
    problem = Problem(Location("<buffer>"), "file-too-large", f"{size:,} bytes; the limit is {MAX_BYTES:,}")
    return _diagnostic(problem, [])


def _diagnostic(problem: Problem, lines: Sequence[str]) -> dict[str, Any]:
    line = max(problem.location.line, 1)
    col = max(problem.location.column, 1)
    last = _last_text_line(lines)
    if line > last:  # a mapping's end (``'rules' is required here``): its last line
        line, col = last, 1
    message, hint = _split_hint(problem)
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


def _split_hint(problem: Problem) -> tuple[str, str | None]:
    """Move the checker's "(did you mean 'x'?)" out of the message into the hint."""
    match = _DID_YOU_MEAN.search(problem.message)
    if match is not None:
        message = (problem.message[: match.start()] + problem.message[match.end() :]).strip()
        return message, f"did you mean {match.group('choice')}?"
    return problem.message, _CODE_HINTS.get(problem.code)


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
