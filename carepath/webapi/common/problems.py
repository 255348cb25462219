"""Errors as ``application/problem+json`` (RFC 9457), translated once, here.

Every problem carries a stable ``code``; validation problems list each failing field in
``errors`` (``path``, ``code``, ``message``). Nothing escapes as an HTML page or a bare 500.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any, TypeVar

from flask import Flask, Response
from werkzeug.exceptions import HTTPException

from carepath.errors import CarepathError
from carepath.store.consents import InvalidConsentError
from carepath.store.event_input import InvalidEventError
from carepath.store.events import EventConflictError
from carepath.store.inbox import InboxItemNotFoundError
from carepath.store.patients import PatientNotFoundError
from carepath.store.responses import InvalidResponseError, ResponseConflictError
from carepath.store.scope import PregnancyNotFoundError
from carepath.store.tasks import (
    InvalidOutcomeError,
    TaskClaimedError,
    TaskClosedError,
    TaskNotFoundError,
    UnknownStaffError,
)

PROBLEM_TYPE = "https://carepath.example/problems/"
log = logging.getLogger(__name__)
#: At most this many problems go into one answer; the rest are only counted (``more``). A
#: buffer of 60,000 duplicate keys made the editor's compile answer 11 MB; nobody reads past
#: the first screens of them.
MAX_PROBLEMS = 200
T = TypeVar("T")


def capped(problems: Sequence[T]) -> tuple[list[T], int]:
    """The first :data:`MAX_PROBLEMS` problems and how many more there are: every answer of
    the editor's API that lists a buffer's problems (compile, render, check, a refused submit)."""
    return list(problems[:MAX_PROBLEMS]), max(len(problems) - MAX_PROBLEMS, 0)


class ApiProblemError(CarepathError):
    """An error raised by a view with its HTTP status."""

    def __init__(
        self, status: int, code: str, detail: str, errors: list[dict[str, str]] | None = None, **extra: Any
    ) -> None:
        super().__init__(detail, code=code)
        self.status = status
        self.errors = errors
        self.extra = extra


def problem(
    status: int, code: str, detail: str, errors: list[dict[str, str]] | None = None, **extra: Any
) -> Response:
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE + code,
        "title": code.replace("-", " "),
        "status": status,
        "code": code,
        "detail": detail,
    }
    if errors:
        body["errors"] = errors
    body.update(extra)
    return Response(json.dumps(body, ensure_ascii=False), status=status, mimetype="application/problem+json")


def status_for(error: CarepathError) -> int:
    if isinstance(error, ApiProblemError):
        return error.status
    if isinstance(error, EventConflictError | ResponseConflictError):
        return 409
    if isinstance(
        error, PatientNotFoundError | TaskNotFoundError | PregnancyNotFoundError | InboxItemNotFoundError
    ):
        return 404
    if isinstance(error, TaskClaimedError | TaskClosedError):
        return 409
    if isinstance(error, UnknownStaffError):
        return 403
    return 422


def from_error(error: CarepathError) -> Response:
    if isinstance(error, ApiProblemError):
        return problem(error.status, error.code, error.message, error.errors, **error.extra)
    if isinstance(error, InvalidOutcomeError | InvalidResponseError | InvalidConsentError):
        return problem(422, error.code, error.message, error.errors)
    if isinstance(error, TaskClaimedError):
        return problem(409, error.code, error.message, claimed_by=error.claimed_by)
    errors = [p.as_json() for p in error.problems] if isinstance(error, InvalidEventError) else None
    return problem(status_for(error), error.code, error.message, errors)


def _http(error: HTTPException) -> Response:
    status = error.code or 500
    if status == 422:  # webargs/flask-smorest validation: messages by field
        messages = getattr(error, "data", {}).get("messages", {})
        # webargs keys messages by location first ({"query": {"status": [...]}}): the path
        # names the field within its location, as for JSON bodies.
        located = {
            key: value
            for location, fields in messages.items()
            for key, value in (fields.items() if isinstance(fields, dict) else [(location, fields)])
        }
        errors = [
            {"path": ".".join(path), "code": "invalid", "message": message}
            for path, message in _flatten(located)
        ]
        return problem(422, "invalid-request", "the request does not fit the schema", errors)
    codes = {
        404: "not-found",
        405: "method-not-allowed",
        413: "body-too-large",
        415: "unsupported-media-type",
        400: "bad-request",
    }
    return problem(status, codes.get(status, f"http-{status}"), error.description or str(error))


#: For handlers that answer some clients with a page and the others as the API does.
http_problem = _http


def _flatten(messages: Any, prefix: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], str]]:
    if isinstance(messages, dict):
        out = []
        for key, value in messages.items():
            out += _flatten(value, (*prefix, str(key)))
        return out
    if isinstance(messages, list):
        return [(prefix, str(m)) for m in messages]
    return [(prefix, str(messages))]


def _unexpected(error: Exception) -> Response:
    log.exception("unexpected error", exc_info=error)
    return problem(500, "internal-error", "an unexpected error; it has been logged")


def init_app(app: Flask) -> None:
    app.register_error_handler(CarepathError, from_error)
    app.register_error_handler(HTTPException, _http)
    app.register_error_handler(Exception, _unexpected)
