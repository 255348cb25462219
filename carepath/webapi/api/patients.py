"""``GET /api/v1/patients``: the hospital's patients, masked; every read audited."""

from __future__ import annotations

from typing import Any

from flask import current_app, g, request
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from carepath.store import patients
from carepath.webapi.api.schemas import MaskedPatientSchema
from carepath.webapi.auth import require_integrator
from carepath.webapi.common.problems import ApiProblemError

blp = Blueprint("patients", __name__, url_prefix="/api/v1", description="Patients, masked.")


class PatientActionSchema(Schema):
    id = fields.Integer()
    pathway = fields.String()
    rule = fields.String()
    action = fields.String()
    at = fields.String()
    status = fields.String()
    why = fields.String()


class PatientPregnancySchema(Schema):
    id = fields.String()
    number = fields.Integer()
    his_pregnancy_id = fields.String(allow_none=True)
    status = fields.String()
    tags = fields.List(fields.String())
    icd10 = fields.List(fields.String())
    risk_colour = fields.String(allow_none=True)
    risk_colour_status = fields.String(
        allow_none=True,
        metadata={
            "description": "suggested (by a rule, shown as 待确认) or confirmed (by a clinician)",
            "enum": ["suggested", "confirmed"],
        },
    )
    next_wakeup = fields.String(allow_none=True)
    actions = fields.List(fields.Nested(PatientActionSchema))


class PatientRecordSchema(MaskedPatientSchema):
    pregnancies = fields.List(fields.Nested(PatientPregnancySchema))


def _int_arg(name: str, default: int, high: int) -> int:
    text = request.args.get(name, str(default))
    if not text.isdigit() or not 0 <= int(text) <= high:
        raise ApiProblemError(400, "bad-query", f"{name} must be a whole number from 0 to {high}")
    return int(text)


@blp.route("/patients")
class PatientsView(MethodView):
    @require_integrator
    @blp.response(200, MaskedPatientSchema(many=True))
    @blp.doc(security=[{"carepath-hmac": []}])
    def get(self) -> Any:
        """List patients (ID number, phone and name masked)."""
        db = current_app.extensions["carepath.db"]
        cipher = current_app.extensions["carepath.cipher"]
        limit, offset = _int_arg("limit", 100, 1000), _int_arg("offset", 0, 10**9)
        return patients.list_patients(
            db, cipher, g.actor, current_app.config["CLOCK"](), limit=limit, offset=offset
        )


@blp.route("/patients/<int(max=9223372036854775807):patient_id>")
class PatientView(MethodView):
    @require_integrator
    @blp.response(200, PatientRecordSchema)
    @blp.alt_response(404, description="patient-not-found")
    @blp.doc(security=[{"carepath-hmac": []}])
    def get(self, patient_id: int) -> Any:
        """One patient with her pregnancies and actions (masked)."""
        db = current_app.extensions["carepath.db"]
        cipher = current_app.extensions["carepath.cipher"]
        return patients.get_patient(db, cipher, g.actor, patient_id, current_app.config["CLOCK"]())
