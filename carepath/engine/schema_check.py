"""The schema pass: JSON Schema errors turned into located problems with stable codes.

The schemas in ``carepath/schemas/`` are the reference of the file shapes. They carry a few
annotations of our own that jsonschema ignores and this module reads: ``x-code`` (the stable
code for a failing pattern, type or combination), ``x-unknown-key-code`` (what an unexpected
key is called there: an unknown operator inside a comparison, an unknown action in ``do``)
and ``x-hint`` (a sentence added to the message; each one has its translation in
``engine/sentences.py``, ``HINTS``).
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterable, Mapping
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from carepath.engine.loader import Document
from carepath.engine.messages import english, recognised, say
from carepath.engine.sentences import HINTS
from carepath.errors import Text

SCHEMAS_DIR = Path(__file__).resolve().parent.parent / "schemas"


@cache
def validator(name: str) -> Draft202012Validator:
    """The validator of ``carepath/schemas/<name>.schema.json``, built once."""
    schema = json.loads((SCHEMAS_DIR / f"{name}.schema.json").read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def suggestion(word: str, choices: Iterable[str]) -> Text | str:
    """The "did you mean" phrase when a close choice exists, else an empty string."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return say("schema/did-you-mean", choice=close[0]) if close else ""


def suggest(word: str, choices: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` when a close choice exists, else an empty string."""
    found = suggestion(word, choices)
    return english(found) if isinstance(found, Text) else found


def describe(value: Any) -> Text:
    """A value as a sentence names it: "the text '2dx'", "a list"."""
    if isinstance(value, bool):
        return say("value/boolean", value=str(value).lower())
    if isinstance(value, int | float):
        return say("value/number", value=value)
    if isinstance(value, str):
        return say("value/text", value=value)
    if isinstance(value, list):
        return say("value/list")
    if isinstance(value, dict):
        return say("value/mapping")
    return say("value/nothing") if value is None else say("value/other", kind=type(value).__name__)


_TYPE_WORDS = {
    "string": "type/string",
    "number": "type/number",
    "integer": "type/integer",
    "boolean": "type/boolean",
    "object": "type/object",
    "array": "type/array",
}


def _type_words(wanted: list[str]) -> Text | str:
    """``text or a number``: the JSON types a schema wants, joined as a sentence joins them."""
    words: list[Text | str] = [say(_TYPE_WORDS[w]) if w in _TYPE_WORDS else w for w in wanted]
    joined = words[-1]
    for word in reversed(words[:-1]):
        joined = say("type/or", first=word, second=joined)
    return joined


#: x-codes that name a count or a length: a value of the wrong type is a ``type-mismatch``.
_COUNT_CODES = frozenset({"trigger-count", "too-long"})


def _with_hint(text: Text, schema: Mapping[str, Any]) -> Text:
    hint = schema.get("x-hint")
    if not hint:
        return text
    return say("schema/with-hint", sentence=text, hint=say(HINTS[hint]) if hint in HINTS else hint)


def check(doc: Document, schema_name: str, errors: Iterable[ValidationError] | None = None) -> None:
    """Validate ``doc.value`` and append one problem per distinct failure.

    ``errors``: the validator's errors when the caller already has them (validating a
    300-line pathway takes tens of milliseconds; the editor compiles on every keystroke).
    """
    seen: set[tuple[tuple[str | int, ...], str, str]] = set()
    found = validator(schema_name).iter_errors(doc.value) if errors is None else errors
    for error in found:
        for path, code, text, at_key in _translate(error):
            marker = (path, code, english(text))
            if marker in seen:
                continue
            seen.add(marker)
            doc.error(path, code, text, key=at_key)


#: jsonschema's own words for the validators this module does not phrase itself.
_JSONSCHEMA_WORDS = (
    (re.compile(r"(?P<value>.*) is less than the minimum of (?P<limit>.*)", re.S), "jsonschema/minimum"),
    (re.compile(r"(?P<value>.*) is greater than the maximum of (?P<limit>.*)", re.S), "jsonschema/maximum"),
    (re.compile(r"(?P<name>'.*') is a required property", re.S), "jsonschema/required"),
    (re.compile(r"(?P<value>.*) is not of type (?P<types>.*)", re.S), "jsonschema/type"),
    (re.compile(r"(?P<value>.*) is not one of (?P<choices>\[.*\])", re.S), "jsonschema/enum"),
    (re.compile(r"(?P<value>.*) does not match (?P<pattern>.*)", re.S), "jsonschema/pattern"),
    (re.compile(r"(?P<value>.*) is too short", re.S), "jsonschema/too-short"),
    (re.compile(r"(?P<value>.*) is too long", re.S), "jsonschema/too-long"),
    (re.compile(r"(?P<value>.*) should be non-empty", re.S), "jsonschema/non-empty"),
    (re.compile(r"(?P<value>.*) was expected", re.S), "jsonschema/const"),
    (re.compile(r"(?P<value>.*) has non-unique elements", re.S), "jsonschema/unique"),
    (
        re.compile(r"Additional properties are not allowed \((?P<names>.*) (?:was|were) unexpected\)", re.S),
        "jsonschema/additional",
    ),
)


def jsonschema_words(message: str) -> Text:
    """A jsonschema message as a catalogue sentence (its English exactly as jsonschema wrote it)."""
    return recognised(message, _JSONSCHEMA_WORDS, "jsonschema/other")


def _translate(error: ValidationError) -> list[tuple[tuple[str | int, ...], str, Text, bool]]:
    """(path, code, text, located at the key?) for one jsonschema error."""
    path = tuple(error.absolute_path)
    schema: Mapping[str, Any] = error.schema if isinstance(error.schema, Mapping) else {}
    instance: Any = error.instance
    kind: Any = error.validator
    expected: Any = error.validator_value

    if kind == "additionalProperties" and isinstance(instance, dict):
        known = set(schema.get("properties", {}))
        code = schema.get("x-unknown-key-code", "unknown-key")
        sentence = {"unknown-operator": "schema/unknown-operator", "unknown-action": "schema/unknown-action"}
        return [
            (
                (*path, key),
                code,
                _with_hint(
                    say(sentence.get(code, "schema/unknown-key"), key=key, suggestion=suggestion(key, known)),
                    schema,
                ),
                True,
            )
            for key in instance
            if key not in known
        ]
    if kind == "required":
        missing = [name for name in expected if name not in (instance or {})]
        return [(path, "missing-key", say("schema/required", name=name), False) for name in missing]
    if kind == "type":
        wanted_list: list[str] = expected if isinstance(expected, list) else [expected]
        code = schema.get("x-code", "type-mismatch")
        if code in _COUNT_CODES:  # they say how many or how long, never which type
            code = "type-mismatch"
        text = say("schema/type", wanted=_type_words(wanted_list), found=describe(instance))
        return [(path, code, _with_hint(text, schema), False)]
    if kind in ("enum", "const"):
        choices = expected if kind == "enum" else [expected]
        shown = ", ".join(str(c) for c in choices)
        hint = suggestion(str(instance), [str(c) for c in choices])
        code = schema.get("x-code", "bad-value")
        text = say("schema/enum", found=describe(instance), choices=shown, suggestion=hint)
        return [(path, code, _with_hint(text, schema), False)]
    if kind == "pattern":
        code = schema.get("x-code", "bad-value")
        return [(path, code, _with_hint(say("schema/pattern", found=describe(instance)), schema), False)]
    if kind in ("anyOf", "oneOf", "not"):
        code = schema.get("x-code", "bad-value")
        return [(path, code, _with_hint(say("schema/shape"), schema), False)]
    if kind in ("minItems", "minProperties", "minLength"):
        return [(path, "empty", _with_hint(say("schema/empty"), schema), False)]
    if kind == "maxLength" and isinstance(instance, str):
        code = schema.get("x-code", "too-long")
        text = say("schema/too-long", length=len(instance), limit=expected)
        return [(path, code, _with_hint(text, schema), False)]
    if kind in ("maxItems", "maxProperties", "maxLength"):
        code = schema.get("x-code", "too-many")
        limit = expected
        text = say("schema/too-many", limit=limit)
        if kind == "maxProperties" and limit == 1:
            text = say("schema/one-per-item")
        return [(path, code, _with_hint(text, schema), False)]
    if kind in ("minimum", "maximum"):
        return [(path, "out-of-range", jsonschema_words(error.message), False)]
    if kind == "uniqueItems":
        return [(path, "duplicate-item", say("schema/duplicate-item"), False)]
    return [(path, "bad-value", jsonschema_words(error.message), False)]


def problems_of(value: Any, schema_name: str) -> list[tuple[tuple[str | int, ...], str, str]]:
    """(path, code, message) of each distinct failure of ``value``; for inputs that are not files."""
    found: list[tuple[tuple[str | int, ...], str, str]] = []
    for error in validator(schema_name).iter_errors(value):
        for path, code, text, _at_key in _translate(error):
            if (path, code, english(text)) not in found:
                found.append((path, code, english(text)))
    return found
