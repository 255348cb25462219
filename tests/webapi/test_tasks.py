"""``/api/v1/tasks``: staff work lists through the API; problems for bad input, nothing written."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import func, select

from carepath.store.models import AuditEntry, StaffTask
from carepath.store.scope import Actor
from tests.conftest import NOW
from tests.store.test_tasks import add_staff, previa_task, publish_followup
from tests.webapi.conftest import Api, diagnosis, registration


def as_staff(staff: Actor) -> dict[str, str]:
    return {"X-Carepath-Staff": staff.id}


def task_rows(app: Flask) -> list[tuple[Any, ...]]:
    with app.extensions["carepath.db"].reading() as session:
        return [
            (t.id, t.status, t.claimed_by, t.outcome, t.outcome_answers, t.escalated_at)
            for t in session.scalars(select(StaffTask).order_by(StaffTask.id))
        ]


def test_tasks_from_a_posted_event_appear_for_the_assignee(api: Api, app: Flask) -> None:
    doctor = add_staff(app, "a")
    previa_task(api)
    listed = api.get("/api/v1/tasks?assign=responsible_doctor&status=open", **as_staff(doctor))
    assert listed.status_code == 200, listed.get_json()
    [task] = listed.get_json()
    assert task["title"] == "高风险孕妇专案管理" and task["priority"] == "high"
    assert task["patient"] == {"id": task["patient"]["id"], "his_id": "p-001", "name": None}
    assert api.get("/api/v1/tasks?assign=midwife", **as_staff(doctor)).get_json() == []
    one = api.get(f"/api/v1/tasks/{task['id']}", **as_staff(doctor))
    assert one.status_code == 200 and one.get_json()["id"] == task["id"]
    with app.extensions["carepath.db"].reading() as session:
        reads = session.scalars(select(AuditEntry).where(AuditEntry.pregnancy_id == task["pregnancy"]))
        assert {(r.actor, r.action) for r in reads if r.detail.startswith("task")} == {
            (doctor.label, "list"),
            (doctor.label, "read"),
        }


def test_claim_and_claim_conflict(api: Api, app: Flask) -> None:
    one, two = add_staff(app, "a"), add_staff(app, "a", name="二")
    previa_task(api)
    task_id = api.get("/api/v1/tasks", **as_staff(one)).get_json()[0]["id"]
    claimed = api.post(f"/api/v1/tasks/{task_id}/claim", raw=b"", **as_staff(one))
    assert claimed.status_code == 200 and claimed.get_json()["claimed_by"] == one.label
    refused = api.post(f"/api/v1/tasks/{task_id}/claim", raw=b"", **as_staff(two))
    assert refused.status_code == 409
    assert refused.mimetype == "application/problem+json"
    assert refused.get_json()["code"] == "task-claimed" and refused.get_json()["claimed_by"] == one.label
    mine = api.get("/api/v1/tasks?claimed_by=me", **as_staff(one)).get_json()
    assert [t["id"] for t in mine] == [task_id]
    assert api.get("/api/v1/tasks?claimed_by=me", **as_staff(two)).get_json() == []
    released = api.post(f"/api/v1/tasks/{task_id}/release", raw=b"", **as_staff(one))
    assert released.get_json()["claimed_by"] is None


def test_outcome_without_a_form(api: Api, app: Flask) -> None:
    doctor = add_staff(app, "a")
    previa_task(api)
    task_id = api.get("/api/v1/tasks", **as_staff(doctor)).get_json()[0]["id"]
    done = api.post(f"/api/v1/tasks/{task_id}/outcome", {"outcome": "已建专案"}, **as_staff(doctor))
    assert done.status_code == 200 and done.get_json()["status"] == "done"
    again = api.post(f"/api/v1/tasks/{task_id}/outcome", {"outcome": "再次"}, **as_staff(doctor))
    assert again.status_code == 409 and again.get_json()["code"] == "task-closed"


def test_outcome_with_a_form(api: Api, app: Flask, tmp_path: Path) -> None:
    publish_followup(app, tmp_path)
    nurse = add_staff(app, "a", role="nurse")
    assert api.post("/api/v1/events", registration()).status_code == 201
    assert api.post("/api/v1/events", diagnosis(code="O09.5")).status_code == 201
    [task] = api.get("/api/v1/tasks?assign=responsible_nurse", **as_staff(nurse)).get_json()
    assert task["form"] == "ama-screening-followup" and task["script"]
    path = f"/api/v1/tasks/{task['id']}/outcome"
    before = task_rows(app)
    bad = api.post(path, {"outcome": "已联系", "answers": {"test_done": "maybe"}}, **as_staff(nurse))
    assert bad.status_code == 422 and bad.mimetype == "application/problem+json"
    assert {e["path"] for e in bad.get_json()["errors"]} == {"answers.test_done", "answers.result"}
    assert task_rows(app) == before
    good = {"outcome": "已联系", "answers": {"test_done": "diagnosis", "result": "waiting"}}
    done = api.post(path, good, **as_staff(nurse))
    assert done.status_code == 200, done.get_json()
    assert done.get_json()["outcome_answers"]["answers"] == good["answers"]


def test_overdue_flag_and_escalation(api: Api, app: Flask) -> None:
    from carepath.store import tasks

    doctor = add_staff(app, "a")
    from tests.store.test_care_teams import team_lead

    lead = team_lead(app, "a")  # the default team's lead (issue 20)
    previa_task(api)
    assert api.get("/api/v1/tasks?overdue=true", **as_staff(doctor)).get_json() == []
    api.clock.now = NOW + timedelta(days=4)
    [task] = api.get("/api/v1/tasks?overdue=true", **as_staff(doctor)).get_json()
    assert task["overdue"] is True and task["escalated_at"] is None
    assert [e.lead for e in tasks.escalate_overdue(app.extensions["carepath.db"], api.clock.now)] == [
        lead.label
    ]
    [task] = api.get("/api/v1/tasks?overdue=true", **as_staff(doctor)).get_json()
    assert task["escalated_at"] is not None


def test_another_hospitals_staff_can_neither_see_nor_claim(api: Api, api_b: Api, app: Flask) -> None:
    doctor, stranger = add_staff(app, "a"), add_staff(app, "b")
    previa_task(api)
    task_id = api.get("/api/v1/tasks", **as_staff(doctor)).get_json()[0]["id"]
    before = task_rows(app)
    assert api_b.get("/api/v1/tasks", **as_staff(stranger)).get_json() == []
    for method, suffix in (("get", ""), ("post", "/claim"), ("post", "/release")):
        path = f"/api/v1/tasks/{task_id}{suffix}"
        answer = api_b.get(path, **as_staff(stranger)) if method == "get" else api_b.post(
            path, raw=b"", **as_staff(stranger)
        )  # fmt: skip
        assert answer.status_code == 404 and answer.get_json()["code"] == "task-not-found"
    outcome = api_b.post(f"/api/v1/tasks/{task_id}/outcome", {"outcome": "x"}, **as_staff(stranger))
    assert outcome.status_code == 404
    # hospital B's key cannot act as hospital A's staff member, nor A's key as B's
    impostor = api_b.post(f"/api/v1/tasks/{task_id}/claim", raw=b"", **as_staff(doctor))
    assert impostor.status_code == 403 and impostor.get_json()["code"] == "unknown-staff"
    assert api.get("/api/v1/tasks", **as_staff(stranger)).status_code == 403
    assert task_rows(app) == before


def test_bad_input_is_a_problem_and_writes_nothing(api: Api, app: Flask) -> None:
    doctor = add_staff(app, "a")
    previa_task(api)
    task_id = api.get("/api/v1/tasks", **as_staff(doctor)).get_json()[0]["id"]
    before = task_rows(app)
    with app.extensions["carepath.db"].reading() as session:
        audits = session.scalar(select(func.max(AuditEntry.id)))
    path = f"/api/v1/tasks/{task_id}/outcome"
    cases = [
        (api.get("/api/v1/tasks"), 401, "auth-missing-staff"),
        (api.get("/api/v1/tasks", **{"X-Carepath-Staff": "abc"}), 401, "auth-missing-staff"),
        (api.get("/api/v1/tasks?status=lost", **as_staff(doctor)), 422, "invalid-request"),
        (api.get("/api/v1/tasks?limit=0", **as_staff(doctor)), 422, "invalid-request"),
        (api.get("/api/v1/tasks?colour=red", **as_staff(doctor)), 422, "invalid-request"),
        (api.post(path, {}, **as_staff(doctor)), 422, "invalid-outcome"),
        (api.post(path, {"outcome": ""}, **as_staff(doctor)), 422, "invalid-outcome"),
        (api.post(path, {"outcome": "x", "extra": 1}, **as_staff(doctor)), 422, "invalid-outcome"),
        (api.post(path, {"outcome": "x", "answers": {"a": 1}}, **as_staff(doctor)), 422, "invalid-outcome"),
        (api.post(path, [1], **as_staff(doctor)), 422, "invalid-outcome"),
        (api.post(path, raw=b"{", **as_staff(doctor)), 400, "bad-json"),
        (api.post("/api/v1/tasks/999999/claim", raw=b"", **as_staff(doctor)), 404, "task-not-found"),
        (api.client.post(f"/api/v1/tasks/{task_id}/claim", headers=as_staff(doctor)), 401, None),
    ]
    for answer, status, code in cases:
        assert answer.status_code == status, answer.get_json()
        assert answer.mimetype == "application/problem+json"
        if code:
            assert answer.get_json()["code"] == code
    assert task_rows(app) == before
    with app.extensions["carepath.db"].reading() as session:  # the 404 is a counted refusal
        written = session.scalars(select(AuditEntry.action).where(AuditEntry.id > audits)).all()
        assert written == ["not-found"]


def test_the_tasks_api_is_in_the_openapi_document(api: Api) -> None:
    spec = api.client.get("/api/openapi.json").get_json()
    assert {"/api/v1/tasks", "/api/v1/tasks/{task_id}/claim", "/api/v1/tasks/{task_id}/outcome"} <= set(
        spec["paths"]
    )
