"""``/api/v1/pregnancies``: staff search and one pregnancy's timeline; masked, every read audited.

The search is a ``POST`` with a JSON body although it changes nothing: names and ID numbers
never go into a URL, where proxies and access logs would keep them.
"""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from carepath.store import search, timeline
from carepath.webapi.api.schemas import MaskedPatientSchema
from carepath.webapi.api.staff import STAFF_DOC, services, staff_actor
from carepath.webapi.auth.permissions import require_staff
from carepath.webapi.common.jsonbody import StrictJsonParser

blp = Blueprint(
    "pregnancies",
    __name__,
    url_prefix="/api/v1/pregnancies",
    description="Staff search over pregnancies and one pregnancy's timeline (masked, audited).",
)
blp.ARGUMENTS_PARSER = StrictJsonParser()  # the search's JSON body: no NUL, no duplicate key

RISK_COLOURS = ("green", "yellow", "orange", "red")
PREGNANCY_STATUSES = ("pregnant", "delivered", "ended")
NAME_RULE = validate.Regexp(r"^\S(.*\S)?$", error="a name without leading or trailing spaces")


class SearchSchema(Schema):
    class Meta:
        unknown = RAISE

    name = fields.String(
        validate=[validate.Length(1, 40), NAME_RULE],
        metadata={"description": "her full name (exact) or its beginning (name_mode prefix)"},
    )
    name_mode = fields.String(
        load_default="exact",
        validate=validate.OneOf(("exact", "prefix")),
        metadata={
            "description": "exact: through the name's keyed hash (an index probe); prefix: opens at "
            "most 5,000 sealed names left by the other filters (name-search-too-broad beyond)"
        },
    )
    phone_last4 = fields.String(
        validate=validate.Regexp(r"^[0-9]{4}$", error="the last four digits of her phone"),
        metadata={"description": "her phone's last four digits; only with name (phone-needs-name)"},
    )
    his_id = fields.String(validate=validate.Length(1, 64))
    id_number = fields.String(
        validate=[validate.Length(5, 20), validate.Regexp(r"^[0-9A-Za-z]+$")],
        metadata={"description": "matched through its keyed hash, never in clear"},
    )
    source = fields.String(
        validate=validate.Length(1, 16),
        metadata={"description": "the code of the source (QR code, poster) she registered through"},
    )
    tag = fields.String(validate=validate.Length(1, 40), metadata={"description": "e.g. GDM管理中"})
    diagnosis = fields.String(
        validate=validate.Regexp(
            r"^[A-Za-z]([0-9]{1,2}(\.[0-9A-Za-z]{0,8})?)?$", error="an ICD-10 code or its beginning"
        ),
        metadata={
            "description": "an active diagnosis with this ICD-10 code or extending it: O24 finds O24.401"
        },
    )
    risk_colour = fields.String(validate=validate.OneOf(RISK_COLOURS))
    week_from = fields.Integer(
        validate=validate.Range(0, 45), metadata={"description": "completed weeks today, inclusive"}
    )
    week_to = fields.Integer(validate=validate.Range(0, 45), metadata={"description": "inclusive"})
    pathway = fields.String(
        validate=validate.Length(1, 64), metadata={"description": "enrolled in it now (open enrolment)"}
    )
    status = fields.String(validate=validate.OneOf(PREGNANCY_STATUSES))
    limit = fields.Integer(load_default=50, validate=validate.Range(1, 200))
    after = fields.String(
        validate=validate.Length(1, 80), metadata={"description": "the previous page's next cursor"}
    )

    @validates_schema
    def _weeks_in_order(self, data: dict[str, Any], **_kwargs: Any) -> None:
        if data.get("week_from", 0) > data.get("week_to", 45):
            raise ValidationError("week_from is after week_to", "week_from")
        if "phone_last4" in data and "name" not in data:
            raise ValidationError("the phone's last four digits need her name", "phone_last4")


class FoundSchema(Schema):
    pregnancy = fields.String()
    number = fields.Integer()
    his_pregnancy_id = fields.String(allow_none=True)
    status = fields.String()
    edd = fields.String(allow_none=True)
    gestational_age = fields.String(allow_none=True, metadata={"description": "today, e.g. 24+3"})
    gestational_week = fields.Integer(allow_none=True)
    risk_colour = fields.String(allow_none=True)
    risk_colour_status = fields.String(
        allow_none=True,
        metadata={
            "description": "suggested (by a rule, shown as 待确认) or confirmed (by a clinician)",
            "enum": ["suggested", "confirmed"],
        },
    )
    tags = fields.List(fields.String())
    pathways = fields.List(fields.String(), metadata={"description": "enrolled now"})
    patient = fields.Nested(MaskedPatientSchema)


class SearchPageSchema(Schema):
    items = fields.List(fields.Nested(FoundSchema))
    next = fields.String(allow_none=True, metadata={"description": "give as after for the next page"})


class DiagnosisSchema(Schema):
    code = fields.String()
    name = fields.String(allow_none=True)
    added_at = fields.String()


class GradeSchema(Schema):
    colour = fields.String()
    at = fields.String(allow_none=True)
    by = fields.String(
        metadata={"description": "the suggesting pathway/rule, or the confirming clinician; empty: unknown"}
    )
    note = fields.String(metadata={"description": "the rule's reason, or the clinician's note"})


class FactsSchema(Schema):
    edd = fields.String(allow_none=True)
    gestational_age = fields.String(allow_none=True)
    gestational_week = fields.Integer(allow_none=True)
    tags = fields.List(fields.String())
    risk_colour = fields.String(allow_none=True)
    risk_colour_status = fields.String(
        allow_none=True,
        metadata={
            "description": "suggested (by a rule, shown as 待确认) or confirmed (by a clinician)",
            "enum": ["suggested", "confirmed"],
        },
    )
    risk_grade = fields.Nested(GradeSchema, allow_none=True)
    icd10 = fields.List(fields.String())
    diagnoses = fields.List(fields.Nested(DiagnosisSchema))
    next_wakeup = fields.String(allow_none=True)


class EntrySchema(Schema):
    """One entry; ``kind`` says which of the other fields it carries."""

    at = fields.String(required=True)
    kind = fields.String(
        required=True, metadata={"description": "event, enrolment, tag, action, response or task"}
    )
    id = fields.Raw(metadata={"description": "event id (text), action, response or task id (number)"})
    type = fields.String()
    received_at = fields.String()
    data = fields.Dict()
    pathway = fields.String()
    version = fields.String()
    ended_at = fields.String(allow_none=True)
    reason = fields.String()
    tag = fields.String()
    operation = fields.String()
    by = fields.String()
    why = fields.String()
    rule = fields.String()
    action = fields.String()
    status = fields.String()
    status_reason = fields.String(allow_none=True)
    channel = fields.String(allow_none=True)
    attempts = fields.Integer()
    sent_at = fields.String(allow_none=True)
    next_attempt_at = fields.String(allow_none=True)
    provider_message_id = fields.String(allow_none=True)
    last_error = fields.String(allow_none=True)
    dead_reason = fields.String(allow_none=True)
    replaced_by = fields.String(allow_none=True)
    delivery = fields.Dict(allow_none=True, metadata={"description": "delivered/read receipts, when stored"})
    inbox_withdrawn_at = fields.String(
        metadata={"description": "her inbox copy was taken back (a congratulation after a lost baby)"}
    )
    inbox_withdrawn_reason = fields.String(allow_none=True, metadata={"description": "why: baby-lost"})
    form = fields.String()
    score = fields.Dict(allow_none=True)
    title = fields.String()
    assign = fields.String()
    priority = fields.String()
    due_at = fields.String(allow_none=True)
    claimed_by = fields.String(allow_none=True)
    outcome = fields.String(allow_none=True)
    done_at = fields.String(allow_none=True)


class TimelineSchema(Schema):
    pregnancy = fields.String()
    number = fields.Integer()
    his_pregnancy_id = fields.String(allow_none=True)
    status = fields.String()
    patient = fields.Nested(MaskedPatientSchema)
    facts = fields.Nested(FactsSchema)
    entries = fields.List(fields.Nested(EntrySchema))


@blp.route("/search")
class SearchView(MethodView):
    @require_staff("patient.read")
    @blp.arguments(SearchSchema, as_kwargs=True, unknown=RAISE)
    @blp.response(200, SearchPageSchema)
    @blp.alt_response(422, description="invalid-request, name-search-too-broad, unknown-source")
    @blp.doc(**STAFF_DOC)
    def post(self, **given: Any) -> Any:
        """Pregnancies matching every filter given, in a stable order; patients masked, audited."""
        actor = staff_actor()
        db, cipher, now = services()
        query = search.PregnancyQuery(**given)
        items, cursor = search.search(db, cipher, actor, query, now)
        return {"items": items, "next": cursor}


@blp.route("/<string:pregnancy_id>/timeline")
class TimelineView(MethodView):
    @require_staff("patient.read")
    @blp.response(200, TimelineSchema)
    @blp.alt_response(404, description="pregnancy-not-found")
    @blp.doc(**STAFF_DOC)
    def get(self, pregnancy_id: str) -> Any:
        """Her facts today and everything that happened in this pregnancy, oldest first (audited)."""
        actor = staff_actor()
        db, cipher, now = services()
        return timeline.timeline(db, cipher, actor, pregnancy_id, now)
