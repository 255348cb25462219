"""``GET /api/v1/pathways``: the hospital's library, built-in and its own, with every version."""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from carepath.store import pathways
from carepath.webapi.api.staff import STAFF_DOC, staff_actor
from carepath.webapi.auth.permissions import require_staff

blp = Blueprint(
    "pathways",
    __name__,
    url_prefix="/api/v1/pathways",
    description="Pathways and their versions (built-in and the hospital's own).",
)


class VersionSchema(Schema):
    version = fields.String()
    origin = fields.String(metadata={"description": "built-in or hospital"})
    title = fields.String()
    status = fields.String(metadata={"description": "draft, in-review, published or retired"})
    current = fields.Boolean(metadata={"description": "the version new enrolments start on"})
    author = fields.String()
    reviewer = fields.String(allow_none=True)
    created_at = fields.String()
    published_at = fields.String(allow_none=True)


class PathwaySchema(Schema):
    id = fields.String()
    title = fields.String()
    versions = fields.List(fields.Nested(VersionSchema))


@blp.route("")
class PathwaysView(MethodView):
    @require_staff("pathway.read")
    @blp.response(200, PathwaySchema(many=True))
    @blp.doc(**STAFF_DOC)
    def get(self) -> Any:
        """Every pathway of the hospital's library with its versions, oldest version first."""
        actor = staff_actor()
        with current_app.extensions["carepath.db"].reading() as session:
            return pathways.list_versions(session, actor.hospital_id)
