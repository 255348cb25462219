"""The signed staff API checks the acting staff member's permissions, as sessions do.

Table-driven: every role against every staff endpoint (each request naming a staff member
in ``X-Carepath-Staff``). A role without the endpoint's permission gets 403
``permission-denied`` naming it, audited as ``refused``, and nothing changes; a role with it
is never refused for want of a permission.
"""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from carepath.store.roles import ROLE_PERMISSIONS, ROLES
from tests.store.test_tasks import add_staff, previa_task
from tests.webapi.conftest import Api

#: (method, path, the permission it needs); ``{task}`` and ``{pregnancy}`` are filled in.
STAFF_ENDPOINTS: list[tuple[str, str, str]] = [
    ("GET", "/api/v1/tasks", "task.work"),
    ("GET", "/api/v1/tasks/{task}", "task.work"),
    ("POST", "/api/v1/tasks/{task}/claim", "task.work"),
    ("POST", "/api/v1/tasks/{task}/release", "task.work"),
    ("POST", "/api/v1/tasks/{task}/outcome", "task.work"),
    ("GET", "/api/v1/outbox", "patient.read"),
    ("GET", "/api/v1/outbox/export", "export"),
    ("POST", "/api/v1/pregnancies/search", "patient.read"),
    ("GET", "/api/v1/pregnancies/{pregnancy}/timeline", "patient.read"),
    ("GET", "/api/v1/pathways", "pathway.read"),
]
BODIES: dict[str, Any] = {
    "/api/v1/pregnancies/search": {"risk_colour": "orange"},
    "/api/v1/tasks/{task}/outcome": {"outcome": "已电话随访"},
}


def call(api: Api, staff_id: str, method: str, template: str, ids: dict[str, Any]) -> Any:
    path = template.format(**ids)
    headers = {"X-Carepath-Staff": staff_id}
    if method == "GET":
        return api.get(path, **headers)
    body = BODIES.get(template)
    return api.post(path, body, **headers) if body is not None else api.post(path, raw=b"", **headers)


def refused_rows(app: Flask) -> list[tuple[str, str]]:
    from carepath.store.models import AuditEntry

    with app.extensions["carepath.db"].reading() as session:
        rows = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "refused").order_by(AuditEntry.id)
        )
        return [(row.actor, row.detail) for row in rows]


def task_state(app: Flask) -> list[tuple[Any, ...]]:
    from carepath.store.models import StaffTask

    with app.extensions["carepath.db"].reading() as session:
        return [(t.id, t.status, t.claimed_by, t.outcome) for t in session.scalars(select(StaffTask))]


@pytest.fixture
def ids(api: Api, app: Flask) -> dict[str, Any]:
    """A case-management task (placenta praevia) for hospital A's responsible doctor."""
    doctor = add_staff(app, "a")
    previa_task(api)
    [task] = api.get("/api/v1/tasks", **{"X-Carepath-Staff": doctor.id}).get_json()
    return {"task": task["id"], "pregnancy": task["pregnancy"]}


@pytest.mark.parametrize("role", ROLES)
def test_each_role_reaches_exactly_the_staff_endpoints_its_permissions_allow(
    role: str, api: Api, app: Flask, ids: dict[str, Any]
) -> None:
    staff = add_staff(app, "a", role=role, name=role)
    granted = ROLE_PERMISSIONS[role]
    expected_refusals = []
    for method, template, permission in STAFF_ENDPOINTS:
        before = task_state(app)
        answer = call(api, staff.id, method, template, ids)
        path = template.format(**ids)
        if permission in granted:
            assert answer.status_code < 500, (role, path, answer.get_data(as_text=True))
            assert answer.status_code != 403, (role, path, answer.get_json())
            continue
        assert answer.status_code == 403, (role, path, answer.status_code)
        assert answer.mimetype == "application/problem+json"
        body = answer.get_json()
        assert (body["code"], body["permission"]) == ("permission-denied", permission), (role, path)
        assert task_state(app) == before, (role, path)
        expected_refusals.append((staff.label, f"{permission} needed for {path}"))
    assert refused_rows(app) == expected_refusals


def test_a_reviewer_cannot_claim_and_an_author_can_neither_export_nor_read_a_timeline(
    api: Api, app: Flask, ids: dict[str, Any]
) -> None:
    """The review's findings, as they were reported."""
    reviewer = add_staff(app, "a", role="reviewer", name="审核")
    claim = call(api, reviewer.id, "POST", "/api/v1/tasks/{task}/claim", ids)
    assert claim.status_code == 403 and claim.get_json()["permission"] == "task.work"
    assert [claimed_by for _, _, claimed_by, _ in task_state(app)] == [None]
    author = add_staff(app, "a", role="content_author", name="作者")
    export = call(api, author.id, "GET", "/api/v1/outbox/export", ids)
    assert export.status_code == 403 and export.get_json()["permission"] == "export"
    timeline = call(api, author.id, "GET", "/api/v1/pregnancies/{pregnancy}/timeline", ids)
    assert timeline.status_code == 403 and timeline.get_json()["permission"] == "patient.read"
    assert "王" not in timeline.get_data(as_text=True)


def test_a_staff_member_without_roles_is_refused_everywhere(
    api: Api, app: Flask, ids: dict[str, Any]
) -> None:
    lead = add_staff(app, "a", role="lead", name="护士长")  # a job, not a permission role
    for method, template, permission in STAFF_ENDPOINTS:
        answer = call(api, lead.id, method, template, ids)
        assert answer.status_code == 403 and answer.get_json()["permission"] == permission, template


def test_the_table_covers_every_staff_endpoint_of_the_openapi_document(app: Flask, api: Api) -> None:
    """An endpoint that takes ``X-Carepath-Staff`` is in the table and declares its permission."""
    spec = api.client.get("/api/openapi.json").get_json()
    documented = {
        (method.upper(), path.replace("{task_id}", "{task}").replace("{pregnancy_id}", "{pregnancy}"))
        for path, operations in spec["paths"].items()
        for method, operation in operations.items()
        if method != "parameters"
        and any(p.get("name") == "X-Carepath-Staff" for p in operation.get("parameters", []))
    }
    assert documented == {(method, path) for method, path, _ in STAFF_ENDPOINTS}
    adapter = app.url_map.bind("localhost")
    for method, template, permission in STAFF_ENDPOINTS:
        endpoint, _ = adapter.match(template.format(task=1, pregnancy="x"), method=method)
        view = app.view_functions[endpoint].view_class  # type: ignore[attr-defined]
        assert getattr(view, method.lower()).required_permission == permission, template
