"""``/api/v1/consents`` and ``/api/v1/bindings``: her consents and channel bindings, as the
mini-program backend or the HIS records them.

Consent is per channel and topic with the notice version she saw and how it was given (PIPL
art. 29 asks for a separate opt-in to health information: channel ``*``, topic
``health-information``); withdrawing is one call and stops external messages at the
dispatcher's next claim. Bindings: an openid per WeChat official account (``wechat_oa``) or
mini program (``wechat_mp``), and her phone (sealed). She is named by ``his_id`` or
``patient_id`` and found only in the signing key's hospital; every change and read is audited.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import current_app, g
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from carepath.store import consents
from carepath.store.event_input import FUTURE_TOLERANCE
from carepath.webapi.api.openapi_docs import json_request
from carepath.webapi.api.schemas import ID_PATTERN, StrictSchema, field_problems
from carepath.webapi.auth import require_integrator
from carepath.webapi.common.jsonbody import json_body
from carepath.webapi.common.problems import ApiProblemError

blp = Blueprint(
    "consents",
    __name__,
    url_prefix="/api/v1",
    description="Her consents (per channel and topic) and channel bindings (WeChat openids, phone).",
)

_SIGNED = {"security": [{"carepath-hmac": []}]}
TOPIC_PATTERN = r"^(\*|[a-z0-9]+(-[a-z0-9]+)*)$"
SOURCE_PATTERN = r"^[a-z0-9][a-z0-9:_-]{0,39}$"
KINDS = tuple(consents.BINDING_ADAPTERS)


class HerSchema(StrictSchema):
    """Names her: exactly one of ``his_id`` and ``patient_id``."""

    his_id = fields.String(validate=[validate.Length(1, 64), validate.Regexp(ID_PATTERN)])
    patient_id = fields.Integer(validate=validate.Range(1, 2**62), strict=True)

    @validates_schema
    def _one_of(self, data: dict[str, Any], **_kwargs: Any) -> None:
        if ("his_id" in data) == ("patient_id" in data):
            raise ValidationError("give his_id or patient_id (one of them)", "his_id")


class ConsentInSchema(HerSchema):
    channel = fields.String(
        required=True,
        validate=validate.OneOf(consents.CONSENT_CHANNELS),
        metadata={"description": "an external channel, or * (health-information, or a topic everywhere)"},
    )
    topic = fields.String(
        required=True,
        validate=[validate.Length(1, 64), validate.Regexp(TOPIC_PATTERN)],
        metadata={"description": "health-information, * (all messages of the channel) or a content/form id"},
    )
    granted = fields.Boolean(
        load_default=True,
        metadata={"description": "false: she turned this topic off (never * or health-information)"},
    )
    notice_version = fields.String(required=True, validate=validate.Length(1, 40))
    source = fields.String(
        required=True,
        validate=validate.Regexp(SOURCE_PATTERN),
        metadata={"description": "how it was given: mini-program, paper, his, staff:<id>"},
    )
    given_at = fields.AwareDateTime(format="iso", metadata={"description": "default: now"})
    pregnancy = fields.String(
        validate=validate.Length(1, 80), metadata={"description": "only for this pregnancy (default: all)"}
    )

    @validates_schema
    def _meaningful(self, data: dict[str, Any], **_kwargs: Any) -> None:
        topic, channel = data.get("topic"), data.get("channel")
        if topic == consents.HEALTH_INFORMATION and channel != consents.ANY:
            raise ValidationError("the health-information opt-in is given for channel *", "channel")
        if topic == consents.ANY and channel == consents.ANY:
            raise ValidationError("consent to all messages is given per channel; name the channel", "channel")
        if data.get("granted") is False and topic in (consents.ANY, consents.HEALTH_INFORMATION):
            raise ValidationError("to take this back, withdraw it (DELETE /api/v1/consents)", "granted")


class ConsentQuerySchema(HerSchema):
    class Meta:
        unknown = RAISE

    patient_id = fields.Integer(validate=validate.Range(1, 2**62))  # text in a query string

    channel = fields.String(validate=validate.OneOf(consents.CONSENT_CHANNELS))
    topic = fields.String(validate=[validate.Length(1, 64), validate.Regexp(TOPIC_PATTERN)])


class BindingInSchema(HerSchema):
    kind = fields.String(required=True, validate=validate.OneOf(KINDS))
    account = fields.String(
        validate=[validate.Length(1, 64), validate.Regexp(r"^[A-Za-z0-9_-]+$")],
        metadata={"description": "the appid of the official account or mini program; none for a phone"},
    )
    value = fields.String(
        required=True,
        validate=validate.Length(1, 128),
        metadata={"description": "the openid, or her mobile number (stored sealed)"},
    )

    @validates_schema
    def _fits_kind(self, data: dict[str, Any], **_kwargs: Any) -> None:
        kind, value = data.get("kind"), data.get("value") or ""
        if kind == "phone":
            if "account" in data:
                raise ValidationError("a phone binding has no account", "account")
            if not validate.Regexp(r"^\+?[0-9]{6,15}$").regex.match(value):
                raise ValidationError("a mobile number: 6 to 15 digits, optionally after +", "value")
        elif kind in KINDS:
            if "account" not in data:
                raise ValidationError("the appid this openid belongs to", "account")
            if not validate.Regexp(r"^[A-Za-z0-9_-]{6,128}$").regex.match(value):
                raise ValidationError("an openid: 6 to 128 letters, digits, _ or -", "value")


class BindingQuerySchema(HerSchema):
    class Meta:
        unknown = RAISE

    patient_id = fields.Integer(validate=validate.Range(1, 2**62))  # text in a query string

    kind = fields.String(required=True, validate=validate.OneOf(KINDS))
    account = fields.String(load_default="", validate=validate.Length(0, 64))


class ConsentSchema(Schema):
    id = fields.Integer()
    channel = fields.String()
    topic = fields.String()
    granted = fields.Boolean()
    pregnancy = fields.String(allow_none=True)
    notice_version = fields.String()
    source = fields.String()
    given_at = fields.String()
    withdrawn_at = fields.String(allow_none=True)


class BindingSchema(Schema):
    kind = fields.String()
    account = fields.String()
    value = fields.String(metadata={"description": "masked: 138****5678, or the openid's first 6"})
    bound_at = fields.String()


class RefusedSchema(Schema):
    channel = fields.String()
    topic = fields.String()


class CurrentSchema(Schema):
    patient = fields.Integer()
    his_id = fields.String(allow_none=True)
    health_information = fields.Boolean(metadata={"description": "the separate PIPL art. 29 opt-in"})
    channels = fields.List(fields.String(), metadata={"description": "external channels she allows"})
    refused_topics = fields.List(fields.String())
    refused = fields.List(fields.Nested(RefusedSchema))
    consents = fields.List(fields.Nested(ConsentSchema))
    bindings = fields.List(fields.Nested(BindingSchema))


class WithdrawnSchema(Schema):
    withdrawn = fields.Integer()


class UnboundSchema(Schema):
    unbound = fields.Integer()


def _body(schema: Schema, code: str) -> dict[str, Any]:
    raw = json_body()
    if not isinstance(raw, dict):
        raise ApiProblemError(422, code, "the body is a JSON object")
    errors = field_problems(schema.validate(raw))
    if errors:
        raise ApiProblemError(422, code, f"{errors[0]['path']}: {errors[0]['message']}", errors)
    return raw


def _her(data: dict[str, Any]) -> consents.PatientRef:
    return consents.PatientRef(patient_id=data.get("patient_id"), his_id=data.get("his_id"))


def _services() -> tuple[Any, Any, datetime]:
    return (
        current_app.extensions["carepath.db"],
        current_app.extensions["carepath.cipher"],
        current_app.config["CLOCK"](),
    )


_CONSENT_IN = ConsentInSchema()
_BINDING_IN = BindingInSchema()


@blp.route("/consents")
class ConsentsView(MethodView):
    @require_integrator
    @blp.arguments(ConsentQuerySchema, location="query", as_kwargs=True, unknown=RAISE)
    @blp.response(200, CurrentSchema)
    @blp.alt_response(404, description="patient-not-found (in your hospital)")
    @blp.doc(**_SIGNED)
    def get(self, **query: Any) -> Any:
        """Her current consents, what they allow, and her bindings (masked). The read is audited."""
        db, cipher, now = _services()
        return consents.current(db, cipher, g.actor, _her(query), now)

    @require_integrator
    @blp.doc(
        **json_request(ConsentInSchema),
        **_SIGNED,
    )
    @blp.response(
        201, ConsentSchema, description="recorded (an earlier word on this channel and topic withdrawn)"
    )
    @blp.alt_response(200, schema=ConsentSchema, description="the same word again: nothing changed")
    @blp.alt_response(404, description="patient-not-found (in your hospital)")
    @blp.alt_response(422, description="invalid-consent: errors lists each field")
    def post(self) -> Any:
        """Record a consent given, or a topic she turned off (``granted: false``)."""
        raw = _body(_CONSENT_IN, "invalid-consent")
        db, _, now = _services()
        at = datetime.fromisoformat(raw["given_at"]) if "given_at" in raw else now
        if at > now + FUTURE_TOLERANCE:
            raise ApiProblemError(
                422,
                "invalid-consent",
                "given_at is in the future",
                [
                    {
                        "path": "given_at",
                        "code": "future-time",
                        "message": "given_at is after the server's clock",
                    }
                ],
            )
        body, changed = consents.give(
            db,
            g.actor,
            _her(raw),
            channel=raw["channel"],
            topic=raw["topic"],
            granted=raw.get("granted", True),
            notice_version=raw["notice_version"],
            source=raw["source"],
            at=at,
            now=now,
            pregnancy_id=raw.get("pregnancy"),
        )
        return body, 201 if changed else 200

    @require_integrator
    @blp.arguments(ConsentQuerySchema, location="query", as_kwargs=True, unknown=RAISE)
    @blp.response(200, WithdrawnSchema)
    @blp.alt_response(404, description="patient-not-found (in your hospital)")
    @blp.doc(**_SIGNED)
    def delete(self, **query: Any) -> Any:
        """Withdraw her consents: all, or one channel and/or topic. Effective at once."""
        db, _, now = _services()
        count = consents.withdraw(
            db, g.actor, _her(query), now=now, channel=query.get("channel"), topic=query.get("topic")
        )
        return {"withdrawn": count}


@blp.route("/bindings")
class BindingsView(MethodView):
    @require_integrator
    @blp.doc(
        **json_request(BindingInSchema),
        **_SIGNED,
    )
    @blp.response(
        201, BindingSchema, description="bound (an earlier binding of this kind and account replaced)"
    )
    @blp.alt_response(200, schema=BindingSchema, description="the same binding again: nothing changed")
    @blp.alt_response(404, description="patient-not-found (in your hospital)")
    @blp.alt_response(422, description="invalid-binding: errors lists each field")
    def put(self) -> Any:
        """Bind her on a channel: an openid per WeChat account, or her phone."""
        raw = _body(_BINDING_IN, "invalid-binding")
        db, cipher, now = _services()
        body, changed = consents.put_binding(
            db,
            cipher,
            g.actor,
            _her(raw),
            kind=raw["kind"],
            account=raw.get("account", ""),
            value=raw["value"],
            now=now,
        )
        return body, 201 if changed else 200

    @require_integrator
    @blp.arguments(BindingQuerySchema, location="query", as_kwargs=True, unknown=RAISE)
    @blp.response(200, UnboundSchema)
    @blp.alt_response(404, description="patient-not-found (in your hospital)")
    @blp.doc(**_SIGNED)
    def delete(self, **query: Any) -> Any:
        """Unbind her on one channel (kind and account); effective at the next claim."""
        db, _, now = _services()
        count = consents.delete_binding(
            db, g.actor, _her(query), kind=query["kind"], account=query["account"], now=now
        )
        return {"unbound": count}
