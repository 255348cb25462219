"""Staff tasks service: tasks from posted events, claims, outcomes (with and without a form),
overdue and escalation, tenancy; on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from carepath.store import tasks
from carepath.store.models import AuditEntry, Staff, StaffTask
from carepath.store.scope import Actor
from tests.conftest import NOW
from tests.webapi.conftest import Api, diagnosis, registration

PHONE_FOLLOWUP = """
pathway: phone-followup-test
title: 电话随访（测试）
rules:
  - id: call
    on: {event: diagnosis.added}
    when: {event: {field: data.code, startswith: O09}}
    do:
      - task:
          assign: responsible_nurse
          title: 电话随访产前筛查结果
          due: 1d
          priority: normal
          form: ama-screening-followup
          script: 您好，我是产科护士，想了解您产前筛查的情况。
"""


def publish_followup(app: Flask, tmp_path: Path) -> None:
    from carepath.store import demo

    (tmp_path / "phone-followup-test.yaml").write_text(PHONE_FOLLOWUP, encoding="utf-8")
    demo.publish_examples(app.extensions["carepath.db"], tmp_path, NOW)


def add_staff(app: Flask, hospital: str, role: str = "doctor", name: str = "医生") -> Actor:
    """A staff member whose job is ``role``, holding it as a permission role when it is one."""
    from carepath.store.roles import ROLES

    with app.extensions["carepath.db"].transaction() as session:
        staff = Staff(hospital_id=hospital, name=name, role=role, roles=[role] if role in ROLES else [])
        session.add(staff)
        session.flush()
        return Actor(hospital, "staff", str(staff.id))


def previa_task(api: Api, his_id: str = "p-001") -> None:
    """Placenta praevia makes her orange: the case-management task for her responsible doctor."""
    assert api.post("/api/v1/events", registration(his_id, event_id=f"reg-{his_id}")).status_code == 201
    answer = api.post("/api/v1/events", diagnosis(his_id, event_id=f"dx-{his_id}", code="O44.0"))
    assert answer.status_code == 201, answer.get_json()


def services(app: Flask) -> tuple[Any, Any]:
    return app.extensions["carepath.db"], app.extensions["carepath.cipher"]


def audit_count(app: Flask) -> int:
    with app.extensions["carepath.db"].reading() as session:
        return session.scalar(select(func.count()).select_from(AuditEntry)) or 0


def test_a_posted_event_lands_a_task_for_its_assignee_masked_and_audited(api: Api, app: Flask) -> None:
    db, cipher = services(app)
    doctor = add_staff(app, "a")
    previa_task(api)
    before = audit_count(app)
    listed = tasks.list_tasks(db, cipher, doctor, NOW, tasks.TaskFilter(assign="responsible_doctor"))
    assert [t["title"] for t in listed] == ["高风险孕妇专案管理"]
    task = listed[0]
    assert task["priority"] == "high" and task["status"] == "open" and not task["overdue"]
    assert task["patient"]["his_id"] == "p-001" and "id_number" not in task["patient"]
    assert tasks.list_tasks(db, cipher, doctor, NOW, tasks.TaskFilter(assign="midwife")) == []
    assert tasks.list_tasks(db, cipher, doctor, NOW, tasks.TaskFilter(priority="low")) == []
    assert len(tasks.list_tasks(db, cipher, doctor, NOW, tasks.TaskFilter(pregnancy=task["pregnancy"]))) == 1
    assert audit_count(app) == before + 2  # one entry per task read (two listings showed it)


def test_claim_claim_conflict_and_release(api: Api, app: Flask) -> None:
    db, cipher = services(app)
    one, two = add_staff(app, "a"), add_staff(app, "a", name="另一位医生")
    previa_task(api)
    task_id = tasks.list_tasks(db, cipher, one, NOW, tasks.TaskFilter())[0]["id"]
    claimed = tasks.claim(db, cipher, one, task_id, NOW)
    assert claimed["claimed_by"] == one.label
    assert tasks.claim(db, cipher, one, task_id, NOW)["claimed_by"] == one.label  # again: no change
    with pytest.raises(tasks.TaskClaimedError) as refused:
        tasks.claim(db, cipher, two, task_id, NOW)
    assert refused.value.claimed_by == one.label
    with pytest.raises(tasks.TaskClaimedError):
        tasks.release(db, cipher, two, task_id, NOW)
    mine = tasks.list_tasks(db, cipher, one, NOW, tasks.TaskFilter(claimed_by=one.label))
    assert [t["id"] for t in mine] == [task_id]
    assert tasks.release(db, cipher, one, task_id, NOW)["claimed_by"] is None
    assert tasks.claim(db, cipher, two, task_id, NOW)["claimed_by"] == two.label


def test_outcome_without_a_form_closes_the_task(api: Api, app: Flask) -> None:
    db, cipher = services(app)
    doctor = add_staff(app, "a")
    previa_task(api)
    task_id = tasks.list_tasks(db, cipher, doctor, NOW, tasks.TaskFilter())[0]["id"]
    with pytest.raises(tasks.InvalidOutcomeError) as bad:
        tasks.record_outcome(db, cipher, doctor, task_id, NOW, outcome="x", answers={"a": 1})
    assert bad.value.errors[0]["path"] == "answers"
    done = tasks.record_outcome(db, cipher, doctor, task_id, NOW, outcome="已建专案，预约复诊")
    assert done["status"] == "done" and done["claimed_by"] == doctor.label and done["outcome_answers"] is None
    with pytest.raises(tasks.TaskClosedError):
        tasks.claim(db, cipher, doctor, task_id, NOW)
    assert tasks.list_tasks(db, cipher, doctor, NOW, tasks.TaskFilter(status="open")) == []


def test_outcome_with_a_form_is_validated_and_nothing_is_written_when_it_does_not_fit(
    api: Api, app: Flask, tmp_path: Path
) -> None:
    db, cipher = services(app)
    publish_followup(app, tmp_path)
    nurse = add_staff(app, "a", role="nurse")
    assert api.post("/api/v1/events", registration()).status_code == 201
    assert api.post("/api/v1/events", diagnosis(code="O09.5")).status_code == 201
    [task] = tasks.list_tasks(db, cipher, nurse, NOW, tasks.TaskFilter(assign="responsible_nurse"))
    assert task["form"] == "ama-screening-followup" and task["script"].startswith("您好")
    with pytest.raises(tasks.InvalidOutcomeError) as bad:
        tasks.record_outcome(
            db,
            cipher,
            nurse,
            task["id"],
            NOW,
            outcome="电话已联系",
            answers={"test_done": "maybe", "nope": 1},
        )
    paths = {e["path"] for e in bad.value.errors}
    assert paths == {"answers.nope", "answers.test_done", "answers.result"}
    with db.reading() as session:
        row = session.get(StaffTask, task["id"])
        assert row is not None and row.status == "open" and row.claimed_by is None and row.outcome is None
    done = tasks.record_outcome(
        db, cipher, nurse, task["id"], NOW, outcome="电话已联系",
        answers={"test_done": "screening", "result": "low_risk"},
    )  # fmt: skip
    assert done["status"] == "done"
    assert done["outcome_answers"]["answers"] == {"test_done": "screening", "result": "low_risk"}


def test_overdue_flag_and_escalation_to_the_team_lead_once(api: Api, app: Flask) -> None:
    db, cipher = services(app)
    doctor = add_staff(app, "a")
    lead = team_lead(app, "a")  # the default team's lead (issue 20)
    previa_task(api)
    [task] = tasks.list_tasks(db, cipher, doctor, NOW, tasks.TaskFilter())
    assert tasks.escalate_overdue(db, NOW) == []
    later = NOW + timedelta(days=4)
    assert tasks.list_tasks(db, cipher, doctor, NOW, tasks.TaskFilter(overdue=True)) == []
    [overdue] = tasks.list_tasks(db, cipher, doctor, later, tasks.TaskFilter(overdue=True))
    assert overdue["overdue"] and overdue["escalated_at"] is None
    assert tasks.list_tasks(db, cipher, doctor, later, tasks.TaskFilter(overdue=False)) == []
    escalated = tasks.escalate_overdue(db, later)
    assert escalated == [tasks.Escalation(task["id"], "a", lead.label)]
    assert tasks.escalate_overdue(db, later + timedelta(hours=1)) == []  # once
    assert tasks.get_task(db, cipher, doctor, task["id"], later)["escalated_at"] is not None
    with db.reading() as session:
        details = session.scalars(select(AuditEntry.detail).where(AuditEntry.actor == "scheduler:escalation"))
        assert any(f"escalated to {lead.label}" in d for d in details)


def test_escalation_without_a_team_lead_is_recorded(api: Api, app: Flask) -> None:
    db, _ = services(app)
    previa_task(api)
    [escalated] = tasks.escalate_overdue(db, NOW + timedelta(days=4))
    assert escalated.lead is None


def team_lead(app: Flask, hospital: str) -> Actor:
    from tests.store.test_care_teams import team_lead as lead_of_default_team

    return lead_of_default_team(app, hospital)


def test_another_hospitals_staff_can_neither_see_nor_claim(api: Api, app: Flask) -> None:
    db, cipher = services(app)
    doctor, stranger = add_staff(app, "a"), add_staff(app, "b")
    previa_task(api)
    task_id = tasks.list_tasks(db, cipher, doctor, NOW, tasks.TaskFilter())[0]["id"]
    assert tasks.list_tasks(db, cipher, stranger, NOW, tasks.TaskFilter()) == []
    for call in (tasks.claim, tasks.release, tasks.get_task):
        with pytest.raises(tasks.TaskNotFoundError):
            call(db, cipher, stranger, task_id, NOW)
    with pytest.raises(tasks.TaskNotFoundError):
        tasks.record_outcome(db, cipher, stranger, task_id, NOW, outcome="x")
    with pytest.raises(tasks.UnknownStaffError):
        tasks.staff_actor(db, "a", int(stranger.id), None)
    with db.reading() as session:
        row = session.get(StaffTask, task_id)
        assert row is not None and row.claimed_by is None and row.status == "open"


def test_a_task_the_engine_cancels_leaves_the_open_list(api: Api, app: Flask) -> None:
    db, cipher = services(app)
    doctor = add_staff(app, "a")
    previa_task(api)
    with db.transaction() as session:  # what evaluation does for a cancellation
        session.execute(StaffTask.__table__.update().values(status="cancelled"))
    assert tasks.list_tasks(db, cipher, doctor, NOW, tasks.TaskFilter(status="open")) == []
    assert tasks.escalate_overdue(db, NOW + timedelta(days=30)) == []
    assert json.dumps(tasks.list_tasks(db, cipher, doctor, NOW, tasks.TaskFilter(status="cancelled")))


def test_racing_claims_on_postgresql_leave_one_claimant(api: Api, app: Flask) -> None:
    import threading

    db, cipher = services(app)
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite serialises writers; the row lock is PostgreSQL's")
    staff = [add_staff(app, "a", name=f"医生{i}") for i in range(6)]
    previa_task(api)
    task_id = tasks.list_tasks(db, cipher, staff[0], NOW, tasks.TaskFilter())[0]["id"]
    barrier = threading.Barrier(len(staff))
    won: list[str] = []
    refused: list[str] = []

    def attempt(actor: Actor) -> None:
        barrier.wait()
        try:
            won.append(tasks.claim(db, cipher, actor, task_id, NOW)["claimed_by"])
        except tasks.TaskClaimedError as exc:
            refused.append(str(exc.claimed_by))

    threads = [threading.Thread(target=attempt, args=(actor,)) for actor in staff]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(won) == 1 and len(refused) == len(staff) - 1 and set(refused) == set(won)
    with db.reading() as session:
        row = session.get(StaffTask, task_id)
        assert row is not None and row.claimed_by == won[0]


LATER_CALL = """
pathway: later-call-test
title: 延后电话随访（测试）
exit:
  status: [ended]
rules:
  - id: call-later
    on: {event: diagnosis.added}
    when: {event: {field: data.code, startswith: O09}}
    do:
      - task: {assign: responsible_nurse, title: 两天后电话随访, after: 2d, due: 1d}
"""


def test_the_engine_cancelling_a_task_on_exit_closes_it(api: Api, app: Flask, tmp_path: Path) -> None:
    """A task decided ahead (after 2 days); her pregnancy ending exits the pathway, the engine
    cancels the pending action and the task leaves the open list, never to be escalated."""
    from carepath.store import demo

    db, cipher = services(app)
    (tmp_path / "later-call-test.yaml").write_text(LATER_CALL, encoding="utf-8")
    demo.publish_examples(db, tmp_path, NOW)
    nurse = add_staff(app, "a", role="nurse")
    assert api.post("/api/v1/events", registration()).status_code == 201
    assert api.post("/api/v1/events", diagnosis(code="O09.5")).status_code == 201
    [task] = tasks.list_tasks(db, cipher, nurse, NOW, tasks.TaskFilter(assign="responsible_nurse"))
    assert task["title"] == "两天后电话随访" and task["status"] == "open"
    ended = {
        "id": "end-001",
        "type": "pregnancy.ended",
        "occurred_at": "2026-07-10T15:00:00+08:00",
        "patient": {"his_id": "p-001"},
        "data": {"reason": "miscarriage"},
    }
    answer = api.post("/api/v1/events", ended)
    assert answer.status_code == 201, answer.get_json()
    assert tasks.get_task(db, cipher, nurse, task["id"], NOW)["status"] == "cancelled"
    assert tasks.escalate_overdue(db, NOW + timedelta(days=30)) == []
