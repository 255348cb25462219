"""Answers to a built-in form, checked the same way wherever they arrive (a questionnaire
response, a task's outcome): one problem per field path with a stable code."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache

from carepath.engine.form_scoring import TOO_LONG
from carepath.engine.forms import Form, load_forms, validate_answers


@cache
def forms() -> dict[str, Form]:
    """The built-in forms, read once per process."""
    return load_forms()


def answer_problems(form_id: str, answers: Mapping[str, object]) -> list[dict[str, str]]:
    """Each problem of ``answers`` to ``form_id`` as ``{path, code, message}``; codes:
    ``unknown-form``, ``unknown-item``, ``required``, ``too-long`` (a text answer over
    2,000 characters), ``invalid-answer``."""
    form = forms().get(form_id)
    if form is None:
        return [{"path": "form", "code": "unknown-form", "message": f"no form {form_id[:64]!r}"}]
    out = []
    for text in validate_answers(form, answers):
        item, _, message = text.partition(": ")
        if message == "required":
            code = "required"
        elif message.startswith("not an item of form"):
            code = "unknown-item"
        elif message.startswith(TOO_LONG):
            code = "too-long"
        else:
            code = "invalid-answer"
        out.append({"path": f"answers.{item[:64]}", "code": code, "message": (message or text)[:200]})
    return out
