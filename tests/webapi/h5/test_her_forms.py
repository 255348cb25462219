"""Her forms (issue 19 item 3): the forms due and done, a form drawn from its YAML, her answers
checked by the responses service (problems in Chinese next to the field, nothing saved),
evaluated in the same request (the urgent advice and the emergency number at once, a task for
the staff), an exam's score and right answers, another woman's form, a form she was not sent,
and double and concurrent submits."""

from __future__ import annotations

import re
import threading
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

import carepath.store.models_her_forms  # noqa: F401  (its table emptied between tests)
from tests.conftest import NOW, ROOT, approve_item, set_hospital_settings
from tests.webapi.conftest import Api
from tests.webapi.h5.conftest import csrf_of, register, sign_in_as

PHONE = "0571-87654321"


@pytest.fixture
def hypertension(app: Flask) -> None:
    """The shipped hypertension pathway published (the tests' app has only the examples)."""
    from carepath.store import pathways

    path = ROOT / "carepath" / "pathways" / "hypertension.yaml"
    with app.extensions["carepath.db"].transaction() as session:
        pathways.publish(session, {str(path): path.read_text(encoding="utf-8")}, NOW)


def enrol_in_hypertension(api: Api, his_id: str) -> None:
    answer = api.post(
        "/api/v1/events",
        {
            "id": f"dx-{his_id}",
            "type": "diagnosis.added",
            "occurred_at": "2026-07-10T14:30:00+08:00",
            "patient": {"his_id": his_id},
            "data": {"code": "O13", "name": "妊娠期高血压"},
        },
    )
    assert answer.status_code == 201, answer.get_json()


def send_form(
    app: Flask, patient: int, form: str, key: str, *, filed: bool = True, kind: str = "questionnaire"
) -> int:
    """A form sent to her latest pregnancy: its outbox row and the inbox copy; the row's id."""
    from carepath.store.models import InboxItem, OutboxRow, Pregnancy

    with app.extensions["carepath.db"].transaction() as session:
        pregnancy = session.scalars(
            select(Pregnancy).where(Pregnancy.patient_id == patient).order_by(Pregnancy.number.desc())
        ).first()
        assert pregnancy is not None
        item_id = None
        if filed:
            item = InboxItem(
                hospital_id=pregnancy.hospital_id, pregnancy_id=pregnancy.id, dedupe_key=key, kind=kind,
                title="问卷待填写", summary="您有一份健康问卷待填写，点开填写吧。", body="请填写问卷。", filed_at=NOW,
            )  # fmt: skip
            session.add(item)
            session.flush()
            item_id = item.id
        row = OutboxRow(
            hospital_id=pregnancy.hospital_id, pregnancy_id=pregnancy.id, dedupe_key=key, pathway_id="hypertension",
            version="1", rule_id="bp-log", kind=kind, params={"form": form}, due_at=NOW, channels=["inbox"],
            enrolment_id="e", why="test", status="sent", attempts=1, created_at=NOW, updated_at=NOW,
            channel="inbox", sent_at=NOW, inbox_item_id=item_id,
        )  # fmt: skip
        session.add(row)
        session.flush()
        return int(row.id)


def signed_in(app: Flask, patient: int) -> FlaskClient:
    client = app.test_client()
    sign_in_as(client, app, patient)
    return client


def token_of(page: str) -> str:
    match = re.search(r'name="submission" value="([^"]+)"', page)
    assert match, "no submission token in the form"
    return match.group(1)


BP_FORM = {"measured_on": "2026-07-10", "time_of_day": "evening", "systolic": "128", "diastolic": "82"}


def post_form(client: FlaskClient, form_id: int, data: dict[str, Any], *, page: str | None = None) -> Any:
    page = page if page is not None else client.get(f"/h5/forms/{form_id}").get_data(as_text=True)
    return client.post(
        f"/h5/forms/{form_id}", data={"csrf_token": csrf_of(page), "submission": token_of(page), **data}
    )


def count(app: Flask, model: Any) -> int:
    with app.extensions["carepath.db"].reading() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


# --- the list ----------------------------------------------------------------------------------


def test_her_list_has_the_forms_due_and_done_by_their_titles(app: Flask, api: Api) -> None:
    her = register(api, "p-401", 401)
    bp = send_form(app, her, "bp-log", "k-bp")
    exam = send_form(app, her, "course-exam", "k-exam")
    client = signed_in(app, her)
    listing = client.get("/h5/forms").get_data(as_text=True)
    assert "家庭血压记录" in listing and "孕妇学校课后小测验" in listing and "bp-log" not in listing
    assert f'href="/h5/forms/{bp}"' in listing and "还没有填写过问卷" in listing
    answers = {f"q{n}": "a" for n in range(1, 11)} | {"q3": ["a", "b", "c", "d"]}
    assert post_form(client, exam, answers).status_code == 303
    listing = client.get("/h5/forms").get_data(as_text=True)
    due, done = listing.split("已完成")
    assert "家庭血压记录" in due and "孕妇学校课后小测验" not in due
    assert "孕妇学校课后小测验" in done and "2026年7月10日提交" in done and "得分 5/10" in done


def test_the_latest_sending_of_a_form_is_the_one_due(app: Flask, api: Api) -> None:
    from carepath.store import her_forms
    from carepath.store.models import Pregnancy

    her = register(api, "p-402", 402)
    send_form(app, her, "bp-log", "k-bp-1")
    latest = send_form(app, her, "bp-log", "k-bp-2")
    with app.extensions["carepath.db"].reading() as session:
        pregnancy = session.scalar(select(Pregnancy.id).where(Pregnancy.patient_id == her))
        assert pregnancy is not None
        found = her_forms.forms_for(session, pregnancy, NOW)
    assert [f.id for f in found.due] == [latest] and found.due[0].title == "家庭血压记录"
    assert found.due[0].url == f"/h5/forms/{latest}" and found.done == []


# --- the form drawn from its YAML --------------------------------------------------------------


def test_every_item_kind_is_drawn_with_its_label_and_checks(app: Flask, api: Api) -> None:
    her = register(api, "p-403", 403)
    bp = send_form(app, her, "bp-log", "k-bp")
    page = signed_in(app, her).get(f"/h5/forms/{bp}").get_data(as_text=True)
    assert '<label for="measured_on">测量日期 *</label>' in page and 'type="date"' in page
    assert re.search(r'name="systolic" type="number"[^>]*min="60" max="260"[^>]*required', page, re.S)
    assert (
        '<label for="systolic">收缩压（高压） *</label>' in page and '<span class="unit">mmHg</span>' in page
    )
    assert re.search(r'type="radio" name="time_of_day" value="morning" required', page)
    assert re.search(r'type="checkbox" name="symptoms" value="none" data-exclusive', page)
    assert "<legend>现在有没有以下感觉（可多选） *</legend>" in page
    assert '<textarea id="notes" name="notes" rows="3" maxlength="2000"' in page
    assert 'name="csrf_token"' in page and "forms.js" in page


def test_a_form_page_is_light(app: Flask, api: Api) -> None:
    her = register(api, "p-404", 404)
    exam = send_form(app, her, "course-exam", "k-exam")
    client = signed_in(app, her)
    page = client.get(f"/h5/forms/{exam}").get_data()
    assets = re.findall(rb'(?:href|src)="(/static/[^"]+)"', page)
    assert len(assets) == 3  # h5.css, forms.css, forms.js
    total = len(page)
    for asset in assets:
        answer = client.get(asset.decode())
        total += len(answer.get_data())
        answer.close()
    assert total <= 150 * 1024


# --- her answers checked, evaluated, shown -----------------------------------------------------


def test_a_severe_reading_with_a_headache_shows_the_emergency_notice_at_once_and_opens_a_task(
    app: Flask, api: Api, hypertension: None
) -> None:
    from carepath.store.models import InboxItem, OutboxRow, StaffTask

    set_hospital_settings(app.extensions["carepath.db"], "a", emergency_phone=PHONE)
    her = register(api, "p-405", 405)
    enrol_in_hypertension(api, "p-405")
    bp = send_form(app, her, "bp-log", "k-bp")
    client = signed_in(app, her)
    answer = post_form(client, bp, BP_FORM | {"systolic": "166", "diastolic": "104", "symptoms": "headache"})
    assert answer.status_code == 303 and answer.headers["Location"] == f"/h5/forms/{bp}"
    page = client.get(f"/h5/forms/{bp}").get_data(as_text=True)
    # the advice is shipped as a draft: she gets the hospital's emergency notice in its place
    assert 'id="urgent"' in page and "紧急就医提醒" in page
    assert f"如有不适请立即就医或拨打急诊电话{PHONE}" in page and f'href="tel:{PHONE}"' in page
    assert "您填写的情况已经通知医生" in page
    with app.extensions["carepath.db"].reading() as session:
        tasks = session.scalars(select(StaffTask).where(StaffTask.status == "open")).all()
        assert {t.priority for t in tasks} == {"urgent"}
        assert any("头痛" in t.title for t in tasks) and any("160/110" in t.title for t in tasks)
        advice = session.scalars(select(OutboxRow).where(OutboxRow.rule_id == "urgent-advice")).one()
        assert (
            advice.status == "due" and advice.content_version == "emergency-notice"
        )  # sent by the dispatcher
        copy = session.get(InboxItem, advice.inbox_item_id)
        assert copy is not None and copy.title == "紧急就医提醒"  # her inbox holds what the page showed


def test_approved_urgent_advice_is_shown_itself(app: Flask, api: Api, hypertension: None) -> None:
    db = app.extensions["carepath.db"]
    set_hospital_settings(db, "a", emergency_phone=PHONE)
    approve_item(db, "a", "content", "hypertension-urgent")
    her = register(api, "p-406", 406)
    enrol_in_hypertension(api, "p-406")
    bp = send_form(app, her, "bp-log", "k-bp")
    client = signed_in(app, her)
    assert post_form(client, bp, BP_FORM | {"systolic": "150", "symptoms": ["vision"]}).status_code == 303
    page = client.get(f"/h5/forms/{bp}").get_data(as_text=True)
    assert "血压很高或出现危险症状：请现在就去医院" in page and "紧急就医提醒" not in page
    assert "<script" not in page.split('id="urgent"')[1].split("</section>")[0]  # the safe renderer's HTML
    assert PHONE in page


def test_a_normal_reading_shows_no_urgent_advice(app: Flask, api: Api, hypertension: None) -> None:
    from carepath.store.models import StaffTask

    her = register(api, "p-407", 407)
    enrol_in_hypertension(api, "p-407")
    bp = send_form(app, her, "bp-log", "k-bp")
    client = signed_in(app, her)
    assert post_form(client, bp, BP_FORM | {"symptoms": "none"}).status_code == 303
    page = client.get(f"/h5/forms/{bp}").get_data(as_text=True)
    assert "已提交" in page and 'id="urgent"' not in page and "情况危急请拨打120" in page
    assert count(app, StaffTask) == 0


def test_a_value_outside_its_range_is_said_in_chinese_and_nothing_is_saved(app: Flask, api: Api) -> None:
    from carepath.store.models import EventRecord, QuestionnaireResponse
    from carepath.store.models_her_forms import HerFormAnswer

    her = register(api, "p-408", 408)
    bp = send_form(app, her, "bp-log", "k-bp")
    client = signed_in(app, her)
    events_before = count(app, EventRecord)
    answer = post_form(client, bp, BP_FORM | {"systolic": "300", "symptoms": ["none", "headache"]})
    page = answer.get_data(as_text=True)
    assert answer.status_code == 422
    assert (
        '<p class="error field-error" id="systolic-error" role="alert">请填写60～260之间的数字（单位：mmHg）</p>'
        in page
    )
    assert "选了“都没有”就不能再选其他选项" in page and "有 2 处需要修改" in page
    assert 'value="300"' in page and 'value="128"' not in page.split('id="systolic"')[0]  # kept as she typed
    assert count(app, QuestionnaireResponse) == 0 and count(app, HerFormAnswer) == 0
    assert count(app, EventRecord) == events_before


def test_missing_required_answers_and_text_in_a_number(app: Flask, api: Api) -> None:
    her = register(api, "p-409", 409)
    bp = send_form(app, her, "bp-log", "k-bp")
    client = signed_in(app, her)
    page = post_form(client, bp, {"systolic": "abc", "diastolic": "１１０"}).get_data(as_text=True)
    assert 'id="measured_on-error" role="alert">请填写这一项' in page
    assert 'id="time_of_day-error" role="alert">请选择一项' in page
    assert 'id="symptoms-error" role="alert">请至少选择一项' in page
    assert 'id="systolic-error" role="alert">请填写60～260之间的数字' in page
    assert "diastolic-error" not in page  # full-width digits are her number


def test_a_form_without_its_csrf_token_is_refused(app: Flask, api: Api) -> None:
    from carepath.store.models import QuestionnaireResponse

    her = register(api, "p-410", 410)
    bp = send_form(app, her, "bp-log", "k-bp")
    client = signed_in(app, her)
    page = client.get(f"/h5/forms/{bp}").get_data(as_text=True)
    answer = client.post(
        f"/h5/forms/{bp}", data={"submission": token_of(page), **BP_FORM, "symptoms": "none"}
    )
    assert answer.status_code == 400 and "页面已过期" in answer.get_data(as_text=True)
    assert count(app, QuestionnaireResponse) == 0


# --- whose form --------------------------------------------------------------------------------


def test_another_womans_form_is_not_found_and_audited(app: Flask, api: Api, api_b: Api) -> None:
    from carepath.store.models import AuditEntry, QuestionnaireResponse

    her = register(api, "p-411", 411)
    other = register(api, "p-412", 412, phone="13900000412")
    far = register(api_b, "p-413", 413, phone="13900000413")
    hers_not = send_form(app, other, "bp-log", "k-other")
    elsewhere = send_form(app, far, "bp-log", "k-far")
    client = signed_in(app, her)
    for foreign in (hers_not, elsewhere, 999_999, 2**31):
        answer = client.get(f"/h5/forms/{foreign}")
        assert answer.status_code == 404 and "没有这条内容" in answer.get_data(as_text=True)
    mine = send_form(app, her, "bp-log", "k-mine")
    page = client.get(f"/h5/forms/{mine}").get_data(as_text=True)
    posted = client.post(
        f"/h5/forms/{hers_not}",
        data={"csrf_token": csrf_of(page), "submission": token_of(page), **BP_FORM, "symptoms": "none"},
    )
    assert posted.status_code == 404 and count(app, QuestionnaireResponse) == 0
    with app.extensions["carepath.db"].reading() as session:
        refused = session.scalars(select(AuditEntry).where(AuditEntry.action == "read-refused")).all()
    assert len(refused) == 4  # three ids of hers that are not (2**31 is no id at all) and the post
    assert {e.actor for e in refused} == {f"patient:{her}"} and all(e.patient_id == her for e in refused)


def test_a_form_she_was_not_sent_is_not_found(app: Flask, api: Api) -> None:
    her = register(api, "p-414", 414)
    unfiled = send_form(app, her, "bp-log", "k-unfiled", filed=False)  # not in her inbox (held)
    lesson = send_form(app, her, "bp-log", "k-lesson", kind="push")  # a lesson, no form
    unknown = send_form(app, her, "no-such-form", "k-unknown")
    client = signed_in(app, her)
    for not_sent in (unfiled, lesson, unknown):
        assert client.get(f"/h5/forms/{not_sent}").status_code == 404
    assert "没有要填写的问卷" in client.get("/h5/forms").get_data(as_text=True)


def test_her_forms_need_her_session(app: Flask, api: Api) -> None:
    answer = app.test_client().get("/h5/forms")
    assert answer.status_code == 302 and "/h5/sign-in" in answer.headers["Location"]


# --- one answer --------------------------------------------------------------------------------


def test_a_double_submit_is_one_answer(app: Flask, api: Api) -> None:
    from carepath.store.models import QuestionnaireResponse

    her = register(api, "p-415", 415)
    bp = send_form(app, her, "bp-log", "k-bp")
    client = signed_in(app, her)
    page = client.get(f"/h5/forms/{bp}").get_data(as_text=True)
    second_tab = signed_in(app, her)  # a page opened before the first submit: another token
    other_page = second_tab.get(f"/h5/forms/{bp}").get_data(as_text=True)
    assert token_of(other_page) != token_of(page)
    data = BP_FORM | {"symptoms": "none"}
    assert post_form(client, bp, data, page=page).status_code == 303
    assert post_form(client, bp, data, page=page).status_code == 303  # the same token again
    assert post_form(client, bp, data | {"systolic": "140"}, page=page).status_code == 303  # another body
    assert post_form(second_tab, bp, data, page=other_page).status_code == 303
    assert count(app, QuestionnaireResponse) == 1


def test_two_concurrent_submits_make_one_answer(app: Flask, api: Api, hypertension: None) -> None:
    from carepath.store.models import QuestionnaireResponse, StaffTask
    from carepath.store.models_her_forms import HerFormAnswer

    her = register(api, "p-416", 416)
    enrol_in_hypertension(api, "p-416")
    bp = send_form(app, her, "bp-log", "k-bp")
    first, second = signed_in(app, her), signed_in(app, her)
    pages = [c.get(f"/h5/forms/{bp}").get_data(as_text=True) for c in (first, second)]
    data = BP_FORM | {"systolic": "170", "symptoms": "none"}
    barrier = threading.Barrier(2)
    statuses: list[int] = []

    def post(client: FlaskClient, page: str, token: str) -> None:
        barrier.wait()
        answer = client.post(
            f"/h5/forms/{bp}", data={"csrf_token": csrf_of(page), "submission": token, **data}
        )
        statuses.append(answer.status_code)

    for token in ("same-token-for-both-posts-00001", None):  # one token twice, then two tokens
        threads = [
            threading.Thread(target=post, args=(c, p, token or token_of(p)))
            for c, p in zip((first, second), pages, strict=True)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert statuses == [303, 303, 303, 303]
    assert count(app, QuestionnaireResponse) == 1 and count(app, HerFormAnswer) == 1
    assert count(app, StaffTask) == 1  # the severe reading's task, once


# --- exams -------------------------------------------------------------------------------------


def test_an_exam_shows_her_score_and_the_right_answers(app: Flask, api: Api) -> None:
    her = register(api, "p-417", 417)
    exam = send_form(app, her, "course-exam", "k-exam")
    client = signed_in(app, her)
    answers: dict[str, Any] = {"q1": "b", "q2": "b", "q3": ["a", "b", "c", "d"], "q4": "a", "q5": "c",
                               "q6": "b", "q7": "b", "q8": "a", "q9": "a", "q10": "b"}  # fmt: skip
    assert post_form(client, exam, answers).status_code == 303
    page = client.get(f"/h5/forms/{exam}").get_data(as_text=True)
    assert re.search(r'id="exam-score">得分 <strong>9</strong> / 10', page) and "掌握得很好" in page
    assert page.count("✓ 答对了") == 9 and page.count("✗ 答错了") == 1
    assert "您的答案：40～80毫克" in page and "正确答案：0.4～0.8毫克" in page
    assert 'id="urgent"' not in page


def test_a_survey_is_thanked_without_a_score(app: Flask, api: Api) -> None:
    her = register(api, "p-418", 418)
    survey = send_form(app, her, "course-satisfaction", "k-survey")
    client = signed_in(app, her)
    answers = {"overall": "5", "usefulness": "4", "clarity": "5", "schedule": "3", "recommend": "yes",
               "topics_wanted": ["nutrition", "labour"], "suggestions": "<b>希望</b>多讲母乳喂养"}  # fmt: skip
    assert post_form(client, survey, answers).status_code == 303
    page = client.get(f"/h5/forms/{survey}").get_data(as_text=True)
    assert "已提交，谢谢您" in page and "得分" not in page
    app.config["CLOCK"].now = NOW + timedelta(days=1)
    assert "得分" not in client.get("/h5/forms").get_data(as_text=True)


def test_the_inbox_copy_of_a_form_links_to_it(app: Flask, api: Api) -> None:
    from carepath.store.models import OutboxRow

    her = register(api, "p-419", 419)
    bp = send_form(app, her, "bp-log", "k-bp")
    with app.extensions["carepath.db"].reading() as session:
        row = session.get(OutboxRow, bp)
        assert row is not None
        item = row.inbox_item_id
    client = signed_in(app, her)
    page = client.get(f"/h5/inbox/{item}").get_data(as_text=True)
    assert f'<a class="button" id="fill-form" href="/h5/forms/{bp}">去填写</a>' in page


def test_a_cancelled_form_is_not_due_and_a_withdrawn_copy_is_not_hers(app: Flask, api: Api) -> None:
    from carepath.store.models import InboxItem, OutboxRow

    her = register(api, "p-420", 420)
    cancelled = send_form(app, her, "epds", "k-epds")
    withdrawn = send_form(app, her, "bp-log", "k-bp")
    with app.extensions["carepath.db"].transaction() as session:
        row = session.get(OutboxRow, cancelled)
        assert row is not None
        row.status = "cancelled"
        copy = session.get(InboxItem, session.get(OutboxRow, withdrawn).inbox_item_id)  # type: ignore[union-attr]
        assert copy is not None
        copy.withdrawn_at = NOW
    client = signed_in(app, her)
    assert "现在没有要填写的问卷" in client.get("/h5/forms").get_data(as_text=True)
    assert client.get(f"/h5/forms/{withdrawn}").status_code == 404
    assert "爱丁堡抑郁量表" in client.get(f"/h5/forms/{cancelled}").get_data(as_text=True)  # still opens


def test_her_home_lists_the_forms_due(app: Flask, api: Api) -> None:
    her = register(api, "p-421", 421)
    bp = send_form(app, her, "bp-log", "k-bp")
    page = signed_in(app, her).get("/h5/").get_data(as_text=True)
    todo = page.split('id="todo-heading"')[1].split("</section>")[0]
    assert f'<a href="/h5/forms/{bp}">家庭血压记录</a>' in todo and "2026年7月10日发送" in todo
