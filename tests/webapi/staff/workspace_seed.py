"""What the workspace's tests share: a pathway that opens an urgent, a high and a normal task
from HIS events, and the hospital's default care team, which her tasks are routed to when they
are written (``care_routing``)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from flask import Flask
from sqlalchemy import select

from carepath.store.models import StaffTask
from carepath.store.models_teams import CareTeam, CareTeamMember
from tests.conftest import NOW, resident_id
from tests.webapi.conftest import Api, diagnosis, registration

PATHWAY = """
pathway: workspace-test
title: 工作台测试路径
rules:
  - id: severe-bp
    title: 重度子痫前期随访
    on: {event: diagnosis.added}
    when: {event: {field: data.code, startswith: O14}}
    do:
      - task:
          assign: responsible_doctor
          title: 血压≥160/110，请立即联系
          due: 1h
          priority: urgent
          form: previa-bleeding
          script: 您好，我是产科医生，您的血压偏高，请问现在有头痛、眼花吗？
  - id: screening
    on: {event: diagnosis.added}
    when: {event: {field: data.code, startswith: O09}}
    do:
      - task:
          assign: responsible_nurse
          title: 电话随访产前筛查结果
          due: 1d
          priority: normal
          form: ama-screening-followup
  - id: bp-check
    title: 妊娠期高血压复测
    on: {event: diagnosis.added}
    when: {event: {field: data.code, startswith: O13}}
    do:
      - task: {assign: responsible_nurse, title: 请电话复测血压, due: 2d, priority: high, form: bp-log}
"""
BP = "请电话复测血压"
URGENT = "血压≥160/110，请立即联系"
NORMAL = "电话随访产前筛查结果"


def publish(app: Flask, tmp_path: Path) -> None:
    from carepath.store import demo

    (tmp_path / "workspace-test.yaml").write_text(PATHWAY, encoding="utf-8")
    demo.publish_examples(app.extensions["carepath.db"], tmp_path, NOW)


def woman(api: Api, his_id: str, code: str, name: str = "王小红", phone: str = "13812345678") -> None:
    """She registers and a diagnosis opens her task (O14: the urgent one, O09: the normal one)."""
    number = resident_id(int(his_id.removeprefix("p-")))
    event = registration(his_id, event_id=f"reg-{his_id}", name=name, phone=phone, id_number=number)
    answer = api.post("/api/v1/events", event)
    assert answer.status_code == 201, answer.get_json()
    answer = api.post("/api/v1/events", diagnosis(his_id, event_id=f"dx-{his_id}", code=code))
    assert answer.status_code == 201, answer.get_json()


def team(app: Flask, *members: int, hospital: str = "a", name: str = "产科一组", default: bool = True) -> int:
    """A team with ``members`` (nurses); ``default``: the hospital's default team, which a
    woman registered without a source joins, and so her tasks (``care_routing``)."""
    with app.extensions["carepath.db"].transaction() as session:
        row = CareTeam(hospital_id=hospital, name=name, kind="obstetric", is_default=default, created_at=NOW)
        session.add(row)
        session.flush()
        for staff_id in members:
            session.add(CareTeamMember(team_id=row.id, staff_id=staff_id, team_role="nurse", added_at=NOW))
        return row.id


def task_id(app: Flask, title: str) -> int:
    with app.extensions["carepath.db"].reading() as session:
        found = session.scalar(
            select(StaffTask.id).where(StaffTask.title == title).order_by(StaffTask.id.desc())
        )
    assert found is not None
    return found


def task_row(app: Flask, task: int) -> StaffTask:
    with app.extensions["carepath.db"].reading() as session:
        row = session.get(StaffTask, task)
        assert row is not None
        session.expunge(row)
        return row


LATER = NOW + timedelta(hours=2)  # the urgent task (due in 1 h) is overdue then
