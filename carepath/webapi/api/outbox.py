"""``/api/v1/outbox``: the hospital's actions for staff, filtered and paged, and their export.

The export (``/api/v1/outbox/export?format=csv|xlsx``) carries the push records of the filter
with the patient masked; CSV streams as it is read, XLSX is written to a temporary file in
write-only mode and then streamed, so memory stays bounded either way. One audit entry per
export names its filter and its row count.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from flask import Response, stream_with_context
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from carepath.store import outbox_read
from carepath.webapi.api import exports
from carepath.webapi.api.pregnancies import EntrySchema
from carepath.webapi.api.schemas import MaskedPatientSchema
from carepath.webapi.api.staff import STAFF_DOC, services, staff_actor
from carepath.webapi.auth.permissions import require_staff
from carepath.webapi.common.problems import ApiProblemError

blp = Blueprint(
    "outbox",
    __name__,
    url_prefix="/api/v1/outbox",
    description="The outbox: what pathways decided and how delivery went (masked, audited).",
)


class OutboxFilterSchema(Schema):
    class Meta:
        unknown = RAISE

    status = fields.String(validate=validate.OneOf(outbox_read.STATUSES))
    channel = fields.String(
        validate=validate.Length(1, 40), metadata={"description": "the channel of the last attempt"}
    )
    pathway = fields.String(validate=validate.Length(1, 64))
    pregnancy = fields.String(validate=validate.Length(1, 80))
    due_from = fields.AwareDateTime(format="iso", metadata={"description": "due at or after"})
    due_to = fields.AwareDateTime(format="iso", metadata={"description": "due before"})

    @validates_schema
    def _range_in_order(self, data: dict[str, Any], **_kwargs: Any) -> None:
        if data.get("due_from") and data.get("due_to") and data["due_from"] > data["due_to"]:
            raise ValidationError("due_from is after due_to", "due_from")


class OutboxQuerySchema(OutboxFilterSchema):
    limit = fields.Integer(load_default=100, validate=validate.Range(1, 1000))
    after = fields.Integer(
        validate=validate.Range(0, 2**62), metadata={"description": "the previous page's next cursor"}
    )


class ExportQuerySchema(OutboxFilterSchema):
    format = fields.String(load_default="csv", validate=validate.OneOf(("csv", "xlsx")))


class OutboxItemSchema(EntrySchema):
    pregnancy = fields.String()
    patient = fields.Nested(MaskedPatientSchema)


class OutboxPageSchema(Schema):
    items = fields.List(fields.Nested(OutboxItemSchema))
    next = fields.Integer(allow_none=True, metadata={"description": "give as after for the next page"})


@blp.route("")
class OutboxView(MethodView):
    @require_staff("patient.read")
    @blp.arguments(OutboxQuerySchema, location="query", as_kwargs=True, unknown=RAISE)
    @blp.response(200, OutboxPageSchema)
    @blp.doc(**STAFF_DOC)
    def get(self, **given: Any) -> Any:
        """The hospital's actions in id order, filters combined; patients masked, reads audited."""
        actor = staff_actor()
        db, cipher, now = services()
        items, cursor = outbox_read.list_outbox(db, cipher, actor, outbox_read.OutboxQuery(**given), now)
        return {"items": items, "next": cursor}


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_FILE_RESPONSE = {
    "description": "the push records as a file, patients masked (format csv or xlsx)",
    "content": {
        "text/csv": {"schema": {"type": "string"}},
        XLSX: {"schema": {"type": "string", "format": "binary"}},
    },
}


@blp.route("/export")
class ExportView(MethodView):
    @require_staff("export")
    @blp.arguments(ExportQuerySchema, location="query", as_kwargs=True, unknown=RAISE)
    @blp.response(200, description="the push records as a file (masked)")
    @blp.alt_response(422, description="invalid-request, or export-too-large (XLSX)")
    @blp.doc(responses={"200": _FILE_RESPONSE}, **STAFF_DOC)
    def get(self, **given: Any) -> Any:
        """Push records of the filter as CSV (UTF-8 with BOM) or XLSX; one audit entry each."""
        actor = staff_actor()
        db, cipher, now = services()
        file_format = given.pop("format")
        query = outbox_read.OutboxQuery(**given)
        header = [title for title, _ in outbox_read.EXPORT_COLUMNS]
        stamp = now.strftime("%Y%m%dT%H%M%SZ")
        rows = outbox_read.export_rows(db, cipher, actor, query)
        if file_format == "xlsx":
            total = outbox_read.count_outbox(db, actor, query)
            if total >= exports.XLSX_MAX_ROWS:
                raise ApiProblemError(
                    422,
                    "export-too-large",
                    f"{total} rows do not fit one XLSX sheet; narrow the filter or export CSV",
                )
            file, count = exports.xlsx_file(header, rows, "push records")
            outbox_read.audit_export(db, actor, query, now, file_format="xlsx", rows=count, complete=True)
            return Response(
                exports.file_chunks(file),
                mimetype=XLSX,
                headers={"Content-Disposition": f'attachment; filename="outbox-{stamp}.xlsx"'},
            )

        counted = [0]

        def counting() -> Iterator[list[Any]]:
            for row in rows:
                counted[0] += 1
                yield row

        def body() -> Iterator[str]:
            complete = False
            try:
                yield from exports.csv_chunks(header, counting())
                complete = True
            finally:
                outbox_read.audit_export(
                    db, actor, query, now, file_format="csv", rows=counted[0], complete=complete
                )

        return Response(
            stream_with_context(body()),
            mimetype="text/csv",
            headers={"Content-Disposition": f'attachment; filename="outbox-{stamp}.csv"'},
        )
