"""``/api/v1/tasks``: staff work lists (list, read, claim, release, record the outcome).

Staff tools authenticate like the other read endpoints, with the HMAC-signed request of their
hospital's key, and name the staff member they act for in ``X-Carepath-Staff`` (a staff id of
that hospital: the same ``staff`` rows as staff logins, so a disabled account is refused and
the audit log names ``staff:<id>`` either way). The header is signed with the rest of the
request (the canonical string's last line: the eighth under V2, the seventh under V1;
``carepath/signing.py``). Patient identifiers are masked, and
every read of a patient's task is in the audit log.
"""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import RAISE, Schema, fields, validate

from carepath.store import tasks
from carepath.webapi.api.openapi_docs import json_request
from carepath.webapi.api.staff import STAFF_DOC, services, staff_actor
from carepath.webapi.auth.permissions import require_staff
from carepath.webapi.common.jsonbody import json_body
from carepath.webapi.common.problems import ApiProblemError

blp = Blueprint(
    "tasks",
    __name__,
    url_prefix="/api/v1/tasks",
    description="Staff tasks: what a pathway's task action asks of the care team.",
)


class TaskQuerySchema(Schema):
    class Meta:
        unknown = RAISE

    assign = fields.String(
        validate=validate.Length(1, 64), metadata={"description": "assignee role, e.g. responsible_doctor"}
    )
    claimed_by = fields.String(
        validate=validate.Regexp(r"^(me|staff:[0-9]{1,18})$"), metadata={"description": "me or staff:<id>"}
    )
    status = fields.String(validate=validate.OneOf(tasks.STATUSES))
    priority = fields.String(validate=validate.OneOf(tasks.PRIORITIES))
    overdue = fields.Boolean()
    pregnancy = fields.String(validate=validate.Length(1, 80))
    limit = fields.Integer(load_default=100, validate=validate.Range(1, 1000))
    offset = fields.Integer(load_default=0, validate=validate.Range(0, 10**9))


class OutcomeSchema(Schema):
    class Meta:
        unknown = RAISE

    outcome = fields.String(required=True, validate=validate.Length(1, 2000))
    answers = fields.Dict(
        keys=fields.String(validate=validate.Length(1, 64)),
        metadata={"description": "the answers of the task's outcome form, when it has one"},
    )


class TaskPatientSchema(Schema):
    id = fields.Integer()
    his_id = fields.String(allow_none=True)
    name = fields.String(allow_none=True, metadata={"description": "masked: family name only"})


class TaskSchema(Schema):
    id = fields.Integer()
    hospital = fields.String()
    pregnancy = fields.String()
    patient = fields.Nested(TaskPatientSchema)
    title = fields.String()
    assign = fields.String()
    priority = fields.String()
    status = fields.String(metadata={"description": "open, done or cancelled"})
    due_at = fields.String(allow_none=True)
    overdue = fields.Boolean(metadata={"description": "open and past due_at"})
    form = fields.String(allow_none=True, metadata={"description": "the outcome form, if any"})
    script = fields.String(allow_none=True, metadata={"description": "e.g. a phone follow-up script"})
    claimed_by = fields.String(allow_none=True)
    claimed_at = fields.String(allow_none=True)
    outcome = fields.String(allow_none=True)
    outcome_answers = fields.Dict(allow_none=True)
    done_at = fields.String(allow_none=True)
    escalated_at = fields.String(allow_none=True)
    created_at = fields.String()


@blp.route("")
class TasksView(MethodView):
    @require_staff("task.work")
    @blp.arguments(TaskQuerySchema, location="query", as_kwargs=True, unknown=RAISE)
    @blp.response(200, TaskSchema(many=True))
    @blp.doc(**STAFF_DOC)
    def get(self, **query: Any) -> Any:
        """The hospital's tasks, most due first; filters combine. Patients masked; reads audited."""
        actor = staff_actor()
        db, cipher, now = services()
        claimed_by = query.get("claimed_by")
        where = tasks.TaskFilter(
            assign=query.get("assign"),
            claimed_by=actor.label if claimed_by == "me" else claimed_by,
            status=query.get("status"),
            overdue=query.get("overdue"),
            priority=query.get("priority"),
            pregnancy=query.get("pregnancy"),
            limit=query["limit"],
            offset=query["offset"],
        )
        return tasks.list_tasks(db, cipher, actor, now, where)


@blp.route("/<int(max=9223372036854775807):task_id>")
class TaskView(MethodView):
    @require_staff("task.work")
    @blp.response(200, TaskSchema)
    @blp.alt_response(404, description="no such task in this hospital")
    @blp.doc(**STAFF_DOC)
    def get(self, task_id: int) -> Any:
        """One task (audited)."""
        actor = staff_actor()
        db, cipher, now = services()
        return tasks.get_task(db, cipher, actor, task_id, now)


@blp.route("/<int(max=9223372036854775807):task_id>/claim")
class ClaimView(MethodView):
    @require_staff("task.work")
    @blp.response(200, TaskSchema)
    @blp.alt_response(409, description="task-claimed (by someone else) or task-closed")
    @blp.doc(**STAFF_DOC)
    def post(self, task_id: int) -> Any:
        """Claim the task for the acting staff member (again by the same one: no change)."""
        actor = staff_actor()
        db, cipher, now = services()
        return tasks.claim(db, cipher, actor, task_id, now)


@blp.route("/<int(max=9223372036854775807):task_id>/release")
class ReleaseView(MethodView):
    @require_staff("task.work")
    @blp.response(200, TaskSchema)
    @blp.alt_response(409, description="task-claimed (by someone else) or task-closed")
    @blp.doc(**STAFF_DOC)
    def post(self, task_id: int) -> Any:
        """Give back one's own claim."""
        actor = staff_actor()
        db, cipher, now = services()
        return tasks.release(db, cipher, actor, task_id, now)


@blp.route("/<int(max=9223372036854775807):task_id>/outcome")
class OutcomeView(MethodView):
    @require_staff("task.work")
    @blp.doc(
        **json_request(OutcomeSchema),
        **STAFF_DOC,
    )
    @blp.response(200, TaskSchema)
    @blp.alt_response(409, description="task-claimed (by someone else) or task-closed")
    @blp.alt_response(422, description="invalid-outcome: errors lists each field path")
    def post(self, task_id: int) -> Any:
        """Record the outcome and close the task; answers are checked against its form."""
        actor = staff_actor()
        db, cipher, now = services()
        raw = json_body()
        if not isinstance(raw, dict):
            raise ApiProblemError(422, "invalid-outcome", "an outcome is a JSON object")
        messages = OutcomeSchema().validate(raw)
        if messages:
            errors = [
                {"path": key, "code": "invalid", "message": "; ".join(map(str, value))}
                if isinstance(value, list)
                else {"path": key, "code": "invalid", "message": str(value)}
                for key, value in messages.items()
            ]
            raise ApiProblemError(422, "invalid-outcome", errors[0]["message"], errors)
        return tasks.record_outcome(
            db, cipher, actor, task_id, now, outcome=raw["outcome"], answers=raw.get("answers")
        )
