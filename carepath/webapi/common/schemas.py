"""Schemas every audience's answers share: a problem (RFC 9457) as carepath sends it
(``problems.py``), documented in the OpenAPI document's error answers."""

from __future__ import annotations

from marshmallow import INCLUDE, Schema, fields

PROBLEM_JSON = "application/problem+json"


class ProblemFieldSchema(Schema):
    path = fields.String(metadata={"description": "the failing field, dotted"})
    code = fields.String()
    message = fields.String()
    reason = fields.String(
        metadata={
            "description": "id-number-invalid: which rule failed (check-digit, date, first-generation ...)"
        }
    )
    id_type = fields.String(metadata={"description": "id-number-invalid: the document it was checked as"})
    message_zh = fields.String(metadata={"description": "id-number-invalid: the message in Chinese"})


class ProblemSchema(Schema):
    """Every error answer (RFC 9457); some carry more members (``claimed_by``, ``missing`` ...)."""

    class Meta:
        unknown = INCLUDE  # documented as open: problems may add members

    type = fields.String(required=True)
    title = fields.String(required=True)
    status = fields.Integer(required=True)
    code = fields.String(required=True, metadata={"description": "stable, e.g. task-claimed"})
    detail = fields.String(required=True)
    errors = fields.List(fields.Nested(ProblemFieldSchema))
