"""Strict JSON bodies: UTF-8 only, no duplicate keys, no NaN; each failure a 400 problem;
text no database can keep (NUL, a lone surrogate) a 422 ``bad-text`` (``text_guard``)."""

from __future__ import annotations

import json
from typing import Any

from flask import Request, request
from webargs import core
from webargs.flaskparser import FlaskParser, is_json_request

from carepath.webapi.common.problems import ApiProblemError
from carepath.webapi.common.text_guard import refuse_bad_text


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise ApiProblemError(400, "duplicate-key", f"the key {key!r} appears twice in one object")
        seen[key] = value
    return seen


def _no_constants(name: str) -> Any:
    raise ApiProblemError(400, "bad-json", f"{name} is not JSON")


def json_body() -> Any:
    """The request body as JSON, or an ApiProblemError saying why it is not."""
    if not request.mimetype == "application/json":
        raise ApiProblemError(415, "unsupported-media-type", "send Content-Type: application/json")
    return parse_strict(request.get_data(cache=True))


def parse_strict(raw: bytes) -> Any:
    """``raw`` as JSON by the rules above (the FHIR intake's body too)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ApiProblemError(400, "not-utf8", f"the body is not UTF-8 (byte {exc.start})") from None
    try:
        value = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constants)
    except json.JSONDecodeError as exc:
        raise ApiProblemError(
            400, "bad-json", f"not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    except RecursionError:
        raise ApiProblemError(400, "bad-json", "the JSON is nested too deeply") from None
    refuse_bad_text(value)
    return value


class StrictJsonParser(FlaskParser):  # type: ignore[misc]
    """flask-smorest's argument parser with JSON bodies read by :func:`parse_strict`."""

    def _raw_load_json(self, req: Request) -> Any:
        if not is_json_request(req):
            return core.missing
        return parse_strict(req.get_data(cache=True))
