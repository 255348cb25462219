"""工作台 (/staff/work, issue 20 item 2): the list, the task page and its actions, the staff
home's links; on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from carepath.store import tasks
from carepath.store.models import AuditEntry
from tests.conftest import NOW, Clock
from tests.webapi.conftest import Api, StaffBrowser, make_staff
from tests.webapi.staff.workspace_seed import (
    BP,
    LATER,
    NORMAL,
    URGENT,
    publish,
    task_id,
    task_row,
    team,
    woman,
)


def logged_in(app: Flask, username: str, *roles: str, hospital: str = "a") -> tuple[StaffBrowser, int]:
    staff_id = make_staff(app, username, *roles, hospital=hospital)
    browser = StaffBrowser(app.test_client())
    assert browser.login(username).status_code == 302
    return browser, staff_id


def text(response: Any) -> str:
    return str(response.get_data(as_text=True))


def audit_details(app: Flask, actor: str) -> list[str]:
    with app.extensions["carepath.db"].reading() as session:
        return list(session.scalars(select(AuditEntry.detail).where(AuditEntry.actor == actor)))


@pytest.fixture
def seeded(app: Flask, api: Api, tmp_path: Path) -> tuple[StaffBrowser, int, int]:
    """A nurse in a team with two women's tasks in it: a normal one and an urgent one."""
    publish(app, tmp_path)
    nurse, nurse_id = logged_in(app, "nurse-li", "nurse")
    team_id = team(app, nurse_id)
    woman(api, "p-001", "O09.5", name="王小红")
    woman(api, "p-002", "O14.1", name="李芳芳", phone="13998765432")
    return nurse, nurse_id, team_id


def test_the_list_is_urgent_first_masked_with_why_and_counts(app: Flask, seeded: Any, clock: Clock) -> None:
    nurse, nurse_id, _ = seeded
    clock.now = LATER  # the urgent task (due in 1 h) is overdue now
    assert nurse.login("nurse-li").status_code == 302  # her session idled out meanwhile
    page = text(nurse.client.get("/staff/work"))
    assert page.index(URGENT) < page.index(NORMAL)  # urgent first though the normal came first
    assert "王**" in page and "李**" in page and "王小红" not in page and "李芳芳" not in page
    assert "138****5678" in page and "13812345678" not in page
    urgent_row = page[page.index('data-priority="urgent"') :].split("</li>")[0]
    assert "overdue" in urgent_row and "已逾期" in urgent_row
    normal_row = page[page.index('data-priority="normal"') :].split("</li>")[0]
    assert "已逾期" not in normal_row
    # why: the pathway's and rule's titles and the event, in Chinese, not ids
    assert "工作台测试路径" in page and "重度子痫前期随访" in page and "新增诊断" in page
    assert "severe-bp" not in page
    counts = re.sub(r"\s+", " ", page[page.index('id="counts-state"') : page.index('id="counts-colour"')])
    assert "<b>2</b> 项待办" in counts and "<b>1</b> 项已逾期" in counts and "<b>2</b> 项待认领" in counts
    listed = [d for d in audit_details(app, f"staff:{nurse_id}") if d.endswith("listed")]
    assert len(listed) == 2  # each task shown is a read of her (masked) identity


def test_my_view_and_team_view(app: Flask, seeded: Any) -> None:
    nurse, _, _ = seeded
    other, _ = logged_in(app, "nurse-wu", "nurse")  # in no team: sees nothing
    assert URGENT not in text(other.client.get("/staff/work")) and "暂无待办" in text(
        other.client.get("/staff/work")
    )
    assert URGENT in text(nurse.client.get("/staff/work?view=team"))
    assert URGENT not in text(nurse.client.get("/staff/work?view=mine"))
    urgent = task_id(app, URGENT)
    assert nurse.post(f"/staff/work/tasks/{urgent}/claim", {}, token_from="/staff/work").status_code == 303
    mine = text(nurse.client.get("/staff/work?view=mine"))
    assert URGENT in mine and NORMAL not in mine


def test_keyset_pages(app: Flask, seeded: Any) -> None:
    from carepath.store import workspace
    from carepath.store.scope import Actor

    _, nurse_id, _ = seeded
    db, cipher = app.extensions["carepath.db"], app.extensions["carepath.cipher"]
    actor = Actor("a", "staff", str(nurse_id))
    first = workspace.list_page(db, cipher, actor, NOW, limit=1)
    assert [r["title"] for r in first.rows] == [URGENT] and first.next is not None
    second = workspace.list_page(
        db, cipher, actor, NOW, limit=1, after=workspace.Cursor.decode(first.next.encode())
    )
    assert [r["title"] for r in second.rows] == [NORMAL] and second.next is None


def test_opening_a_task_shows_her_why_script_and_form_and_is_audited(app: Flask, seeded: Any) -> None:
    nurse, nurse_id, _ = seeded
    urgent = task_id(app, URGENT)
    page = text(nurse.client.get(f"/staff/work/tasks/{urgent}"))
    assert "李芳芳" in page and "13998765432" in page  # a nurse holds patient.read
    assert "工作台测试路径" in page and "重度子痫前期随访" in page and "新增诊断" in page
    assert "您的血压偏高" in page  # the call script
    assert "这一周有过阴道出血吗？" in page and 'type="radio"' in page and "<textarea" in page
    assert f"task {urgent} opened: her name and phone shown" in audit_details(app, f"staff:{nurse_id}")


def test_claim_release_and_outcome_leave_the_list(app: Flask, seeded: Any) -> None:
    nurse, nurse_id, _ = seeded
    urgent = task_id(app, URGENT)
    path = f"/staff/work/tasks/{urgent}"
    assert nurse.post(f"{path}/claim", {}, token_from=path).status_code == 303
    assert task_row(app, urgent).claimed_by == f"staff:{nurse_id}"
    assert "由您处理" in text(nurse.client.get(path))
    assert nurse.post(f"{path}/release", {}, token_from=path).status_code == 303
    assert task_row(app, urgent).claimed_by is None
    # a missing required answer: a field-level error in Chinese next to it, nothing saved
    refused = nurse.post(
        f"{path}/outcome", {"outcome": "已电话联系", "answer-contractions": "no"}, token_from=path
    )
    assert refused.status_code == 422
    page = text(refused)
    field = page[page.index('id="item-bleeding"') :].split("</fieldset>")[0]
    assert 'id="error-bleeding"' in field and "请回答这个问题" in field
    assert 'id="error-contractions"' not in page and 'value="no" checked' in page  # her answers stay
    row = task_row(app, urgent)
    assert (row.status, row.outcome, row.claimed_by) == ("open", None, None)
    done = nurse.post(
        f"{path}/outcome",
        {"outcome": "已电话联系，嘱立即来院", "answer-bleeding": "none", "answer-contractions": "no"},
        token_from=path,
    )
    assert done.status_code == 303 and done.headers["Location"].endswith("/staff/work")
    row = task_row(app, urgent)
    assert (row.status, row.outcome, row.claimed_by) == (
        "done",
        "已电话联系，嘱立即来院",
        f"staff:{nurse_id}",
    )
    after = text(nurse.client.get("/staff/work"))
    assert URGENT not in after and NORMAL in after and "任务已完成" in after


def test_every_item_kind_of_a_form_is_a_field_typed_and_checked(app: Flask, api: Api, seeded: Any) -> None:
    """bp-log has a date, a single choice, numbers and a multiple choice (previa-bleeding's
    text is in the test above): each is a field; answers are typed as the form expects."""
    nurse, _, _ = seeded
    woman(api, "p-004", "O13.0", name="孙丽")
    bp = task_id(app, BP)
    path = f"/staff/work/tasks/{bp}"
    page = text(nurse.client.get(path))
    for kind in ('type="date"', 'type="radio"', 'type="number"', 'type="checkbox"'):
        assert kind in page, kind
    answers = {
        "answer-measured_on": "2026-07-10",
        "answer-time_of_day": "morning",
        "answer-systolic": "300",  # outside 60-260
        "answer-diastolic": "abc",
        "outcome": "已复测",
    }
    refused = nurse.post(f"{path}/outcome", answers, token_from=path)
    assert refused.status_code == 422
    page = text(refused)
    assert "超出了表单允许的范围" in page.split('id="item-systolic"')[1].split("</fieldset>")[0]
    assert "请填写数字" in page.split('id="item-diastolic"')[1].split("</fieldset>")[0]
    assert "请回答这个问题" in page.split('id="item-symptoms"')[1].split("</fieldset>")[0]
    assert task_row(app, bp).status == "open"
    client = nurse.client
    token = nurse.csrf(path)
    done = client.post(
        f"{path}/outcome",
        data={
            **answers,
            "answer-systolic": "128",
            "answer-diastolic": "82.5",
            "answer-symptoms": ["headache", "swelling"],
            "csrf_token": token,
        },
    )
    assert done.status_code == 303
    stored = json.loads(task_row(app, bp).outcome_answers or "{}")
    assert stored["answers"] == {
        "measured_on": "2026-07-10",
        "time_of_day": "morning",
        "systolic": 128,
        "diastolic": 82.5,
        "symptoms": ["headache", "swelling"],
    }


def test_reassign_within_the_team_only(app: Flask, seeded: Any) -> None:
    nurse, nurse_id, team_id = seeded
    colleague = make_staff(app, "nurse-zhao", "nurse")
    outsider = make_staff(app, "nurse-qian", "nurse")
    from tests.webapi.staff.workspace_seed import team as add_team

    add_team(app, outsider, name="营养组", default=False)
    with app.extensions["carepath.db"].transaction() as session:
        from carepath.store.models_teams import CareTeamMember

        session.add(CareTeamMember(team_id=team_id, staff_id=colleague, team_role="nurse", added_at=NOW))
    normal = task_id(app, NORMAL)
    path = f"/staff/work/tasks/{normal}"
    assert nurse.post(f"{path}/claim", {}, token_from=path).status_code == 303
    moved = nurse.post(f"{path}/reassign", {"to": str(colleague)}, token_from=path)
    assert moved.status_code == 303
    row = task_row(app, normal)
    assert (row.assignee_id, row.claimed_by) == (colleague, None)
    assert f"task {normal} reassigned from staff:- to staff:{colleague}" in audit_details(
        app, f"staff:{nurse_id}"
    )
    refused = nurse.post(f"{path}/reassign", {"to": str(outsider)}, token_from=path)
    assert refused.status_code == 303 and task_row(app, normal).assignee_id == colleague
    assert "只能转给本团队" in text(nurse.client.get(path))
    analyst, _ = logged_in(app, "analyst-a", "analyst")  # no task.assign (nor task.work)
    assert analyst.post(f"{path}/reassign", {"to": str(nurse_id)}, token_from="/").status_code == 403


def test_a_stale_page_acting_on_a_closed_task_is_told_so(app: Flask, seeded: Any) -> None:
    nurse, _, _ = seeded
    normal = task_id(app, NORMAL)
    path = f"/staff/work/tasks/{normal}"
    token_page = path  # the page she has open, before someone else closes the task
    other = make_staff(app, "doctor-he", "doctor")
    from carepath.store.scope import Actor

    db, cipher = app.extensions["carepath.db"], app.extensions["carepath.cipher"]
    answers = {"test_done": "diagnosis", "result": "low_risk"}
    tasks.record_outcome(
        db, cipher, Actor("a", "staff", str(other)), normal, NOW, outcome="已随访", answers=answers
    )
    for action, data in (("claim", {}), ("release", {}), ("outcome", {"outcome": "x"})):
        answer = nurse.post(f"{path}/{action}", data, token_from=token_page)
        assert answer.status_code == 303, action
        assert "这项任务已经关闭" in text(nurse.client.get(answer.headers["Location"])), action


def test_a_task_someone_else_took_is_told_so(app: Flask, seeded: Any) -> None:
    nurse, _, _ = seeded
    other, _ = logged_in(app, "nurse-zhou", "nurse")
    urgent = task_id(app, URGENT)
    path = f"/staff/work/tasks/{urgent}"
    assert other.post(f"{path}/claim", {}, token_from=path).status_code == 303
    answer = nurse.post(f"{path}/claim", {}, token_from=path)
    assert answer.status_code == 303
    assert "已由其他人认领" in text(nurse.client.get(answer.headers["Location"]))


def test_another_hospitals_task_is_not_found_and_counted(app: Flask, seeded: Any) -> None:
    urgent = task_id(app, URGENT)
    stranger, stranger_id = logged_in(app, "nurse-b", "nurse", hospital="b")
    assert stranger.client.get(f"/staff/work/tasks/{urgent}").status_code == 404
    assert stranger.post(f"/staff/work/tasks/{urgent}/claim", {}, token_from="/").status_code == 404
    assert URGENT not in text(stranger.client.get("/staff/work"))
    with app.extensions["carepath.db"].reading() as session:
        rows = session.scalars(select(AuditEntry).where(AuditEntry.actor == f"staff:{stranger_id}")).all()
    assert any(r.action == "not-found" and "task" in r.detail for r in rows)
    assert task_row(app, urgent).claimed_by is None


def test_the_poll_stamp_changes_when_a_task_arrives(app: Flask, api: Api, seeded: Any) -> None:
    nurse, _, _ = seeded
    before = nurse.client.get("/staff/work/stamp").get_json()["stamp"]
    assert nurse.client.get("/staff/work/stamp").get_json()["stamp"] == before
    woman(api, "p-003", "O14.9", name="赵敏")
    assert nurse.client.get("/staff/work/stamp").get_json()["stamp"] != before
    assert nurse.client.get("/staff/work/rows").status_code == 302  # a fragment, for the script only
    rows = text(nurse.client.get("/staff/work/rows", headers={"X-Requested-With": "fetch"}))
    assert 'id="work-rows"' in rows
    assert rows.count('data-priority="urgent"') == 2 and "赵*" in rows and "<html" not in rows


def test_the_staff_home_links_pages_by_chinese_name_and_a_nurse_is_refused_admin(
    app: Flask, seeded: Any
) -> None:
    nurse, _, _ = seeded
    home = text(nurse.client.get("/"))
    links = home[home.index('id="home-pages"') :].split("</ul>")[0]
    assert 'href="/staff/work">工作台</a>' in links
    assert "/admin/staff" not in links and "/staff/teams" not in links
    assert nurse.client.get("/admin/staff").status_code == 403
    assert nurse.client.get("/admin/staff/new").status_code == 403
    admin, _ = logged_in(app, "admin-a", "admin")
    admin_links = text(admin.client.get("/"))
    admin_links = admin_links[admin_links.index('id="home-pages"') :].split("</ul>")[0]
    assert "/admin/staff" in admin_links and "/staff/work" not in admin_links
    assert admin.client.get("/staff/work").status_code == 403


def test_acknowledging_an_on_call_task_leads_to_its_workspace_page(app: Flask, seeded: Any) -> None:
    nurse, nurse_id, _ = seeded
    urgent = task_id(app, URGENT)
    answer = nurse.post(
        f"/staff/on-call/tasks/{urgent}/acknowledge", {}, token_from=f"/staff/on-call/tasks/{urgent}"
    )
    assert answer.status_code == 302 and answer.headers["Location"].endswith(f"/staff/work/tasks/{urgent}")
    assert task_row(app, urgent).claimed_by == f"staff:{nurse_id}"
    assert f'href="/staff/work/tasks/{urgent}"' in text(nurse.client.get(f"/staff/on-call/tasks/{urgent}"))


def test_two_claims_at_once_one_wins(app: Flask, seeded: Any) -> None:
    """Two staff members claim the same task at the same moment, each on its own connection
    (threads): one claim wins, the other is refused ``task-claimed`` (the API's 409)."""
    import threading

    from carepath.store.scope import Actor

    db, cipher = app.extensions["carepath.db"], app.extensions["carepath.cipher"]
    urgent = task_id(app, URGENT)
    actors = [Actor("a", "staff", str(make_staff(app, f"racer-{n}", "nurse"))) for n in range(2)]
    start = threading.Barrier(2)
    outcomes: list[str] = []

    def race(actor: Actor) -> None:
        start.wait()
        try:
            tasks.claim(db, cipher, actor, urgent, NOW)
            outcomes.append("won")
        except tasks.TaskClaimedError:
            outcomes.append("task-claimed")

    threads = [threading.Thread(target=race, args=(a,)) for a in actors]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["task-claimed", "won"]
    assert task_row(app, urgent).claimed_by in {a.label for a in actors}
