"""``/api/v1/pregnancies/<id>/inbox``: her in-app inbox for the mini-program / H5 backend.

The backend signs with its hospital's key like every integrator (``auth.py``); it lists one
pregnancy's items, newest first, with the unread count, and marks an item read when she opens
it (idempotent). Another hospital's pregnancy or item is ``404``; every call is audited.
"""

from __future__ import annotations

from typing import Any

from flask import current_app, g
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import RAISE, Schema, fields, validate

from carepath.store import inbox
from carepath.webapi.auth import require_integrator

blp = Blueprint(
    "inbox",
    __name__,
    url_prefix="/api/v1/pregnancies",
    description="Her in-app inbox: the full text of every item, and read marks.",
)

_SIGNED = {"security": [{"carepath-hmac": []}]}


class InboxQuerySchema(Schema):
    class Meta:
        unknown = RAISE

    limit = fields.Integer(load_default=20, validate=validate.Range(1, 200))
    offset = fields.Integer(load_default=0, validate=validate.Range(0, 10**9))
    unread = fields.Boolean(
        load_default=False, metadata={"description": "true: only the items she has not read"}
    )


class InboxItemSchema(Schema):
    id = fields.Integer()
    pregnancy = fields.String()
    kind = fields.String(metadata={"description": "remind, questionnaire, push ..."})
    title = fields.String()
    summary = fields.String()
    body = fields.String(metadata={"description": "the full text (Markdown)"})
    link = fields.String(allow_none=True)
    filed_at = fields.String()
    read_at = fields.String(allow_none=True)


class InboxPageSchema(Schema):
    items = fields.List(fields.Nested(InboxItemSchema))
    total = fields.Integer(metadata={"description": "items matching the query"})
    unread = fields.Integer(metadata={"description": "unread items in her whole inbox"})
    limit = fields.Integer()
    offset = fields.Integer()


@blp.route("/<pregnancy_id>/inbox")
class InboxView(MethodView):
    @require_integrator
    @blp.arguments(InboxQuerySchema, location="query", as_kwargs=True, unknown=RAISE)
    @blp.response(200, InboxPageSchema)
    @blp.alt_response(404, description="pregnancy-not-found (also another hospital's)")
    @blp.doc(**_SIGNED)
    def get(self, pregnancy_id: str, *, limit: int, offset: int, unread: bool) -> Any:
        """One pregnancy's inbox, newest first, with the unread count (audited)."""
        return inbox.list_inbox(
            current_app.extensions["carepath.db"],
            g.actor,
            pregnancy_id,
            current_app.config["CLOCK"](),
            limit=limit,
            offset=offset,
            unread_only=unread,
        )


@blp.route("/<pregnancy_id>/inbox/<int:item_id>/read")
class ReadView(MethodView):
    @require_integrator
    @blp.response(200, InboxItemSchema)
    @blp.alt_response(404, description="pregnancy-not-found or inbox-item-not-found")
    @blp.doc(**_SIGNED)
    def post(self, pregnancy_id: str, item_id: int) -> Any:
        """Mark the item read (again: no change, the first read time stays)."""
        return inbox.mark_read(
            current_app.extensions["carepath.db"],
            g.actor,
            pregnancy_id,
            item_id,
            current_app.config["CLOCK"](),
        )
