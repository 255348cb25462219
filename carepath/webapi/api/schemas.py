"""marshmallow schemas: the envelope checked strictly here, ``data`` by his-event.schema.json."""

from __future__ import annotations

from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from carepath.engine.identity import DEFAULT_ID_TYPE, ID_TYPES

ID_PATTERN = r"^[A-Za-z0-9._:-]+$"


def text(limit: int) -> list[validate.Validator]:
    """A free-text field of 1 to ``limit`` characters; over the limit is ``too-long``."""
    return [validate.Length(min=1), validate.Length(max=limit)]


class StrictSchema(Schema):
    class Meta:
        unknown = RAISE


class PatientRefSchema(StrictSchema):
    his_id = fields.String(validate=[validate.Length(1, 64), validate.Regexp(ID_PATTERN)])
    id_number = fields.String(  # its length too is checked by the rules of id_type (store)
        metadata={
            "description": "her identity document's number; checked by the rules of id_type "
            "(resident: GB 11643-1999, its date and check character): id-number-invalid with a reason"
        },
    )
    id_type = fields.String(
        validate=validate.OneOf(ID_TYPES),
        metadata={"description": f"which document id_number is of (default {DEFAULT_ID_TYPE})"},
    )
    phone = fields.String(validate=validate.Length(6, 16))
    name = fields.String(validate=text(40))
    pregnancy = fields.String(validate=[validate.Length(1, 64), validate.Regexp(ID_PATTERN)])

    @validates_schema
    def _identified(self, data: dict[str, Any], **_kwargs: Any) -> None:
        if not (data.get("his_id") or data.get("id_number")):
            raise ValidationError("give his_id, id_number or both", "his_id")


class HisEventSchema(StrictSchema):
    id = fields.String(required=True, validate=[validate.Length(1, 128), validate.Regexp(ID_PATTERN)])
    type = fields.String(required=True, validate=validate.Length(1, 40))
    occurred_at = fields.AwareDateTime(required=True, format="iso")
    patient = fields.Nested(PatientRefSchema, required=True)
    data = fields.Dict(keys=fields.String(), load_default=dict)


class BatchSchema(StrictSchema):
    events = fields.List(
        fields.Raw(),
        required=True,
        validate=validate.Length(1, 1000),
        metadata={
            "description": "events as POST /api/v1/events takes them (HisEventByType); one that "
            "does not fit is answered in its place (status 422), the others still processed"
        },
    )


class ActionSchema(Schema):
    id = fields.Integer()
    pathway = fields.String()
    version = fields.String()
    rule = fields.String()
    action = fields.String(metadata={"description": "push, questionnaire, remind, task, tag, risk, enroll"})
    at = fields.String(metadata={"description": "ISO 8601 with offset"})
    status = fields.String(metadata={"description": "due (the dispatcher sends it) or applied"})
    dedupe_key = fields.String()


class CancelledSchema(Schema):
    dedupe_key = fields.String()
    status = fields.String()


class WarningSchema(Schema):
    code = fields.String(
        metadata={
            "description": "icd10-unknown: a code no WHO ICD-10 code is known for; id-number-male: her "
            "ID number is a man's (her partner's?); id-number-birth-date-mismatch: data.birth_date "
            "is not the ID number's; repeat: a diagnosis already active, a tag she has or a medication "
            "she takes, recorded "
            "but no rule fired again; already-enrolled, not-enrolled, exit-condition-holds: a "
            "staff request (plan.enrol_requested, plan.end_requested) that changed nothing"
        }
    )
    icd10 = fields.String()
    pathway = fields.String(metadata={"description": "the pathway a staff request named"})
    medication = fields.String(metadata={"description": "a repeat prescription's medication code"})
    message = fields.String()
    message_zh = fields.String(
        metadata={"description": "the message in Chinese (ID number and repeat warnings)"}
    )


class EventAnswerSchema(Schema):
    event = fields.String()
    patient = fields.String(allow_none=True)
    pregnancy = fields.String()
    actions = fields.List(fields.Nested(ActionSchema))
    cancelled = fields.List(fields.Nested(CancelledSchema))
    next_wakeup = fields.String(allow_none=True)
    warnings = fields.List(
        fields.Nested(WarningSchema),
        metadata={"description": "what was accepted but needs a look: the event is recorded"},
    )


class BatchItemSchema(Schema):
    index = fields.Integer()
    status = fields.Integer()
    result = fields.Nested(EventAnswerSchema)
    problem = fields.Dict()


class BatchAnswerSchema(Schema):
    results = fields.List(fields.Nested(BatchItemSchema))


class MaskedPatientSchema(Schema):
    id = fields.Integer()
    hospital = fields.String()
    his_id = fields.String(allow_none=True)
    name = fields.String(allow_none=True, metadata={"description": "family name only"})
    id_number = fields.String(allow_none=True, metadata={"description": "masked: 3301**********180X"})
    phone = fields.String(allow_none=True, metadata={"description": "masked: 138****5678"})


_ENVELOPE = HisEventSchema()  # one instance: building a schema costs more than validating


def envelope_problems(raw: Any) -> list[dict[str, str]]:
    """Field problems of the envelope (strict types, unknown keys refused)."""
    if not isinstance(raw, dict):
        return [{"path": "", "code": "type-mismatch", "message": "an event is a JSON object"}]
    return field_problems(_ENVELOPE.validate(raw))


#: marshmallow's messages (up to " maximum ") that have a code of their own; the rest are ``invalid``.
_CODES = {"Unknown field.": "unknown-key", "Longer than": "too-long"}


def field_problems(messages: Any) -> list[dict[str, str]]:
    """marshmallow's messages as ``{path, code, message}``, one per failing field."""
    out: list[dict[str, str]] = []

    def walk(node: Any, path: tuple[str, ...]) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                walk(value, (*path, str(key)))
        elif isinstance(node, list):
            for message in node:
                if isinstance(message, dict | list):
                    walk(message, path)
                else:
                    code = _CODES.get(str(message).split(" maximum ")[0], "invalid")
                    out.append({"path": ".".join(path), "code": code, "message": str(message)})

    walk(messages, ())
    return out
