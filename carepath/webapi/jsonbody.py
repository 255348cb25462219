"""Strict JSON bodies: UTF-8 only, no duplicate keys, no NaN; each failure a 400 problem."""

from __future__ import annotations

import json
from typing import Any

from flask import request

from carepath.webapi.problems import ApiProblemError


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
    raw = request.get_data(cache=True)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ApiProblemError(400, "not-utf8", f"the body is not UTF-8 (byte {exc.start})") from None
    try:
        return json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constants)
    except json.JSONDecodeError as exc:
        raise ApiProblemError(
            400, "bad-json", f"not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    except RecursionError:
        raise ApiProblemError(400, "bad-json", "the JSON is nested too deeply") from None
