"""The OpenAPI schemas of ``POST /api/v1/events``: one per event type, made from the very
schema the event check uses (``his-event.schema.json``, ``store/event_input.py``), so the
document cannot say one thing while the check does another.

The document is OpenAPI 3.0 (Swagger UI 4 draws nothing newer), whose schemas are a dialect of
JSON Schema: :func:`openapi_schema` translates the few keywords carepath's schemas use that
3.0 lacks (a list of types, ``const``, ``propertyNames``) and refuses any other it does not
know, so a new keyword in the schema fails the app's start instead of vanishing from the page.

Each type ``t`` gets ``EventData.<t>`` (its ``data``) and ``HisEvent.<t>`` (the envelope with
``type`` fixed to ``t``); the request body is their ``oneOf`` with a ``discriminator`` on
``type``.
"""

from __future__ import annotations

from typing import Any

from carepath.engine import schema_check

#: The schema the event check uses (``event_input`` cuts it down per type; same file).
SOURCE = "his-event"
#: The marshmallow envelope (``schemas.HisEventSchema``) as the document names it.
ENVELOPE = "HisEvent"
#: The request body of ``POST /api/v1/events``.
BY_TYPE = "HisEventByType"

#: The keywords each JSON type owns: a list of types is split into one schema per type.
_TYPE_KEYWORDS: dict[str, frozenset[str]] = {
    "string": frozenset({"minLength", "maxLength", "pattern", "format"}),
    "number": frozenset({"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"}),
    "integer": frozenset({"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"}),
    "array": frozenset({"items", "minItems", "maxItems", "uniqueItems"}),
    "object": frozenset(
        {
            "properties",
            "additionalProperties",
            "required",
            "minProperties",
            "maxProperties",
            "x-propertyNames",
        }
    ),
    "boolean": frozenset(),
    "null": frozenset(),
}
_OWNED = frozenset().union(*_TYPE_KEYWORDS.values())
#: Kept as they are: OpenAPI 3.0 has them, or they are extensions (``x-code`` ...).
_KEPT = _OWNED | {"type", "enum", "description", "title", "default", "required"}


def schema_name(event_type: str) -> str:
    """The component of one event type: ``HisEvent.lab.result``."""
    return f"{ENVELOPE}.{event_type}"


def data_name(event_type: str) -> str:
    return f"EventData.{event_type}"


def openapi_schema(node: Any) -> dict[str, Any]:
    """``node`` (JSON Schema 2020-12, the subset carepath's schemas use) as an OpenAPI 3.0
    Schema Object; a ValueError for a keyword it cannot translate."""
    if node is True:
        return {}
    if not isinstance(node, dict):
        raise ValueError(f"not a schema: {node!r}")
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "properties":
            out[key] = {name: openapi_schema(sub) for name, sub in value.items()}
        elif key in ("items", "additionalProperties"):
            out[key] = value if isinstance(value, bool) else openapi_schema(value)
        elif key in ("anyOf", "oneOf", "allOf"):
            out[key] = [openapi_schema(sub) for sub in value]
        elif key == "const":
            out["enum"] = [value]
        elif key == "propertyNames":  # not in 3.0: shown, not enforced by tools
            out["x-propertyNames"] = value
        elif key == "required":
            if value:  # 3.0 wants at least one name
                out[key] = value
        elif key == "x-hint":
            out[key] = value
            out.setdefault("description", value)
        elif key in _KEPT or key.startswith("x-"):
            out[key] = value
        else:
            raise ValueError(f"{SOURCE}.schema.json uses {key!r}, which the OpenAPI document cannot state")
    types = out.get("type")
    return _split_types(out, types) if isinstance(types, list) else out


def _split_types(out: dict[str, Any], types: list[str]) -> dict[str, Any]:
    """``{"type": ["string", "number", "null"], ...}`` as an ``anyOf`` of one schema per
    type, each with the keywords of its type; ``null`` as ``nullable`` on each."""
    nullable = {"nullable": True} if "null" in types else {}
    members = [
        {"type": kind, **{k: v for k, v in out.items() if k in _TYPE_KEYWORDS[kind]}, **nullable}
        for kind in types
        if kind != "null"
    ]
    rest = {k: v for k, v in out.items() if k != "type" and k not in _OWNED}
    return {**rest, **members[0]} if len(members) == 1 else {**rest, "anyOf": members}


def _rules(source: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each event type's ``then`` of the source's ``allOf`` (``if type == t then ...``)."""
    return {rule["if"]["properties"]["type"]["const"]: rule["then"] for rule in source.get("allOf", [])}


def event_types() -> list[str]:
    """The event types the API accepts: the source's ``type`` enum (the catalogue)."""
    return list(schema_check.validator(SOURCE).schema["properties"]["type"]["enum"])


def components() -> dict[str, dict[str, Any]]:
    """Every schema component: ``EventData.<t>``, ``HisEvent.<t>`` and ``HisEventByType``."""
    source = schema_check.validator(SOURCE).schema
    rules = _rules(source)
    out: dict[str, dict[str, Any]] = {}
    mapping: dict[str, str] = {}
    for kind in event_types():
        then = rules.get(kind, {})
        data = then.get("properties", {}).get("data", {"type": "object"})
        out[data_name(kind)] = {
            **openapi_schema(data),
            "description": f"`data` of an event of type `{kind}` ({SOURCE}.schema.json)",
        }
        specific: dict[str, Any] = {
            "type": "object",
            "properties": {
                "type": {"type": "string", "enum": [kind]},
                "data": {"$ref": f"#/components/schemas/{data_name(kind)}"},
            },
        }
        if "data" in then.get("required", []):
            specific["required"] = ["data"]
        out[schema_name(kind)] = {
            "title": kind,
            "allOf": [{"$ref": f"#/components/schemas/{ENVELOPE}"}, specific],
        }
        mapping[kind] = f"#/components/schemas/{schema_name(kind)}"
    out[BY_TYPE] = {
        "description": "One HIS event; `type` chooses the shape of `data`. The envelope is "
        f"`{ENVELOPE}`; each type's `data` is `EventData.<type>`.",
        "oneOf": [{"$ref": ref} for ref in mapping.values()],
        "discriminator": {"propertyName": "type", "mapping": mapping},
    }
    return out
