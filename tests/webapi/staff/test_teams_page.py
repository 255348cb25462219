"""/staff/teams (issue 20 item 1): an admin lists the care teams, makes one, adds and removes
members with their team role and sets the lead, in Chinese; a nurse is refused; another
hospital's team is not found. On SQLite and PostgreSQL."""

from __future__ import annotations

import re

from flask import Flask
from sqlalchemy import select

import carepath.store.models_teams  # noqa: F401  (the tables, until conftest's list names them)
from carepath.store import care_teams
from carepath.store.models import AuditEntry
from carepath.store.scope import Actor
from tests.conftest import NOW
from tests.webapi.conftest import StaffBrowser, make_staff

PAGE = "/staff/teams"


def teams_of(app: Flask, hospital: str = "a") -> dict[str, care_teams.Team]:
    with app.extensions["carepath.db"].reading() as session:
        return {t.name: t for t in care_teams.list_teams(session, hospital)}


def test_an_admin_makes_a_team_adds_members_and_sets_the_lead(app: Flask, browser: StaffBrowser) -> None:
    make_staff(app, "admin.zhao", "admin")
    doctor = make_staff(app, "dr.wang", "doctor")
    nurse = make_staff(app, "nurse.li", "nurse")
    browser.login("admin.zhao")
    page = browser.client.get(PAGE).get_data(as_text=True)
    assert "诊疗团队" in page and "新建团队" in page and 'id="nav-teams"' in page

    made = browser.post(PAGE, {"name": "产科一组", "kind": "obstetric"})
    assert made.status_code == 302
    team = teams_of(app)["产科一组"]
    path = f"{PAGE}/{team.id}"
    assert (
        browser.post(
            f"{path}/members", {"staff_id": str(doctor), "team_role": "doctor"}, token_from=PAGE
        ).status_code
        == 302
    )
    assert (
        browser.post(
            f"{path}/members", {"staff_id": str(nurse), "team_role": "nurse"}, token_from=PAGE
        ).status_code
        == 302
    )
    assert browser.post(f"{path}/lead", {"staff_id": str(doctor)}, token_from=PAGE).status_code == 302
    page = browser.client.get(PAGE).get_data(as_text=True)
    assert "已保存团队组长" in page
    section = re.search(r'<section class="card team"[^>]*data-name="产科一组".*?</section>', page, re.S)
    assert section is not None
    lead_line = re.search(r'<p class="lead">组长: <strong>(.*?)</strong>', section.group(0))
    assert lead_line is not None and lead_line.group(1) != "无"
    assert "医生" in section.group(0) and "护士" in section.group(0)
    team = teams_of(app)["产科一组"]
    assert team.lead is not None and team.lead.id == doctor
    assert {(m.staff_id, m.team_role) for m in team.members} == {(doctor, "doctor"), (nurse, "nurse")}

    removed = browser.post(f"{path}/members/{doctor}/remove", {}, token_from=PAGE)
    assert removed.status_code == 302
    team = teams_of(app)["产科一组"]
    assert team.lead is None and [m.staff_id for m in team.members] == [nurse]
    with app.extensions["carepath.db"].reading() as session:
        details = session.scalars(select(AuditEntry.detail).where(AuditEntry.detail.like("team %"))).all()
    assert any("created" in d for d in details) and any("lead is" in d for d in details)


def test_refused_changes_say_why_in_chinese_and_write_nothing(app: Flask, browser: StaffBrowser) -> None:
    make_staff(app, "admin.zhao", "admin")
    outsider = make_staff(app, "dr.wang", "doctor")
    browser.login("admin.zhao")
    assert browser.post(PAGE, {"name": "产科一组", "kind": "obstetric"}).status_code == 302
    again = browser.post(PAGE, {"name": "产科一组", "kind": "obstetric"})
    assert again.status_code == 422 and "本院已有同名团队" in again.get_data(as_text=True)
    empty = browser.post(PAGE, {"name": " ", "kind": "obstetric"})
    assert empty.status_code == 422 and "团队名称为1至100个字" in empty.get_data(as_text=True)
    team = teams_of(app)["产科一组"]
    lead = browser.post(f"{PAGE}/{team.id}/lead", {"staff_id": str(outsider)}, token_from=PAGE)
    assert lead.status_code == 422 and "不是该团队的在岗成员" in lead.get_data(as_text=True)
    role = browser.post(
        f"{PAGE}/{team.id}/members", {"staff_id": str(outsider), "team_role": "pilot"}, token_from=PAGE
    )
    assert role.status_code == 422 and "请选择成员的团队角色" in role.get_data(as_text=True)
    assert teams_of(app)["产科一组"].lead is None and teams_of(app)["产科一组"].members == ()
    assert list(teams_of(app)) == ["产科一组"]


def test_another_hospitals_team_is_not_found(app: Flask, browser: StaffBrowser) -> None:
    theirs = care_teams.create_team(
        app.extensions["carepath.db"], Actor("b", "staff", "x"), "B组", "obstetric", NOW
    )
    make_staff(app, "admin.zhao", "admin")
    doctor = make_staff(app, "dr.wang", "doctor")
    browser.login("admin.zhao")
    answer = browser.post(
        f"{PAGE}/{theirs}/members", {"staff_id": str(doctor), "team_role": "doctor"}, token_from=PAGE
    )
    assert answer.status_code == 404
    assert "B组" not in browser.client.get(PAGE).get_data(as_text=True)
    assert teams_of(app, "b")["B组"].members == ()


def test_a_nurse_is_refused_the_teams_page(app: Flask, browser: StaffBrowser) -> None:
    make_staff(app, "nurse.li", "nurse")
    browser.login("nurse.li")
    page = browser.client.get(PAGE)
    assert page.status_code == 403
    home = browser.client.get("/").get_data(as_text=True)
    assert 'id="nav-teams"' not in home
    assert app.view_functions["staff_teams.teams_page"].required_permission == "staff.manage"
