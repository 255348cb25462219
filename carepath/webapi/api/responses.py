"""``POST /api/v1/responses``: her answers to a form, from the mini-program backend or the HIS."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import current_app, g
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import ValidationError, fields, validate, validates_schema

from carepath.store import responses
from carepath.webapi.api.openapi_docs import json_request
from carepath.webapi.api.schemas import (
    ID_PATTERN,
    EventAnswerSchema,
    PatientRefSchema,
    StrictSchema,
    field_problems,
)
from carepath.webapi.auth import require_integrator
from carepath.webapi.common.jsonbody import json_body
from carepath.webapi.common.problems import ApiProblemError

blp = Blueprint(
    "responses",
    __name__,
    url_prefix="/api/v1",
    description="Questionnaire responses: validated against the form, scored, and raising "
    "questionnaire.submitted so that pathways react.",
)


class ResponseSchema(StrictSchema):
    id = fields.String(
        required=True,
        validate=[validate.Length(1, 119), validate.Regexp(ID_PATTERN)],
        metadata={"description": "yours, unique per integrator (a retry sends the same id and body)"},
    )
    form = fields.String(
        required=True,
        validate=[validate.Length(1, 64), validate.Regexp(r"^[a-z0-9]+(-[a-z0-9]+)*$")],
        metadata={"description": "a form of the library, e.g. epds"},
    )
    submitted_at = fields.AwareDateTime(required=True, format="iso")
    answers = fields.Dict(
        keys=fields.String(validate=validate.Length(1, 64)),
        required=True,
        metadata={
            "description": "item id -> answer: a choice value, a list of them, a number, text or a date"
        },
    )
    pregnancy = fields.String(
        validate=validate.Length(1, 80), metadata={"description": "carepath's pregnancy id, or give patient"}
    )
    patient = fields.Nested(PatientRefSchema, metadata={"description": "her HIS id (and HIS pregnancy id)"})

    @validates_schema
    def _one_way_to_name_her(self, data: dict[str, Any], **_kwargs: Any) -> None:
        if ("pregnancy" in data) == ("patient" in data):
            raise ValidationError("give either pregnancy (carepath's id) or patient", "pregnancy")


class ScoreSchema(StrictSchema):
    total = fields.Float(allow_none=True)
    max_total = fields.Float(allow_none=True)
    complete = fields.Boolean()
    band = fields.String(allow_none=True)
    band_label = fields.String(allow_none=True)
    flags = fields.List(fields.String())


class ResponseAnswerSchema(EventAnswerSchema):
    response = fields.String()
    form = fields.String()
    score = fields.Nested(ScoreSchema)


_ENVELOPE = ResponseSchema()


@blp.route("/responses")
class ResponsesView(MethodView):
    @require_integrator
    @blp.doc(
        **json_request(ResponseSchema),
        security=[{"carepath-hmac": []}],
    )
    @blp.response(
        201, ResponseAnswerSchema, description="recorded now: its score and the actions it produced"
    )
    @blp.alt_response(
        200, schema=ResponseAnswerSchema, description="the same response again: the same answer"
    )
    @blp.alt_response(409, description="response-conflict: the same id with a different body")
    @blp.alt_response(
        422,
        description="invalid-response (errors: answers.<item> with required, unknown-item, invalid-answer; "
        "form with unknown-form), unknown-patient, unknown-pregnancy",
    )
    def post(self) -> Any:
        """Post one questionnaire response."""
        raw = json_body()
        if not isinstance(raw, dict):
            raise ApiProblemError(422, "invalid-response", "a response is a JSON object")
        errors = field_problems(_ENVELOPE.validate(raw))
        if errors:
            raise ApiProblemError(
                422, "invalid-response", f"{errors[0]['path']}: {errors[0]['message']}", errors
            )
        patient = raw.get("patient") or {}
        given = responses.ResponseInput(
            id=raw["id"],
            form=raw["form"],
            submitted_at=datetime.fromisoformat(raw["submitted_at"]),
            answers={k: v for k, v in raw["answers"].items() if v is not None},  # null: unanswered
            raw=raw,
            pregnancy=raw.get("pregnancy"),
            his_id=patient.get("his_id"),
            id_number=patient.get("id_number"),
            id_type=patient.get("id_type"),
            his_pregnancy=patient.get("pregnancy"),
        )
        db = current_app.extensions["carepath.db"]
        cipher = current_app.extensions["carepath.cipher"]
        answer = responses.post_response(db, cipher, g.actor, given, current_app.config["CLOCK"]())
        return answer.body, answer.status
