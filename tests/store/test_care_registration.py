"""Her care set at registration (issue 20 item 1): the team of the source she came through
and its doctor, else the hospital's default team; recorded as a change by "registration"."""

from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy import select

from carepath.store import care_teams, registration, sources
from carepath.store.models import StaffTask
from carepath.store.models_sources import Source
from carepath.store.models_teams import PregnancyCare, PregnancyCareChange
from carepath.store.scope import Actor
from tests.conftest import NOW, resident_id
from tests.store.test_care_teams import ADMIN, db_of, team_with
from tests.store.test_registration import checked, register
from tests.store.test_tasks import add_staff


def card(app: Flask, *, team: int | None, doctor: int | None) -> str:
    with db_of(app).transaction() as session:
        made = sources.create(
            session, sources.plan(session, "a", NOW, doctor=str(doctor) if doctor else None), NOW, "test"
        )
        session.get(Source, made.id).team_id = team  # type: ignore[union-attr]
        return made.code


def care_after(
    app: Flask, token: str, n: int, code: str | None
) -> tuple[PregnancyCare, list[PregnancyCareChange]]:
    done = register(app, token, checked(n), source=code) if code else register(app, token, checked(n))
    assert isinstance(done, registration.Registered)
    with db_of(app).reading() as session:
        care = session.get(PregnancyCare, done.pregnancy_id)
        changes = session.scalars(
            select(PregnancyCareChange).where(PregnancyCareChange.pregnancy_id == done.pregnancy_id)
        ).all()
        assert care is not None
        return care, list(changes)


def test_a_doctors_card_gives_her_its_team_and_that_doctor(app: Flask) -> None:
    doctor = add_staff(app, "a", name="王医生")
    team = team_with(app, "产科一组", (doctor, "doctor"))
    care, changes = care_after(app, "tok-1", 1, card(app, team=team, doctor=int(doctor.id)))
    assert (care.team_id, care.responsible_doctor_id, care.updated_by) == (
        team,
        int(doctor.id),
        "registration",
    )
    assert {(c.what, c.new_value, c.actor) for c in changes} == {
        ("team", str(team), "registration"),
        ("responsible_doctor", doctor.id, "registration"),
    }
    assert all("来源" in (c.reason or "") for c in changes)


def test_a_cards_doctor_outside_its_team_is_not_made_her_doctor(app: Flask) -> None:
    doctor, member = add_staff(app, "a"), add_staff(app, "a")
    team = team_with(app, "产科一组", (member, "doctor"))
    care, _ = care_after(app, "tok-2", 2, card(app, team=team, doctor=int(doctor.id)))
    assert (care.team_id, care.responsible_doctor_id) == (team, None)


@pytest.mark.parametrize("with_source", [True, False])
def test_without_a_sources_team_she_joins_the_default_team(app: Flask, with_source: bool) -> None:
    code = card(app, team=None, doctor=None) if with_source else None
    care, changes = care_after(app, "tok-3", 3, code)
    with db_of(app).reading() as session:
        (team,) = care_teams.list_teams(session, "a")
    assert team.is_default and care.team_id == team.id
    assert [(c.what, c.reason) for c in changes] == [("team", "医院规则：默认团队")]


def test_her_guardian_task_waits_in_her_teams_queue(app: Flask) -> None:
    nurse = add_staff(app, "a", "nurse", "张护士")
    team = team_with(app, "产科一组", (nurse, "nurse"))
    young = checked(
        4, id_number=resident_id(4, born="20130102"), guardian_name="张父", guardian_relation="father",
        guardian_consent="yes",
    )  # fmt: skip
    done = register(app, "tok-4", young, source=card(app, team=team, doctor=None))
    assert isinstance(done, registration.Registered)
    care_teams.set_care(
        db_of(app), ADMIN, done.pregnancy_id, responsible_nurse_id=int(nurse.id), reason="x", now=NOW
    )
    with db_of(app).reading() as session:
        task = session.scalars(
            select(StaffTask).where(StaffTask.dedupe_key.startswith("registration:"))
        ).one()
        assert (task.team_id, task.assignee_id) == (team, int(nurse.id))  # followed her new nurse


def test_a_sources_team_must_be_an_active_team_of_its_hospital(app: Flask) -> None:
    theirs = care_teams.create_team(db_of(app), Actor("b", "staff", "x"), "B组", "obstetric", NOW)
    ours = care_teams.create_team(db_of(app), ADMIN, "产科一组", "obstetric", NOW)
    with db_of(app).transaction() as session:
        with pytest.raises(sources.SourceError):
            sources.plan(session, "a", NOW, team=theirs)
        made = sources.create(session, sources.plan(session, "a", NOW, team=ours), NOW, "test")
        assert made.team_id == ours
