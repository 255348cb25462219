"""Her team and the people responsible for her, changed from her record (issue 20 items 1 and 3):
the form offers the hospital's active teams and their active members, ``care_teams.set_care``
makes the change (history, audit, her open tasks re-routed), and its refusals are the fields'
errors in Chinese."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from carepath.store import care_teams
from carepath.store.models import AuditEntry, StaffTask
from carepath.store.models_teams import PregnancyCare, PregnancyCareChange
from carepath.store.scope import Actor
from tests.conftest import NOW
from tests.webapi.conftest import Api
from tests.webapi.staff.record_seed import in_care, logged_in, register, team

ADMIN = Actor("a", "staff", "0")


def make_staff(app: Flask, username: str, role: str, *, name: str) -> int:
    from carepath.store import accounts

    made = accounts.create_account(_db(app), "a", username, "pw-for-tests-only", [role], now=NOW, name=name)
    return made.id


def _db(app: Flask) -> Any:
    return app.extensions["carepath.db"]


@pytest.fixture
def ward(app: Flask, api: Api) -> dict[str, Any]:
    """A woman (orange suggested: an open task for her responsible doctor) in 产科一组 with Dr 周;
    产科二组 with Dr 吴 and nurse 郑; a nurse of 产科一组 logged in."""
    browser, nurse_id = logged_in(app, "nurse.li", "nurse")
    zhou = make_staff(app, "doctor.zhou", "doctor", name="周医生")
    wu = make_staff(app, "doctor.wu", "doctor", name="吴医生")
    zheng = make_staff(app, "nurse.zheng", "nurse", name="郑护士")
    one = team(app, members=((nurse_id, "nurse"), (zhou, "doctor")))
    two = team(app, name="产科二组", members=((wu, "doctor"), (zheng, "nurse")))
    woman = register(api)
    in_care(app, woman, one, doctor=zhou)
    return {
        "browser": browser,
        "woman": woman,
        "one": one,
        "two": two,
        "zhou": zhou,
        "wu": wu,
        "zheng": zheng,
    }


def _post(browser: Any, woman: str, data: dict[str, str]) -> Any:
    record = f"/staff/patients/{woman}"
    return browser.post(f"{record}/care", data, token_from=record)


def _care(app: Flask, woman: str) -> tuple[Any, ...]:
    with _db(app).reading() as session:
        care = session.get(PregnancyCare, woman)
        assert care is not None
        changes = session.scalar(
            select(func.count())
            .select_from(PregnancyCareChange)
            .where(PregnancyCareChange.pregnancy_id == woman)
        )
        return (
            care.team_id,
            care.responsible_doctor_id,
            care.responsible_nurse_id,
            care.case_manager_id,
            changes,
        )


def test_her_record_shows_her_care_team_the_people_and_the_history(app: Flask, ward: dict[str, Any]) -> None:
    text = ward["browser"].client.get(f"/staff/patients/{ward['woman']}").get_data(as_text=True)
    care = text[text.index('id="care"') : text.index('id="tasks"')]
    assert "产科一组" in care and "周医生" in care
    history = care[care.index('id="care-history"') :]
    assert "建档分组" in history  # the reason
    assert "主管责任医生" in history and "团队" in history and "建档" in history  # what changed, in Chinese
    assert "产科团队" in history  # the default team she joined at registration, by name


def test_the_form_offers_the_hospitals_active_teams_and_their_active_members(
    app: Flask, api_b: Api, ward: dict[str, Any]
) -> None:
    gone = make_staff(app, "doctor.gone", "doctor", name="离组医生")
    care_teams.add_member(_db(app), ADMIN, ward["two"], gone, team_role="doctor", now=NOW)
    care_teams.remove_member(_db(app), ADMIN, ward["two"], gone, NOW)
    archived = care_teams.create_team(_db(app), ADMIN, "已撤销组", "obstetric", NOW)
    care_teams.archive_team(_db(app), ADMIN, archived, NOW)
    theirs = team(app, "b", "乙院产科")
    text = ward["browser"].client.get(f"/staff/patients/{ward['woman']}").get_data(as_text=True)
    form = text[text.index('id="care-form"') : text.index("</form>", text.index('id="care-form"'))]
    teams = form[form.index('name="team"') : form.index("</select>", form.index('name="team"'))]
    assert f'value="{ward["one"]}" selected' in teams and f'value="{ward["two"]}"' in teams
    assert f'value="{archived}"' not in teams and f'value="{theirs}"' not in teams
    assert "已撤销组" not in form and "乙院产科" not in form
    assert "吴医生" in form and "郑护士" in form and "离组医生" not in form
    assert f'data-team="{ward["two"]}"' in form  # the people grouped by their team


def test_changing_her_team_and_doctor_moves_her_open_task_and_is_audited(
    app: Flask, ward: dict[str, Any]
) -> None:
    woman = ward["woman"]
    done = _post(
        ward["browser"],
        woman,
        {
            "team": str(ward["two"]),
            "responsible_doctor": str(ward["wu"]),
            "responsible_nurse": str(ward["zheng"]),
            "case_manager": "",
            "reason": "转入二组随访",
        },
    )
    assert done.status_code == 302
    assert _care(app, woman)[:4] == (ward["two"], ward["wu"], ward["zheng"], None)
    with _db(app).reading() as session:
        task = session.scalar(select(StaffTask).where(StaffTask.title == "高风险孕妇专案管理"))
        audits = session.scalars(select(AuditEntry).where(AuditEntry.action == "change")).all()
    assert task is not None and (task.team_id, task.assignee_id) == (ward["two"], ward["wu"])
    assert any("care changed" in a.detail and "转入二组随访" in a.detail for a in audits)
    text = ward["browser"].client.get(f"/staff/patients/{woman}").get_data(as_text=True)
    assert "已更新" in text  # the flash
    care = text[text.index('id="care"') : text.index('id="tasks"')]
    assert "产科二组" in care and "吴医生" in care and "郑护士" in care and "转入二组随访" in care


@pytest.mark.parametrize(
    ("data", "field", "says"),
    [
        ({"reason": " "}, "reason", "请填写原因"),
        ({"reason": "x" * 201}, "reason", "原因太长"),
        ({"responsible_doctor": "WU", "reason": "转组"}, "responsible_doctor", "此人不是该团队的在岗成员"),
        ({"responsible_nurse": "ZHENG", "reason": "转组"}, "responsible_nurse", "此人不是该团队的在岗成员"),
        ({"team": "THEIRS", "reason": "转组"}, "team", "本院没有这个团队"),
        ({"team": "abc", "reason": "转组"}, "team", "请选择团队"),
        ({"case_manager": "x1", "reason": "转组"}, "case_manager", "请选择团队中的成员"),
    ],
)
def test_a_refused_change_is_the_fields_error_in_chinese_and_writes_nothing(
    app: Flask, ward: dict[str, Any], data: dict[str, str], field: str, says: str
) -> None:
    theirs = team(app, "b", "乙院产科")
    names = {"WU": str(ward["wu"]), "ZHENG": str(ward["zheng"]), "THEIRS": str(theirs)}
    form = {"team": str(ward["one"]), "responsible_doctor": str(ward["zhou"]), "responsible_nurse": ""}
    form |= {k: names.get(v, v) for k, v in data.items()}
    before = _care(app, ward["woman"])
    answer = _post(ward["browser"], ward["woman"], form)
    text = answer.get_data(as_text=True)
    assert answer.status_code == 422
    assert f'data-field="{field}"' in text and says in text
    assert _care(app, ward["woman"]) == before


def test_changing_her_care_needs_patient_write_and_her_hospital(
    app: Flask, api_b: Api, ward: dict[str, Any]
) -> None:
    analyst, _ = logged_in(app, "analyst.qian", "analyst")
    refused = analyst.post(f"/staff/patients/{ward['woman']}/care", {"reason": "x"}, token_from="/")
    assert refused.status_code == 403
    hers = register(api_b, "b-001")
    missing = _post(ward["browser"], hers, {"team": str(ward["one"]), "reason": "x"})
    assert missing.status_code == 404
