"""Text a database can keep: no NUL and no lone surrogate, anywhere a request carries text.

PostgreSQL refuses U+0000 in a text value (the query fails: a 500 when it reached one), and
neither database can encode a lone surrogate (U+D800-U+DFFF, which JSON's ``\\ud800`` escape
produces) as UTF-8. Neither is text anyone typed, so both are refused at the edge as a 422
``bad-text`` problem naming the field, before a view or a query sees them: JSON bodies where
they are parsed (``jsonbody``), query strings, form fields, path parts and headers here, in
one ``before_request`` hook.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from flask import Flask, request

from carepath.signing import HEADERS as SIGNING_HEADERS
from carepath.webapi.common.problems import ApiProblemError

_BAD = re.compile("[\x00\ud800-\udfff]")


def bad_text(value: Any, path: tuple[str, ...] = ()) -> tuple[str, str] | None:
    """``(dotted path, what is wrong)`` of the first string (value or key) a database cannot
    keep, or None. Walks dicts and lists without recursion (a 4 MB batch is deep enough)."""
    pending: list[tuple[Any, tuple[str, ...]]] = [(value, path)]
    while pending:
        node, at = pending.pop()
        if isinstance(node, str):
            found = _BAD.search(node)
            if found is not None:
                return ".".join(at), _describe(found.group())
        elif isinstance(node, dict):
            for key, item in node.items():
                if isinstance(key, str) and (found := _BAD.search(key)) is not None:
                    return ".".join(at), f"a key holding {_describe(found.group())}"
                pending.append((item, (*at, str(key))))
        elif isinstance(node, list):
            pending.extend((item, (*at, str(index))) for index, item in enumerate(node))
    return None


def _describe(character: str) -> str:
    if character == "\x00":
        return "a NUL character (U+0000)"
    return f"a lone surrogate (U+{ord(character):04X}), which is not a character"


def refuse_bad_text(value: Any, prefix: tuple[str, ...] = ()) -> None:
    """Raise the 422 ``bad-text`` problem when ``value`` holds text no database can keep."""
    found = bad_text(value, prefix)
    if found is None:
        return
    path, what = found
    message = f"{path or 'the body'} holds {what}; send text without it"
    raise ApiProblemError(422, "bad-text", message, [{"path": path, "code": "bad-text", "message": message}])


#: Forms whose view answers a NUL itself: a login with one is a failed login for an unknown
#: name, audited and throttled like any other (``store/login_throttle.py``), not a 422.
_FORMS_OF_THEIR_OWN = frozenset({"auth.login_post"})

#: The signed audiences: a request to them without the signing headers is refused there (401)
#: before anything reads it, so an unsigned caller learns nothing about what its text would do.
_SIGNED_PATHS = ("/api/v1/", "/fhir/")


def _check_request() -> None:
    if request.path.startswith(_SIGNED_PATHS) and not all(h in request.headers for h in SIGNING_HEADERS):
        return  # unsigned: authentication answers 401 first, and no view or query runs
    refuse_bad_text(request.view_args or {}, ("path",))
    _check_pairs(request.args.items(multi=True), "query")
    form = request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data")
    if form and request.endpoint not in _FORMS_OF_THEIR_OWN:
        _check_pairs(request.form.items(multi=True), "form")
    # A header's value is Latin-1 text: NUL is the one character of concern there.
    _check_pairs(request.headers.items(), "header")


def _check_pairs(items: Iterable[tuple[str, str]], where: str) -> None:
    """A multi-dict's pairs, each named ``where.name`` however often the name is given."""
    for name, value in items:
        refuse_bad_text({name: value}, (where,))


def init_app(app: Flask) -> None:
    app.before_request(_check_request)
