"""The schema pass: JSON Schema errors turned into located problems with stable codes.

The schemas in ``carepath/schemas/`` are the reference of the file shapes. They carry a few
annotations of our own that jsonschema ignores and this module reads: ``x-code`` (the stable
code for a failing pattern, type or combination), ``x-unknown-key-code`` (what an unexpected
key is called there: an unknown operator inside a comparison, an unknown action in ``do``)
and ``x-hint`` (a sentence added to the message).
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable, Mapping
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from carepath.engine.loader import Document

SCHEMAS_DIR = Path(__file__).resolve().parent.parent / "schemas"


@cache
def validator(name: str) -> Draft202012Validator:
    """The validator of ``carepath/schemas/<name>.schema.json``, built once."""
    schema = json.loads((SCHEMAS_DIR / f"{name}.schema.json").read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def suggest(word: str, choices: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` when a close choice exists, else an empty string."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, str):
        return f"the text {value!r}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return "nothing" if value is None else type(value).__name__


_TYPE_WORDS = {
    "string": "text",
    "number": "a number",
    "integer": "a whole number",
    "boolean": "true or false",
    "object": "a mapping",
    "array": "a list",
}


#: x-codes that name a count or a length: a value of the wrong type is a ``type-mismatch``.
_COUNT_CODES = frozenset({"trigger-count", "too-long"})


def _with_hint(message: str, schema: Mapping[str, Any]) -> str:
    hint = schema.get("x-hint")
    return f"{message}; {hint}" if hint else message


def check(doc: Document, schema_name: str, errors: Iterable[ValidationError] | None = None) -> None:
    """Validate ``doc.value`` and append one problem per distinct failure.

    ``errors``: the validator's errors when the caller already has them (validating a
    300-line pathway takes tens of milliseconds; the editor compiles on every keystroke).
    """
    seen: set[tuple[tuple[str | int, ...], str, str]] = set()
    found = validator(schema_name).iter_errors(doc.value) if errors is None else errors
    for error in found:
        for path, code, message, at_key in _translate(error):
            marker = (path, code, message)
            if marker in seen:
                continue
            seen.add(marker)
            doc.error(path, code, message, key=at_key)


def _translate(error: ValidationError) -> list[tuple[tuple[str | int, ...], str, str, bool]]:
    """(path, code, message, located at the key?) for one jsonschema error."""
    path = tuple(error.absolute_path)
    schema: Mapping[str, Any] = error.schema if isinstance(error.schema, Mapping) else {}
    instance: Any = error.instance
    kind: Any = error.validator
    expected: Any = error.validator_value

    if kind == "additionalProperties" and isinstance(instance, dict):
        known = set(schema.get("properties", {}))
        code = schema.get("x-unknown-key-code", "unknown-key")
        noun = {"unknown-operator": "operator", "unknown-action": "action"}.get(code, "key")
        return [
            (
                (*path, key),
                code,
                _with_hint(f"unknown {noun} {key!r}{suggest(key, known)}", schema),
                True,
            )
            for key in instance
            if key not in known
        ]
    if kind == "required":
        missing = [name for name in expected if name not in (instance or {})]
        return [(path, "missing-key", f"{name!r} is required here", False) for name in missing]
    if kind == "type":
        wanted_list: list[str] = expected if isinstance(expected, list) else [expected]
        words = " or ".join(_TYPE_WORDS.get(w, w) for w in wanted_list)
        code = schema.get("x-code", "type-mismatch")
        if code in _COUNT_CODES:  # they say how many or how long, never which type
            code = "type-mismatch"
        message = f"expected {words}, found {_describe(instance)}"
        return [(path, code, _with_hint(message, schema), False)]
    if kind in ("enum", "const"):
        choices = expected if kind == "enum" else [expected]
        shown = ", ".join(str(c) for c in choices)
        hint = suggest(str(instance), [str(c) for c in choices])
        code = schema.get("x-code", "bad-value")
        message = f"{_describe(instance)} is not one of: {shown}{hint}"
        return [(path, code, _with_hint(message, schema), False)]
    if kind == "pattern":
        code = schema.get("x-code", "bad-value")
        return [(path, code, _with_hint(f"{_describe(instance)} is not valid", schema), False)]
    if kind in ("anyOf", "oneOf", "not"):
        code = schema.get("x-code", "bad-value")
        return [(path, code, _with_hint("this does not fit the language", schema), False)]
    if kind in ("minItems", "minProperties", "minLength"):
        return [(path, "empty", _with_hint("this must not be empty", schema), False)]
    if kind == "maxLength" and isinstance(instance, str):
        code = schema.get("x-code", "too-long")
        message = f"{len(instance):,} characters; at most {expected:,} allowed here"
        return [(path, code, _with_hint(message, schema), False)]
    if kind in ("maxItems", "maxProperties", "maxLength"):
        code = schema.get("x-code", "too-many")
        limit = expected
        message = f"at most {limit} allowed here"
        if kind == "maxProperties" and limit == 1:
            message = "write one entry per list item"
        return [(path, code, _with_hint(message, schema), False)]
    if kind in ("minimum", "maximum"):
        return [(path, "out-of-range", error.message, False)]
    if kind == "uniqueItems":
        return [(path, "duplicate-item", "each entry may appear only once", False)]
    return [(path, "bad-value", error.message, False)]


def problems_of(value: Any, schema_name: str) -> list[tuple[tuple[str | int, ...], str, str]]:
    """(path, code, message) of each distinct failure of ``value``; for inputs that are not files."""
    found: list[tuple[tuple[str | int, ...], str, str]] = []
    for error in validator(schema_name).iter_errors(value):
        for path, code, message, _at_key in _translate(error):
            if (path, code, message) not in found:
                found.append((path, code, message))
    return found
