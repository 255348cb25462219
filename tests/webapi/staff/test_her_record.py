"""患者 and her record (issue 20 item 3): each section, each action, each bad input, through the
pages as a browser would use them (session login, CSRF, the form's one-time request token)."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from carepath.store.models import AuditEntry, EventRecord, InboxItem, OutboxRow, Pregnancy, StaffTask, TagLog
from tests.conftest import approve_item
from tests.webapi.conftest import Api
from tests.webapi.staff.record_seed import act, in_care, logged_in, register, team


def _db(app: Flask) -> Any:
    return app.extensions["carepath.db"]


def _audits(app: Flask, action: str) -> list[AuditEntry]:
    with _db(app).reading() as session:
        return list(session.scalars(select(AuditEntry).where(AuditEntry.action == action)))


def _facts(app: Flask, pregnancy_id: str) -> dict[str, Any]:
    with _db(app).reading() as session:
        pregnancy = session.get(Pregnancy, pregnancy_id)
        assert pregnancy is not None
        return dict(pregnancy.state["facts"])


@pytest.fixture
def woman(app: Flask, api: Api) -> str:
    return register(api)


@pytest.fixture
def nurse(app: Flask) -> Any:
    return logged_in(app, "nurse.li", "nurse")


@pytest.fixture
def doctor(app: Flask) -> Any:
    return logged_in(app, "doctor.wang", "doctor")


# --- 患者 -----------------------------------------------------------------------------------------


def test_the_list_shows_my_teams_women_masked_and_paged(
    app: Flask, api: Api, nurse: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    browser, nurse_id = nurse
    mine = team(app, members=((nurse_id, "nurse"),))
    other = team(app, name="产科二组")
    ids = [register(api, f"p-{n:03d}", code=None, n=n) for n in range(1, 5)]
    for pregnancy_id in ids[:3]:
        in_care(app, pregnancy_id, mine)
    in_care(app, ids[3], other)
    from carepath.store import her_record

    first = browser.client.get("/staff/patients")
    page = first.get_data(as_text=True)
    assert first.status_code == 200
    assert "患者" in page and "王**" in page and "王小红" not in page
    assert "13812340001" not in page and "138****0001" in page
    assert all(f"/staff/patients/{i}" in page for i in ids[:3]) and f"/staff/patients/{ids[3]}" not in page
    # a page of two: the keyset goes on where the first page ended
    monkeypatch.setattr(her_record, "PAGE", 2)
    first = browser.client.get("/staff/patients").get_data(as_text=True)
    assert 'id="next-page"' in first
    after = sorted(ids[:3])[1]
    second = browser.client.get(f"/staff/patients?after={after}").get_data(as_text=True)
    assert f"/staff/patients/{sorted(ids[:3])[2]}" in second and 'id="next-page"' not in second
    assert any("my teams' women" in a.detail for a in _audits(app, "list"))


def test_a_staff_member_in_no_team_sees_an_empty_list(app: Flask, woman: str, nurse: Any) -> None:
    browser, _ = nurse
    page = browser.client.get("/staff/patients").get_data(as_text=True)
    assert 'id="no-women"' in page


def test_the_list_reads_my_teams_as_the_workspace_does(app: Flask, api: Api, nurse: Any) -> None:
    """One definition of "my teams" (care_teams.my_team_ids): an archived team's women, and a
    team I have left, are not in my list."""
    from carepath.store.models_teams import CareTeam, CareTeamMember

    browser, nurse_id = nurse
    kept = team(app, members=((nurse_id, "nurse"),))
    archived = team(app, name="旧产科组", members=((nurse_id, "nurse"),))
    left = team(app, name="产科三组", members=((nurse_id, "nurse"),))
    ids = [register(api, f"p-{n:03d}", code=None, n=n) for n in range(1, 4)]
    for pregnancy_id, team_id in zip(ids, (kept, archived, left), strict=True):
        in_care(app, pregnancy_id, team_id)
    from tests.conftest import NOW

    with _db(app).transaction() as session:
        archived_team = session.get(CareTeam, archived)
        assert archived_team is not None
        archived_team.archived_at = NOW
        for member in session.scalars(select(CareTeamMember).where(CareTeamMember.team_id == left)):
            member.removed_at = NOW
    page = browser.client.get("/staff/patients").get_data(as_text=True)
    assert f"/staff/patients/{ids[0]}" in page
    assert f"/staff/patients/{ids[1]}" not in page and f"/staff/patients/{ids[2]}" not in page


def test_the_list_needs_a_login_and_task_work(app: Flask, woman: str) -> None:
    anonymous = app.test_client().get("/staff/patients")
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]
    author, _ = logged_in(app, "author.zhang", "content_author")
    refused = author.client.get("/staff/patients")
    assert refused.status_code == 403 and "task.work" in refused.get_data(as_text=True)


# --- her record: sections ---------------------------------------------------------------------


def test_her_record_shows_every_section_in_chinese_and_is_audited(
    app: Flask, api: Api, woman: str, nurse: Any
) -> None:
    browser, nurse_id = nurse
    in_care(app, woman, team(app, members=((nurse_id, "nurse"),)), doctor=nurse_id)
    api.post(
        "/api/v1/events",
        {
            "id": "lab-1",
            "type": "lab.result",
            "occurred_at": "2026-07-10T15:00:00+08:00",
            "patient": {"his_id": "p-001"},
            "data": {"code": "hb", "value": 95},
        },
    )
    page = browser.client.get(f"/staff/patients/{woman}")
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    for section in (
        "demographics",
        "pregnancy",
        "risk",
        "diagnoses",
        "labs",
        "medications",
        "tags",
        "enrolments",
        "care",
        "tasks",
        "answers",
        "consents",
        "inbox",
        "timeline",
    ):
        assert f'id="{section}"' in text, section
    assert "王**" in text and "王小红" not in text  # masked until 显示
    assert "橙色" in text and "尚未确认" in text  # orange, suggested by a rule
    assert "O44.1" in text  # the diagnosis
    assert "妊娠风险五色分级（示例）" in text  # the pathway's title, not its id
    assert "前置胎盘" in text  # the rule's reason for the colour
    assert "高风险孕妇专案管理" in text  # the task the orange opened
    assert "新增诊断" in text  # why: the event that set the rule off, in words
    assert "产科一组" in text and "建档分组" in text  # her team and its history
    assert "95" in text  # the lab
    reads = [a for a in _audits(app, "read") if a.pregnancy_id == woman]
    assert reads, "the record's read is audited"


def test_showing_her_details_in_full_needs_patient_read_and_is_audited(
    app: Flask, woman: str, nurse: Any
) -> None:
    browser, _ = nurse
    page = browser.post(f"/staff/patients/{woman}/unmask", {}, token_from=f"/staff/patients/{woman}")
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "王小红" in text and "13812340001" in text
    assert [a.pregnancy_id for a in _audits(app, "unmask")] == [woman]
    teacher, _ = logged_in(app, "analyst.zhao", "analyst")
    refused = teacher.post(f"/staff/patients/{woman}/unmask", {}, token_from="/")
    assert refused.status_code == 403


def test_another_hospitals_woman_is_not_found_and_counted(app: Flask, api_b: Api, nurse: Any) -> None:
    browser, _ = nurse
    hers = register(api_b, "b-001")
    for path in ("", "/bind"):
        answer = browser.client.get(f"/staff/patients/{hers}{path}")
        assert answer.status_code == 404 and "本院没有这位孕妇" in answer.get_data(as_text=True)
    posted = browser.post(
        f"/staff/patients/{hers}/tags", {"tag": "x", "request": "a" * 16}, token_from="/staff/patients"
    )
    assert posted.status_code == 404
    assert len(_audits(app, "not-found")) >= 1
    assert browser.client.get("/staff/patients/no-such-pregnancy").status_code == 404


def test_her_inbox_is_rendered_as_she_sees_it_and_a_withdrawn_item_says_so(
    app: Flask, woman: str, nurse: Any
) -> None:
    from datetime import timedelta

    from tests.conftest import NOW

    with _db(app).transaction() as session:
        session.add(
            InboxItem(
                hospital_id="a",
                pregnancy_id=woman,
                dedupe_key="t-1",
                kind="push",
                title="孕期营养",
                summary="s",
                body="**多吃蔬菜**\n\n<script>x</script>",
                link=None,
                filed_at=NOW,
                read_at=NOW + timedelta(hours=1),
                withdrawn_at=None,
                withdrawn_reason=None,
            )
        )
        session.add(
            InboxItem(
                hospital_id="a",
                pregnancy_id=woman,
                dedupe_key="t-2",
                kind="push",
                title="恭喜",
                summary="s",
                body="祝贺",
                link=None,
                filed_at=NOW,
                read_at=None,
                withdrawn_at=NOW,
                withdrawn_reason="loss",
            )
        )
    browser, _ = nurse
    text = browser.client.get(f"/staff/patients/{woman}").get_data(as_text=True)
    assert "<strong>多吃蔬菜</strong>" in text and "<script>x</script>" not in text  # the safe renderer
    assert "已撤回" in text and "已读" in text


# --- actions -------------------------------------------------------------------------------------


def test_adding_and_removing_a_tag_goes_through_the_language_events(
    app: Flask, woman: str, nurse: Any
) -> None:
    browser, nurse_id = nurse
    added = act(
        browser, woman, "tags", "tag-form", {"tag": "妊娠期糖尿病", "operation": "add", "reason": "门诊诊断"}
    )
    assert added.status_code == 302
    facts = _facts(app, woman)
    assert "妊娠期糖尿病" in facts["tags"]
    assert "GDM管理中" in facts["tags"]  # the engine enrolled her in gdm (its audience is the tag)
    with _db(app).reading() as session:
        kinds = session.scalars(select(EventRecord.type).where(EventRecord.pregnancy_id == woman)).all()
        log = session.scalars(select(TagLog).where(TagLog.tag == "妊娠期糖尿病")).all()
    assert "tag.added" in kinds
    assert [(t.operation, t.by, t.why) for t in log] == [("add", f"staff:{nurse_id}", "门诊诊断")]
    removed = act(browser, woman, "tags", "tag-form", {"tag": "妊娠期糖尿病", "operation": "remove"})
    assert removed.status_code == 302
    assert "妊娠期糖尿病" not in _facts(app, woman)["tags"]
    assert any("tag.removed" in a.detail and a.actor == f"staff:{nurse_id}" for a in _audits(app, "change"))


def test_the_same_form_sent_twice_is_one_action(app: Flask, woman: str, nurse: Any) -> None:
    browser, _ = nurse
    record = f"/staff/patients/{woman}"
    page = browser.client.get(record).get_data(as_text=True)
    from tests.webapi.staff.record_seed import form_request

    data = {"tag": "重点随访", "operation": "add", "request": form_request(page, "tag-form")}
    first = browser.post(f"{record}/tags", data, token_from=record)
    second = browser.post(f"{record}/tags", data, token_from=record)
    assert first.status_code == second.status_code == 302
    with _db(app).reading() as session:
        assert (
            session.scalar(
                select(func.count()).select_from(EventRecord).where(EventRecord.type == "tag.added")
            )
            == 1
        )
    assert "已经完成" in browser.client.get(record).get_data(as_text=True)


def test_enrolling_and_ending_a_plan_by_hand_needs_a_reason(app: Flask, woman: str, nurse: Any) -> None:
    browser, _ = nurse
    missing = act(
        browser, woman, "plans", "plan-form", {"pathway": "gdm-example", "operation": "enrol", "reason": " "}
    )
    assert missing.status_code == 422
    assert 'data-field="reason"' in missing.get_data(as_text=True) and "请填写原因" in missing.get_data(
        as_text=True
    )
    enrolled = act(
        browser,
        woman,
        "plans",
        "plan-form",
        {"pathway": "gdm-example", "operation": "enrol", "reason": "医生判断需要管理"},
    )
    assert enrolled.status_code == 302
    with _db(app).reading() as session:
        pregnancy = session.get(Pregnancy, woman)
        assert pregnancy is not None
        active = [e["pathway_id"] for e in pregnancy.state["enrolments"] if e.get("ended_at") is None]
        event = session.scalar(select(EventRecord).where(EventRecord.type == "plan.enrol_requested"))
    assert "gdm-example" in active
    assert event is not None and event.data["reason"] == "医生判断需要管理" and event.data["requested_by"]
    ended = act(
        browser,
        woman,
        "plans",
        "plan-form",
        {"pathway": "gdm-example", "operation": "end", "reason": "孕妇拒绝"},
    )
    assert ended.status_code == 302
    with _db(app).reading() as session:
        pregnancy = session.get(Pregnancy, woman)
        assert pregnancy is not None
        still = [e["pathway_id"] for e in pregnancy.state["enrolments"] if e.get("ended_at") is None]
    assert "gdm-example" not in still
    unknown = act(
        browser, woman, "plans", "plan-form", {"pathway": "no-such-plan", "operation": "enrol", "reason": "x"}
    )
    assert unknown.status_code == 422 and "路径库中没有" in unknown.get_data(as_text=True)


def test_a_doctor_confirms_the_suggested_colour_and_a_nurse_may_not(
    app: Flask, woman: str, nurse: Any, doctor: Any
) -> None:
    nurse_browser, _ = nurse
    page = nurse_browser.client.get(f"/staff/patients/{woman}").get_data(as_text=True)
    assert 'id="confirm-colour"' not in page  # no form for a nurse
    refused = nurse_browser.post(
        f"/staff/patients/{woman}/colour",
        {"colour": "orange", "request": "r" * 16},
        token_from=f"/staff/patients/{woman}",
    )
    assert refused.status_code == 403 and "risk.confirm" in refused.get_data(as_text=True)
    assert "权限" in refused.get_data(as_text=True)
    browser, _ = doctor
    done = act(browser, woman, "colour", "confirm-colour", {"colour": "orange", "note": "B超证实"})
    assert done.status_code == 302
    facts = _facts(app, woman)
    assert facts["risk_colour"] == "orange" and facts["risk_colour_status"] == "confirmed"
    with _db(app).reading() as session:
        assert session.scalar(select(EventRecord).where(EventRecord.type == "risk.confirmed")) is not None
    text = browser.client.get(f"/staff/patients/{woman}").get_data(as_text=True)
    assert "医生已确认" in text and "B超证实" in text
    bad = act(browser, woman, "colour", "confirm-colour", {"colour": "blue"})
    assert bad.status_code == 422 and 'data-field="colour"' in bad.get_data(as_text=True)


def test_sending_an_approved_item_files_it_in_her_inbox_once(app: Flask, woman: str, nurse: Any) -> None:
    browser, _ = nurse
    refused = act(browser, woman, "send", "send-form", {"content": "gdm-welcome"})
    assert refused.status_code == 422 and "尚未通过审核" in refused.get_data(as_text=True)
    unknown = act(browser, woman, "send", "send-form", {"content": "no-such-item"})
    assert unknown.status_code == 422
    approve_item(_db(app), "a", "content", "gdm-welcome")
    record = f"/staff/patients/{woman}"
    page = browser.client.get(record).get_data(as_text=True)
    from tests.webapi.staff.record_seed import form_request

    data = {"content": "gdm-welcome", "reason": "门诊宣教", "request": form_request(page, "send-form")}
    assert browser.post(f"{record}/send", data, token_from=record).status_code == 302
    assert browser.post(f"{record}/send", data, token_from=record).status_code == 302  # a double click
    with _db(app).reading() as session:
        rows = session.scalars(select(OutboxRow).where(OutboxRow.pathway_id == "staff")).all()
        filed = session.scalar(
            select(func.count()).select_from(InboxItem).where(InboxItem.pregnancy_id == woman)
        )
    assert (
        len(rows) == 1 and rows[0].params == {"content": "gdm-welcome"} and rows[0].inbox_item_id is not None
    )
    assert filed == 1
    assert "人工发送" in browser.client.get(record).get_data(as_text=True)


def test_opening_a_task_puts_it_in_her_teams_queue(app: Flask, woman: str, nurse: Any) -> None:
    browser, nurse_id = nurse
    mine = team(app, members=((nurse_id, "nurse"),))
    in_care(app, woman, mine)
    missing = act(
        browser, woman, "tasks", "task-form", {"title": "", "assign": "responsible_nurse", "priority": "high"}
    )
    assert missing.status_code == 422 and 'data-field="title"' in missing.get_data(as_text=True)
    done = act(
        browser,
        woman,
        "tasks",
        "task-form",
        {"title": "电话随访血糖", "assign": "responsible_nurse", "priority": "high", "due_hours": "4"},
    )
    assert done.status_code == 302
    with _db(app).reading() as session:
        task = session.scalar(select(StaffTask).where(StaffTask.title == "电话随访血糖"))
    assert task is not None and task.team_id == mine and task.priority == "high" and task.due_at is not None
    bad = act(browser, woman, "tasks", "task-form", {"title": "x", "assign": "everyone", "priority": "high"})
    assert bad.status_code == 422


def test_a_task_opened_by_hand_is_routed_like_the_engines(app: Flask, woman: str, nurse: Any) -> None:
    """care_routing.resolve: for her responsible doctor, on that doctor (as the engine's 高风险孕妇
    专案管理 task for her doctor is); for a service, that service's team; else her team's queue."""
    from carepath.store import care_teams
    from carepath.store.scope import Actor
    from tests.conftest import NOW
    from tests.webapi.conftest import make_staff

    browser, nurse_id = nurse
    doctor_id = make_staff(app, "doctor.zhou", "doctor")
    midwife_id = make_staff(app, "midwife.sun", "nurse")
    mine = team(app, members=((nurse_id, "nurse"), (doctor_id, "doctor")))
    in_care(app, woman, mine, doctor=doctor_id, nurse=nurse_id)
    admin = Actor("a", "staff", "0")
    midwives = care_teams.create_team(_db(app), admin, "助产士组", "midwives", NOW)
    care_teams.add_member(_db(app), admin, midwives, midwife_id, team_role="midwife", now=NOW)
    for title, assign in (
        ("复查B超", "responsible_doctor"),
        ("电话随访", "responsible_nurse"),
        ("分娩计划", "midwife"),
        ("个案管理", "case_manager"),
    ):
        done = act(
            browser, woman, "tasks", "task-form", {"title": title, "assign": assign, "priority": "high"}
        )
        assert done.status_code == 302, title
    with _db(app).reading() as session:
        routed = {t.title: (t.team_id, t.assignee_id) for t in session.scalars(select(StaffTask))}
    assert routed["复查B超"] == (mine, doctor_id) == routed["高风险孕妇专案管理"]
    assert routed["电话随访"] == (mine, nurse_id)
    assert routed["分娩计划"] == (midwives, None)
    assert routed["个案管理"] == (mine, None)  # no case manager named: her team's queue


def test_the_binding_qr_is_drawn_inline_and_audited(app: Flask, woman: str, nurse: Any) -> None:
    browser, _ = nurse
    page = browser.client.get(f"/staff/patients/{woman}/bind")
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "<svg" in text and "<?xml" not in text
    assert "/h5/sign-in?hospital=a" in text and "微信" in text
    assert any("binding QR" in a.detail for a in _audits(app, "read"))


def test_actions_need_patient_write(app: Flask, woman: str) -> None:
    analyst, _ = logged_in(app, "analyst.qian", "analyst")
    for path in ("tags", "plans", "send", "tasks"):
        answer = analyst.post(f"/staff/patients/{woman}/{path}", {"request": "r" * 16}, token_from="/")
        assert answer.status_code == 403, path


def test_an_action_without_csrf_is_refused(app: Flask, woman: str, nurse: Any) -> None:
    browser, _ = nurse
    answer = browser.client.post(f"/staff/patients/{woman}/tags", data={"tag": "x", "request": "r" * 16})
    assert answer.status_code in (400, 403)
    assert "tag.added" not in str(_facts(app, woman).get("tags"))
