"""Care teams (issue 20 item 1): teams and members, her care row set at registration and by
staff with its history, every ``assign`` value routed to a team and a person, her open
unclaimed tasks following a change; on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import event, select

import carepath.store.models_teams  # noqa: F401  (the tables, until conftest's list names them)
from carepath.store import care_routing, care_teams, tasks
from carepath.store.models import AuditEntry, StaffTask
from carepath.store.models_teams import CareTeam, PregnancyCare, PregnancyCareChange
from carepath.store.scope import Actor, PregnancyNotFoundError
from tests.conftest import NOW, ROOT, resident_id
from tests.store.test_tasks import add_staff
from tests.webapi import conftest as webapi
from tests.webapi.conftest import Api, diagnosis, registration

ADMIN = Actor("a", "staff", "admin")


@pytest.fixture
def api_b(app: Flask, clock: Any) -> Api:
    return Api(app.test_client(), webapi._key(app, "b"), clock)


def team_lead(app: Flask, hospital: str = "a", name: str = "护士长") -> Actor:
    """A staff member who leads the hospital's default team (made when missing): who receives
    escalations of overdue tasks in a team without a lead of its own."""
    lead = add_staff(app, hospital, "nurse", name)
    db, actor = db_of(app), Actor(hospital, "staff", "admin")
    with db.transaction() as session:
        team = care_routing.default_team(session, hospital, NOW)
    care_teams.add_member(db, actor, team, int(lead.id), team_role="nurse", now=NOW)
    care_teams.set_lead(db, actor, team, int(lead.id), NOW)
    return lead


def db_of(app: Flask) -> Any:
    return app.extensions["carepath.db"]


def pregnancy_of(api: Api, his_id: str = "p-001", n: int = 1) -> str:
    answer = api.post(
        "/api/v1/events", registration(his_id, event_id=f"reg-{his_id}", id_number=resident_id(n))
    )
    assert answer.status_code in {200, 201}, answer.get_json()
    return str(answer.get_json()["pregnancy"])


def previa_task(api: Api, his_id: str = "p-001") -> None:
    """Placenta praevia makes her orange: the case-management task for her responsible doctor."""
    answer = api.post("/api/v1/events", diagnosis(his_id, event_id=f"dx-{his_id}", code="O44.0"))
    assert answer.status_code == 201, answer.get_json()


def team_with(app: Flask, name: str, *members: tuple[Actor, str], kind: str = "obstetric") -> int:
    db = db_of(app)
    team = care_teams.create_team(db, ADMIN, name, kind, NOW)
    for staff, role in members:
        care_teams.add_member(db, ADMIN, team, int(staff.id), team_role=role, now=NOW)
    return team


def tasks_of(app: Flask, pregnancy: str) -> list[StaffTask]:
    with db_of(app).reading() as session:
        rows = session.scalars(
            select(StaffTask).where(StaffTask.pregnancy_id == pregnancy).order_by(StaffTask.id)
        )
        return list(rows)


# --- routing ---------------------------------------------------------------------------------


def test_every_assign_value_of_the_language_is_routed() -> None:
    schema = json.loads((ROOT / "carepath" / "schemas" / "pathway.schema.json").read_text(encoding="utf-8"))
    enums = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "assign" in node.get("properties", {}):
                enums.append(node["properties"]["assign"]["enum"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(schema)
    assert enums and all(set(e) == set(care_routing.ASSIGN_VALUES) for e in enums)


def test_route_maps_people_to_her_care_row_and_services_to_their_teams() -> None:
    teams = [
        care_routing.TeamRef(1, "obstetric", True, None),
        care_routing.TeamRef(2, "obstetric", False, None),
        care_routing.TeamRef(3, "nutrition", False, None),
        care_routing.TeamRef(4, "school", False, None),
    ]
    care = care_routing.CareRow(2, responsible_doctor_id=10, responsible_nurse_id=None, case_manager_id=12)
    route = care_routing.route
    assert route(care, teams, "responsible_doctor") == (2, 10)
    assert route(care, teams, "responsible_nurse") == (2, None)  # nobody named: her team's queue
    assert route(care, teams, "case_manager") == (2, 12)
    assert route(care, teams, "nutritionist") == (3, None)
    assert route(care, teams, "school") == (4, None)
    assert route(care, teams, "midwife") == (2, None)  # no midwives' team: her team's queue
    assert route(care_routing.CareRow(None), teams, "responsible_doctor") == (1, None)  # the default team


# --- registration and tasks ---------------------------------------------------------------------


def test_a_registered_pregnancy_joins_the_default_team_made_for_her_hospital(api: Api, app: Flask) -> None:
    pregnancy = pregnancy_of(api)
    with db_of(app).reading() as session:
        team = session.scalars(select(CareTeam).where(CareTeam.hospital_id == "a")).one()
        care = session.get(PregnancyCare, pregnancy)
        changes = session.scalars(select(PregnancyCareChange)).all()
        care_view = care_teams.care_of(session, pregnancy)
    assert (team.name, team.is_default, team.kind) == ("产科团队", True, "obstetric")
    assert care is not None and care.team_id == team.id and care.updated_by == "registration"
    assert [(c.what, c.new_value, c.actor) for c in changes] == [("team", str(team.id), "registration")]
    assert care_view is not None and care_view.team is not None and care_view.team.name == "产科团队"
    assert care_view.history[0].new == "产科团队"


def test_a_task_for_her_responsible_doctor_lands_with_that_doctor(api: Api, app: Flask) -> None:
    doctor = add_staff(app, "a", name="王医生")
    pregnancy = pregnancy_of(api)
    team = team_with(app, "产科一组", (doctor, "doctor"))
    care_teams.set_care(
        db_of(app),
        ADMIN,
        pregnancy,
        team_id=team,
        responsible_doctor_id=int(doctor.id),
        reason="分组",
        now=NOW,
    )
    previa_task(api)
    (task,) = tasks_of(app, pregnancy)
    assert (task.assign, task.team_id, task.assignee_id) == ("responsible_doctor", team, int(doctor.id))


def test_without_a_named_doctor_the_task_waits_in_her_teams_queue(api: Api, app: Flask) -> None:
    pregnancy = pregnancy_of(api)
    previa_task(api)
    (task,) = tasks_of(app, pregnancy)
    with db_of(app).reading() as session:
        default = session.scalar(select(CareTeam.id).where(CareTeam.is_default.is_(True)))
    assert (task.team_id, task.assignee_id) == (default, None)


def test_a_page_of_tasks_is_routed_with_one_read_of_care_rows(api: Api, app: Flask) -> None:
    pregnancies = [pregnancy_of(api, f"p-{i}", n=i + 1) for i in range(3)]
    rows = [{"hospital_id": "a", "pregnancy_id": p, "assign": "responsible_doctor"} for p in pregnancies]
    seen: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    with db_of(app).transaction() as session:
        bind = session.connection().engine
        event.listen(bind, "before_cursor_execute", count)
        try:
            care_routing.resolve_rows(session, rows * 4, NOW)  # 12 tasks
        finally:
            event.remove(bind, "before_cursor_execute", count)
    assert len(seen) == 2  # the care rows of the page, the hospital's teams
    assert {(r["team_id"], r["assignee_id"]) for r in rows} == {(rows[0]["team_id"], None)}


# --- set_care ---------------------------------------------------------------------------------------


def test_changing_her_doctor_moves_her_open_unclaimed_tasks_and_keeps_claimed_ones(
    api: Api, app: Flask
) -> None:
    db, cipher = db_of(app), app.extensions["carepath.cipher"]
    first, second = add_staff(app, "a", name="王医生"), add_staff(app, "a", name="李医生")
    pregnancy = pregnancy_of(api)
    team = team_with(app, "产科一组", (first, "doctor"), (second, "doctor"))
    care_teams.set_care(
        db, ADMIN, pregnancy, team_id=team, responsible_doctor_id=int(first.id), reason="分组", now=NOW
    )
    previa_task(api)
    care = care_teams.set_care(
        db, ADMIN, pregnancy, responsible_doctor_id=int(second.id), reason="轮转", now=NOW
    )
    (task,) = tasks_of(app, pregnancy)
    assert task.assignee_id == int(second.id)
    assert care.responsible_doctor is not None and care.responsible_doctor.name == "李医生"
    assert [(c.what, c.old, c.new, c.reason) for c in care.history[:1]] == [
        ("responsible_doctor", "王医生", "李医生", "轮转")
    ]
    from carepath.store import tasks

    tasks.claim(db, cipher, second, task.id, NOW)
    care_teams.set_care(
        db, ADMIN, pregnancy, responsible_doctor_id=int(first.id), reason="回到原医生", now=NOW
    )
    assert tasks_of(app, pregnancy)[0].assignee_id == int(second.id)  # claimed: stays


def test_set_care_refuses_a_non_member_without_writing_anything(api: Api, app: Flask) -> None:
    db = db_of(app)
    member, outsider = add_staff(app, "a"), add_staff(app, "a", name="外科医生")
    pregnancy = pregnancy_of(api)
    team = team_with(app, "产科一组", (member, "doctor"))
    with db.reading() as session:
        before = len(session.scalars(select(PregnancyCareChange)).all())
    with pytest.raises(care_teams.NotTeamMemberError):
        care_teams.set_care(
            db, ADMIN, pregnancy, team_id=team, responsible_doctor_id=int(outsider.id), reason="x", now=NOW
        )
    with pytest.raises(care_teams.ReasonRequiredError):
        care_teams.set_care(db, ADMIN, pregnancy, team_id=team, reason=" ", now=NOW)
    with db.reading() as session:
        assert len(session.scalars(select(PregnancyCareChange)).all()) == before
        care = session.get(PregnancyCare, pregnancy)
        assert care is not None and care.team_id != team


def test_another_hospitals_pregnancy_and_team_are_not_found(api: Api, api_b: Api, app: Flask) -> None:
    db = db_of(app)
    theirs = pregnancy_of(api_b, "b-001", n=7)
    ours = pregnancy_of(api)
    their_team = care_teams.create_team(db, Actor("b", "staff", "x"), "B组", "obstetric", NOW)
    with pytest.raises(PregnancyNotFoundError):
        care_teams.set_care(db, ADMIN, theirs, reason="x", now=NOW)
    with pytest.raises(care_teams.TeamNotFoundError):
        care_teams.set_care(db, ADMIN, ours, team_id=their_team, reason="x", now=NOW)


def test_moving_her_team_clears_a_doctor_who_is_not_in_the_new_one_and_audits(api: Api, app: Flask) -> None:
    db = db_of(app)
    doctor, other = add_staff(app, "a"), add_staff(app, "a")
    pregnancy = pregnancy_of(api)
    one = team_with(app, "一组", (doctor, "doctor"))
    two = team_with(app, "二组", (other, "doctor"))
    care_teams.set_care(
        db, ADMIN, pregnancy, team_id=one, responsible_doctor_id=int(doctor.id), reason="a", now=NOW
    )
    care = care_teams.set_care(db, ADMIN, pregnancy, team_id=two, reason="转组", now=NOW)
    assert care.team is not None and care.team.name == "二组" and care.responsible_doctor is None
    with db.reading() as session:
        details = session.scalars(select(AuditEntry.detail).where(AuditEntry.pregnancy_id == pregnancy)).all()
    assert any("care changed" in d and "转组" in d for d in details)


# --- teams --------------------------------------------------------------------------------------


def test_members_leads_and_my_teams(app: Flask) -> None:
    db = db_of(app)
    nurse, doctor = add_staff(app, "a", "nurse", "张护士"), add_staff(app, "a", name="王医生")
    team = team_with(app, "产科一组", (nurse, "nurse"), (doctor, "doctor"))
    school = team_with(app, "孕妇学校", (nurse, "teacher"), kind="school")
    with pytest.raises(care_teams.NotTeamMemberError):
        care_teams.set_lead(db, ADMIN, school, int(doctor.id), NOW)
    care_teams.set_lead(db, ADMIN, team, int(doctor.id), NOW)
    with db.reading() as session:
        assert care_teams.my_team_ids(session, "a", int(nurse.id)) == sorted([team, school])
        assert care_teams.my_team_ids(session, "b", int(nurse.id)) == []
        listed = {t.name: t for t in care_teams.list_teams(session, "a")}
    assert listed["产科一组"].lead is not None and listed["产科一组"].lead.name == "王医生"
    assert {m.name for m in listed["产科一组"].members} == {"张护士", "王医生"}
    care_teams.remove_member(db, ADMIN, team, int(doctor.id), NOW)
    care_teams.archive_team(db, ADMIN, school, NOW)
    with db.reading() as session:
        assert care_teams.my_team_ids(session, "a", int(nurse.id)) == [team]
        assert care_teams.my_team_ids(session, "a", int(doctor.id)) == []
        (only,) = care_teams.list_teams(session, "a")
    assert only.lead is None and [m.name for m in only.members] == ["张护士"]
    with pytest.raises(care_teams.CareTeamError):
        care_teams.create_team(db, ADMIN, "产科一组", "obstetric", NOW)  # names are unique
    with pytest.raises(care_teams.CareTeamError):
        care_teams.create_team(db, ADMIN, "x", "surgery", NOW)


def test_the_default_team_and_a_team_with_women_are_not_archived(api: Api, app: Flask) -> None:
    db = db_of(app)
    pregnancy_of(api)
    with db.reading() as session:
        default = session.scalar(select(CareTeam.id).where(CareTeam.is_default.is_(True)))
    with pytest.raises(care_teams.CareTeamError):
        care_teams.archive_team(db, ADMIN, default, NOW)


# --- escalation ----------------------------------------------------------------------------------


def test_an_overdue_task_escalates_to_its_teams_lead_else_the_default_teams(api: Api, app: Flask) -> None:
    db = db_of(app)
    default_lead = team_lead(app)
    doctor, head = add_staff(app, "a", name="王医生"), add_staff(app, "a", name="主任")
    add_staff(app, "a", role="lead", name="旧护士长")  # a job title: no longer decides anything
    first = pregnancy_of(api, "p-1", n=1)
    second = pregnancy_of(api, "p-2", n=2)
    team = team_with(app, "产科一组", (doctor, "doctor"), (head, "doctor"))
    leaderless = team_with(app, "产科二组", (doctor, "doctor"))
    care_teams.set_lead(db, ADMIN, team, int(head.id), NOW)
    care_teams.set_care(db, ADMIN, first, team_id=team, reason="分组", now=NOW)
    care_teams.set_care(db, ADMIN, second, team_id=leaderless, reason="分组", now=NOW)
    previa_task(api, "p-1")
    previa_task(api, "p-2")
    escalated = tasks.escalate_overdue(db, NOW + timedelta(days=4))
    by_pregnancy = {tasks_of(app, p)[0].id: p for p in (first, second)}
    assert {by_pregnancy[e.task_id]: e.lead for e in escalated} == {
        first: head.label,
        second: default_lead.label,
    }


def test_without_any_team_lead_the_escalation_is_recorded_as_such(api: Api, app: Flask) -> None:
    db = db_of(app)
    add_staff(app, "a", role="lead", name="护士长")  # the old job title alone is not a lead
    pregnancy_of(api)
    previa_task(api)
    [escalated] = tasks.escalate_overdue(db, NOW + timedelta(days=4))
    assert escalated.lead is None
    with db.reading() as session:
        details = session.scalars(select(AuditEntry.detail).where(AuditEntry.actor == "scheduler:escalation"))
        assert any("no team lead on file" in d for d in details)


def test_a_pregnancy_without_a_care_row_gets_one_in_the_default_team(api: Api, app: Flask) -> None:
    from sqlalchemy import delete

    db = db_of(app)
    doctor = add_staff(app, "a")
    pregnancy = pregnancy_of(api)
    with db.transaction() as session:  # as if made before care rows existed and missed by 0020
        session.execute(delete(PregnancyCareChange))
        session.execute(delete(PregnancyCare))
    with db.transaction() as session:
        team, person = care_routing.resolve(session, pregnancy, "responsible_doctor", now=NOW)
        default = care_routing.default_team(session, "a", NOW)
    assert (team, person) == (default, None)
    with db.transaction() as session:
        session.execute(delete(PregnancyCareChange))
        session.execute(delete(PregnancyCare))
    team_one = team_with(app, "产科一组", (doctor, "doctor"))
    care = care_teams.set_care(
        db, ADMIN, pregnancy, team_id=team_one, responsible_doctor_id=int(doctor.id), reason="分组", now=NOW
    )
    assert care.team is not None and care.team.id == team_one
    assert [(c.what, c.actor) for c in care.history][-1] == ("team", "registration")  # the rule's row first


def test_a_task_reassigned_by_hand_stays_when_her_care_changes_unless_its_person_leaves(
    api: Api, app: Flask
) -> None:
    db, cipher = db_of(app), app.extensions["carepath.cipher"]
    doctor, colleague = add_staff(app, "a", name="王医生"), add_staff(app, "a", name="赵医生")
    nurse = add_staff(app, "a", name="陈护士")
    pregnancy = pregnancy_of(api)
    team = team_with(app, "产科一组", (doctor, "doctor"), (colleague, "doctor"), (nurse, "nurse"))
    care_teams.set_care(
        db, ADMIN, pregnancy, team_id=team, responsible_doctor_id=int(doctor.id), reason="分组", now=NOW
    )
    previa_task(api)
    (task,) = tasks_of(app, pregnancy)
    assert task.assignee_id == int(doctor.id)
    tasks.reassign(
        db, cipher, ADMIN, task.id, NOW, to_staff_id=int(colleague.id)
    )  # a colleague takes it over
    care_teams.set_care(db, ADMIN, pregnancy, responsible_nurse_id=int(nurse.id), reason="指定护士", now=NOW)
    assert tasks_of(app, pregnancy)[0].assignee_id == int(colleague.id)  # not undone
    care_teams.remove_member(db, ADMIN, team, int(colleague.id), NOW)
    assert tasks_of(app, pregnancy)[0].assignee_id == int(doctor.id)  # its person left: routed again
