"""Issue 21's "Done when", tried on the demo as a new user would: the demo doctor confirms the
demo women's suggested colours from the register's queue, finds a woman by her name, tags a
cohort, and reads what she did in her own audit entries (我的操作记录)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.cli.test_demo_setup import instance, set_up  # noqa: F401  (instance: a fixture)
from tests.cli.test_demo_walkthrough import BASE, SETUP_HOURS, _csrf, _serve_starts


def _doctor(app: object, output: str) -> object:
    login = re.search(r"^  demo-doctor +(\S+)", output, re.M)
    assert login, output
    doctor = app.test_client()  # type: ignore[attr-defined]
    page = doctor.get("/login").get_data(as_text=True)
    signed = doctor.post(
        "/login", data={"csrf_token": _csrf(page), "username": "demo-doctor", "password": login.group(1)}
    )
    assert signed.status_code == 302
    return doctor


def test_the_demo_doctor_confirms_colours_finds_a_woman_tags_a_cohort_and_reads_her_actions(
    instance: Path,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from carepath import webapi

    now = SETUP_HOURS[1]
    monkeypatch.setattr(webapi, "_now", lambda: now)
    output = set_up(instance, "--url", BASE)
    app = _serve_starts(now)
    app.config["BATCH_RUNNER"] = "inline"  # the batch runs inside the request: no thread to wait for
    doctor = _doctor(app, output)

    home = doctor.get("/").get_data(as_text=True)
    for page in ("高危专案", "患者", "批量操作", "我的操作记录"):
        assert page in home, page

    # the queue of suggested colours: she confirms each one as it stands
    queue = doctor.get("/staff/register/queue").get_data(as_text=True)
    forms = re.findall(r'<form class="confirm" method="post" action="([^"]+)"', queue)
    assert forms, queue  # the demo has suggested colours waiting
    for action in forms:
        form = queue.split(f'action="{action}"')[1].split("</form>")[0]
        colour = re.search(r'<option value="(\w+)" selected>', form)
        token = re.search(r'name="request" value="([^"]+)"', form)
        assert colour and token
        answer = doctor.post(
            action,
            data={
                "csrf_token": _csrf(queue),
                "request": token.group(1),
                "next": "/staff/register/queue",
                "colour": colour.group(1),
                "note": "门诊评估后确认",
            },
        )
        assert answer.status_code in (302, 303), answer.get_data(as_text=True)
    after = doctor.get("/staff/register/queue").get_data(as_text=True)
    assert 'id="queue-empty"' in after

    # find a woman by her name
    form = doctor.get("/staff/patients").get_data(as_text=True)
    found = doctor.post("/staff/patients", data={"csrf_token": _csrf(form), "name": "演示二号"})
    assert found.status_code == 200
    rows = re.findall(r'<tr class="woman found" data-pregnancy="([^"]+)"', found.get_data(as_text=True))
    assert len(rows) == 1  # 演示二号 alone, not the other demo women

    # tag a cohort: every pregnant woman of the demo, previewed, checked, confirmed
    filters = {"status": "pregnant"}
    preview = doctor.get("/staff/batches/preview", query_string=filters)
    assert preview.status_code == 200
    page = preview.get_data(as_text=True)
    chosen = {**filters, "action": "tag", "target_tag": "demo-cohort", "reason": "演示：标记本次宣教对象"}
    confirm = doctor.post("/staff/batches/check", data={"csrf_token": _csrf(page), **chosen})
    assert confirm.status_code == 200, confirm.get_data(as_text=True)
    confirm_page = confirm.get_data(as_text=True)
    token = re.search(r'name="request" value="([^"]+)"', confirm_page)
    assert token
    started = doctor.post(
        "/staff/batches", data={"csrf_token": _csrf(confirm_page), "request": token.group(1), **chosen}
    )
    assert started.status_code in (302, 303), started.get_data(as_text=True)
    batch = doctor.get(started.headers["Location"]).get_data(as_text=True)
    assert "demo-cohort" in batch

    # what she did, in her own audit entries
    mine = doctor.get("/staff/audit").get_data(as_text=True)
    assert "我的操作记录" in mine
    for done in (
        "在档案中确认风险分级",  # each colour she confirmed
        "查看待确认的风险分级",
        "批量操作 #",  # the batch, in words, with her reason
        "添加标签「demo-cohort」",
        "演示：标记本次宣教对象",
        "批量操作预览",
        "查找孕妇",
    ):
        assert done in mine, done
    shown = re.sub(r"<[^>]*>", " ", mine)  # what she reads (the raw detail stays in a tooltip)
    assert "batch " not in shown and "high-risk register" not in shown  # no detail left in English
