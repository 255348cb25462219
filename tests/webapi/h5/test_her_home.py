"""Her home (首页, issue 19 item 1): today's GA and EDD, this week's lesson and the baby this
week, her next checkups from the hospital's checkup pathway with what is done at each, her
sections with the count of what she has not read, her hospital; approved content only, or
drafts where the hospital allows them (and then the page says so).

The app publishes the examples' pathways (``checkups-example``: NT, anomaly scan, OGTT, weekly
from 37) and the shipped library (every item a draft). She registered with her LMP on
2026-01-05: on 2026-07-10 she is 26+4, her EDD 2026-10-12."""

from __future__ import annotations

from datetime import timedelta

from flask import Flask
from sqlalchemy import select

from tests.conftest import Clock, set_hospital_settings
from tests.webapi.conftest import Api
from tests.webapi.h5.conftest import register, sign_in_as
from tests.webapi.h5.test_her_inbox import file_item


def _home(app: Flask, patient: int) -> str:
    client = app.test_client()
    sign_in_as(client, app, patient)
    answer = client.get("/h5/")
    assert answer.status_code == 200
    return answer.get_data(as_text=True)


def test_her_home_shows_her_dates_lesson_and_next_checkups(app: Flask, api: Api) -> None:
    set_hospital_settings(
        app.extensions["carepath.db"], "a", drafts_allowed=True, emergency_phone="0571-87061501"
    )
    her = register(api, "p-701", 701, name="李小梅")
    page = _home(app, her)
    assert "李小梅" in page and "孕26周4天" in page and "预产期：2026年10月12日" in page
    assert "本周课程：孕26周" in page and "宝宝这一周" in page
    assert "孕26周是其中一次" in page  # week-26's 宝宝这一周, rendered
    # the checkups still ahead, in order, by the items' titles, with what is done at each
    assert "第4次产检（孕25～28周）" in page and "第7～11次产检（孕37～41周，每周1次）" in page
    assert page.index("第4次产检") < page.index("第7～11次产检")
    assert "第1次产检" not in page and "第3次产检" not in page  # their time is past
    assert "这次检查什么" in page and "本周可以去" in page
    # Markdown source and keys never reach her
    assert "## " not in page and "week-26" not in page and "visit-4" not in page and "{{" not in page
    assert "hospital a" in page and 'href="tel:0571-87061501"' in page
    assert "演示模式" in page  # drafts are shown: the page says so
    for link in ('href="/h5/inbox"', 'href="/h5/forms"', 'href="/h5/my-data"'):
        assert link in page


def test_the_lesson_follows_her_week(app: Flask, api: Api, clock: Clock) -> None:
    set_hospital_settings(app.extensions["carepath.db"], "a", drafts_allowed=True)
    her = register(api, "p-702", 702)
    clock.now += timedelta(weeks=10)  # 36+4
    page = _home(app, her)
    assert "孕36周4天" in page and "本周课程：孕36周" in page and "本周课程：孕26周" not in page
    assert "第4次产检（孕25～28周）" not in page and "第7～11次产检（孕37～41周，每周1次）" in page


def test_a_checkup_the_his_reported_done_is_not_ahead(app: Flask, api: Api) -> None:
    set_hospital_settings(app.extensions["carepath.db"], "a", drafts_allowed=True)
    her = register(api, "p-703", 703)
    done = {
        "id": "enc-703", "type": "encounter.completed", "occurred_at": "2026-07-10T10:00:00+08:00",
        "patient": {"his_id": "p-703"}, "data": {"kind": "ogtt"},
    }  # fmt: skip
    assert api.post("/api/v1/events", done).status_code in (200, 201, 202)
    page = _home(app, her)
    assert "第4次产检（孕25～28周）" not in page and "第7～11次产检（孕37～41周，每周1次）" in page


def test_without_drafts_allowed_unreviewed_content_is_not_shown(app: Flask, api: Api) -> None:
    her = register(api, "p-704", 704)
    page = _home(app, her)
    assert "孕26周4天" in page  # her dates are hers, not content
    assert "本周课程" not in page and "第4次产检（孕25～28周）" not in page and "演示模式" not in page


def test_the_home_counts_what_she_has_not_read(app: Flask, api: Api) -> None:
    her = register(api, "p-705", 705)
    first = file_item(app, her, "k-705-1", title="课程一", body="正文一")
    file_item(app, her, "k-705-2", title="课程二", body="正文二")
    client = app.test_client()
    sign_in_as(client, app, her)
    assert "2 条未读" in client.get("/h5/").get_data(as_text=True)
    assert client.get(f"/h5/inbox/{first}").status_code == 200
    assert "1 条未读" in client.get("/h5/").get_data(as_text=True)
    listing = client.get("/h5/inbox").get_data(as_text=True)
    assert listing.count('class="badge">未读<') == 1  # her list marks the one still unread
    assert listing.index("课程二") < listing.index("未读") < listing.index("课程一")


def test_another_woman_s_item_is_404_and_the_attempt_audited(app: Flask, api: Api) -> None:
    from carepath.store.models import AuditEntry

    her = register(api, "p-706", 706)
    other = register(api, "p-707", 707, phone="13900000707")
    hers_not = file_item(app, other, "k-707", title="别人的课程", body="别人的正文")
    client = app.test_client()
    sign_in_as(client, app, her)
    assert client.get(f"/h5/inbox/{hers_not}").status_code == 404
    with app.extensions["carepath.db"].reading() as session:
        rows = session.scalars(select(AuditEntry).where(AuditEntry.action == "refused")).all()
    assert [(row.actor, row.patient_id, row.detail) for row in rows] == [
        (f"patient:{her}", her, f"her inbox item {hers_not}: not hers")
    ]
    assert "1 条未读" in _home(app, other)  # her attempt read nothing of the other woman's


def test_her_home_after_delivery_has_no_lesson_or_checkups(app: Flask, api: Api) -> None:
    set_hospital_settings(app.extensions["carepath.db"], "a", drafts_allowed=True)
    her = register(api, "p-708", 708)
    delivered = {
        "id": "dl-708", "type": "delivery", "occurred_at": "2026-07-10T10:00:00+08:00",
        "patient": {"his_id": "p-708"}, "data": {"date": "2026-07-09"},
    }  # fmt: skip
    assert api.post("/api/v1/events", delivered).status_code in (200, 201, 202)
    page = _home(app, her)
    assert "本周课程" not in page and "接下来的产检" not in page


def test_with_the_shipped_checkup_schedule_her_next_three_checkups_are_listed(app: Flask, api: Api) -> None:
    from carepath.engine.catalogue import PATHWAYS_DIR
    from carepath.store import demo, pathways
    from tests.conftest import NOW

    database = app.extensions["carepath.db"]
    demo.publish_examples(database, PATHWAYS_DIR, NOW)  # checkup-schedule beside checkups-example
    pathways.clear_cache()
    set_hospital_settings(database, "a", drafts_allowed=True)
    her = register(api, "p-709", 709)
    page = _home(app, her)
    shown = ["第4次产检（孕25～28周）", "第5次产检（孕29～32周）", "第6次产检（孕33～36周）"]
    places = [page.index(f"<h3>{title}") for title in shown]
    assert places == sorted(places)
    assert page.count("第4次产检（孕25～28周）") == 1  # both pathways remind of it: listed once
    assert "<h3>B族链球菌" not in page  # the fourth is for later


def test_her_home_names_her_team_and_her_responsible_doctor(app: Flask, api: Api) -> None:
    from carepath.store import care_teams, tasks
    from carepath.store.models import Pregnancy
    from carepath.store.scope import Actor
    from tests.conftest import NOW

    db = app.extensions["carepath.db"]
    her = register(api, "p-709", 709)
    page = _home(app, her)
    assert "产科团队" in page and "主管医生" not in page  # the default team; nobody named yet
    doctor = tasks.add_staff(db, "a", "王医生", "doctor")
    admin = Actor("a", "staff:1", "test")
    team = care_teams.create_team(db, admin, "产科一组", "obstetric", NOW)
    care_teams.add_member(db, admin, team, doctor, team_role="doctor", now=NOW)
    with db.reading() as session:
        pregnancy = session.scalars(select(Pregnancy.id).where(Pregnancy.patient_id == her)).one()
    care_teams.set_care(
        db, admin, pregnancy, team_id=team, responsible_doctor_id=doctor, reason="分组", now=NOW
    )
    page = _home(app, her)
    assert "产科一组" in page and "主管医生：王医生" in page and "产科团队" not in page
