"""Issue 17 item 1, on-call routing, on SQLite and PostgreSQL against the fake SMS provider: an
urgent task created at 23:00 (outside working hours) reaches the on-call contact by SMS with a
one-time link; the link, opened after staff login, acknowledges it; an unacknowledged one goes
to the next person on the roster at its due time, then to the team lead — never twice to anyone."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from flask import Flask
from sqlalchemy import select

from carepath.channels.base import InMemoryTokenStore, make_http_client
from carepath.channels.inbox import MemoryInbox
from carepath.channels.registry import ChannelDeps, build_channels
from carepath.delivery.dispatch_settings import HospitalDelivery
from carepath.delivery.on_call import route_once
from carepath.store import on_call
from carepath.store.db import Database
from carepath.store.models import AuditEntry, OutboxRow, StaffTask
from carepath.store.models_on_call import OnCallNotice
from tests.conftest import NOW, set_hospital_settings
from tests.delivery.conftest import add_pregnancy
from tests.delivery.test_dispatcher import TIMEOUT
from tests.fakes.providers import FakeProviders
from tests.webapi.conftest import StaffBrowser, app, clock, make_staff  # noqa: F401

HOSPITAL = "a"  # the webapi app's hospital
NIGHT = NOW.replace(hour=15, minute=0)  # Friday 2026-07-10, 23:00 in Shanghai
ROSTER = [
    {"role": "产科值班", "name": "王医生", "phone": "138 0000 0001"},
    {"role": "lead", "name": "张主任", "phone": "13800000003"},  # the team lead: told last
    {"role": "产科二线", "name": "李医生", "phone": "+86 138-0000-0002"},
]
WANG, LI, ZHANG = "+8613800000001", "+8613800000002", "+8613800000003"


@pytest.fixture
def fake() -> Iterator[FakeProviders]:
    with FakeProviders() as fake:
        yield fake


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with make_http_client(TIMEOUT) as client:
        yield client


@pytest.fixture
def setup(app: Flask, fake: FakeProviders, client: httpx.Client) -> HospitalDelivery:  # noqa: F811
    config = {
        "inbox": {},
        "sms_tencent": {
            "secret_id": "AKIDfake",
            "secret_key": "tencent-secret",
            "sdk_app_id": "1400006666",
            "sign_name": "市妇幼",
            "templates": {"on-call-task": "TPL-on-call"},
            "endpoint": f"{fake.base_url}/tencent/",
        },
    }
    deps = ChannelDeps(client=client, token_store=InMemoryTokenStore(), inbox=MemoryInbox())
    set_hospital_settings(
        app.extensions["carepath.db"],
        HOSPITAL,
        working_hours={day: "08:00-17:30" for day in ("mon", "tue", "wed", "thu", "fri")},
        on_call=ROSTER,
        public_base_url="https://mch.example",
    )
    return HospitalDelivery(channels=build_channels(config, deps, {}))


SEVERE_BP = "血压≥160/110 mmHg，请立即联系并安排急诊评估"
DANGER = "血压升高伴头痛等危险症状，请立即联系并安排急诊评估"


def _task(
    app: Flask,  # noqa: F811
    created: datetime,
    *,
    n: int = 1,
    priority: str = "urgent",
    pregnancy: str | None = None,
    rule: str = "severe-bp",
    title: str = SEVERE_BP,
) -> int:
    """An urgent task of pregnancy ``n`` (a new one), or of ``pregnancy`` (another of hers)."""
    db, cipher = app.extensions["carepath.db"], app.extensions["carepath.cipher"]
    if pregnancy is None:
        _, pregnancy = add_pregnancy(db, cipher, n, hospital=HOSPITAL)
    key = f"{pregnancy}/hypertension@1/{rule}/ev-{n}/0"
    with db.transaction() as session:
        task = StaffTask(
            hospital_id=HOSPITAL,
            pregnancy_id=pregnancy,
            dedupe_key=key,
            title=title,
            assign="responsible_doctor",
            priority=priority,
            due_at=created + timedelta(hours=1),
            status="open",
            created_at=created,
        )
        session.add(task)
        session.add(
            OutboxRow(
                hospital_id=HOSPITAL,
                pregnancy_id=pregnancy,
                dedupe_key=key,
                pathway_id="hypertension",
                version="1",
                rule_id=rule,
                kind="task",
                params={},
                due_at=created,
                channels=[],
                enrolment_id="e",
                why="家庭血压记录 收缩压 166 ≥ 160",
                status="applied",
                created_at=created,
                updated_at=created,
            )
        )
        session.flush()
        return task.id


def _texts(fake: FakeProviders) -> list[tuple[str, str, str]]:
    """(phone, text, link) of every SMS the fake provider delivered, in order."""
    return [
        (r.payload["PhoneNumberSet"][0], *r.payload["TemplateParamSet"])
        for r in fake.delivered("tencent.sms")
    ]


def test_an_urgent_task_at_23_00_reaches_the_on_call_contact_and_the_link_acknowledges_it(
    app: Flask,  # noqa: F811
    clock: Any,  # noqa: F811
    fake: FakeProviders,
    setup: HospitalDelivery,
) -> None:
    db = app.extensions["carepath.db"]
    task_id = _task(app, NIGHT)
    report = route_once(db, NIGHT, lambda h: setup)
    assert (report.planned, report.sent) == (1, 1)
    ((phone, text, link),) = _texts(fake)
    assert (phone, text) == (WANG, "有一项紧急随访任务，请点击处理")
    assert link.startswith("https://mch.example/staff/on-call/")
    token = link.rsplit("/", 1)[1]
    with db.reading() as session:  # only the token's hash is stored
        (notice,) = session.scalars(select(OnCallNotice)).all()
        assert notice.token_hash == on_call.token_hash(token) and token not in str(notice.__dict__)
    assert route_once(db, NIGHT + timedelta(minutes=5), lambda h: setup).planned == 0  # idempotent

    # The link is behind staff login; opening it after login acknowledges the task.
    browser = StaffBrowser(app.test_client())
    path = urlsplit(link).path
    clock.now = NIGHT + timedelta(minutes=10)
    refused = browser.client.get(path)
    assert refused.status_code == 302 and "/login" in refused.headers["Location"]
    staff_id = make_staff(app, "wang", "doctor")
    assert browser.login("wang").status_code == 302
    opened = browser.client.get(path)
    assert opened.status_code == 302 and opened.headers["Location"].endswith(
        f"/staff/on-call/tasks/{task_id}"
    )
    page = browser.client.get(opened.headers["Location"]).get_data(as_text=True)
    assert "血压≥160/110 mmHg，请立即联系并安排急诊评估" in page and "家庭血压记录 收缩压 166 ≥ 160" in page
    assert "已知晓" in page and "紧急随访任务" in page
    with db.reading() as session:
        notice = session.scalars(select(OnCallNotice)).one()
        assert (notice.opened_at, notice.opened_by) == (clock.now, f"staff:{staff_id}")
        details = list(
            session.scalars(select(AuditEntry.detail).where(AuditEntry.actor == f"staff:{staff_id}"))
        )
        assert f"task {task_id} acknowledged: on-call link of notice {notice.id} opened" in details

    # Acknowledged: nobody else is told, not at its due time nor later.
    for minutes in (61, 95, 180):
        route_once(db, NIGHT + timedelta(minutes=minutes), lambda h: setup)
    assert [phone for phone, _, _ in _texts(fake)] == [WANG]

    # 已知晓 claims it for whoever pressed it (CSRF-protected form).
    answer = browser.post(
        f"/staff/on-call/tasks/{task_id}/acknowledge", {}, token_from=f"/staff/on-call/tasks/{task_id}"
    )
    assert answer.status_code == 302
    with db.reading() as session:
        assert session.get(StaffTask, task_id).claimed_by == f"staff:{staff_id}"  # type: ignore[union-attr]
    assert (
        browser.client.post(f"/staff/on-call/tasks/{task_id}/acknowledge").status_code == 400
    )  # no CSRF token


def test_an_unacknowledged_task_goes_down_the_roster_then_to_the_lead_once_each(
    app: Flask,  # noqa: F811
    fake: FakeProviders,
    setup: HospitalDelivery,
) -> None:
    db = app.extensions["carepath.db"]
    _task(app, NIGHT)  # due at 00:00
    route_once(db, NIGHT, lambda h: setup)
    route_once(db, NIGHT + timedelta(minutes=59), lambda h: setup)  # not yet due: nobody new
    assert [p for p, _, _ in _texts(fake)] == [WANG]
    route_once(db, NIGHT + timedelta(hours=1), lambda h: setup)  # due and unacknowledged: the next
    route_once(db, NIGHT + timedelta(hours=1, minutes=10), lambda h: setup)
    assert [p for p, _, _ in _texts(fake)] == [WANG, LI]
    route_once(db, NIGHT + timedelta(hours=1, minutes=30), lambda h: setup)  # then the lead
    for hours in (2, 3, 5):  # the roster is spent: nobody is told twice
        route_once(db, NIGHT + timedelta(hours=hours), lambda h: setup)
    assert [p for p, _, _ in _texts(fake)] == [WANG, LI, ZHANG]
    links = [link for _, _, link in _texts(fake)]
    assert len(set(links)) == 3  # each person their own one-time link


def test_a_task_created_in_working_hours_or_not_urgent_pages_nobody(
    app: Flask,  # noqa: F811
    fake: FakeProviders,
    setup: HospitalDelivery,
) -> None:
    db = app.extensions["carepath.db"]
    _task(app, NOW, n=1)  # Friday 15:00: the team is at work
    _task(app, NIGHT, n=2, priority="high")
    saturday_noon = NOW + timedelta(days=1, hours=-3)  # Saturday 12:00: closed all day
    _task(app, saturday_noon, n=3)
    route_once(db, NIGHT, lambda h: setup)
    route_once(db, saturday_noon, lambda h: setup)
    assert [p for p, _, _ in _texts(fake)] == [WANG]  # the Saturday one only


def test_a_number_that_cannot_take_an_sms_passes_the_task_on_at_once(
    app: Flask,  # noqa: F811
    fake: FakeProviders,
    setup: HospitalDelivery,
) -> None:
    db = app.extensions["carepath.db"]
    set_hospital_settings(
        db, HOSPITAL, on_call=[{"role": "值班", "name": "座机", "phone": "0571-87654321"}, *ROSTER]
    )
    _task(app, NIGHT)
    report = route_once(db, NIGHT, lambda h: setup)
    assert (report.sent, report.failed) == (0, 1) and not fake.requests  # refused before any call
    route_once(db, NIGHT + timedelta(minutes=1), lambda h: setup)
    assert [p for p, _, _ in _texts(fake)] == [WANG]


def test_an_unknown_expired_or_other_hospitals_link_is_not_found(
    app: Flask,  # noqa: F811
    clock: Any,  # noqa: F811
    fake: FakeProviders,
    setup: HospitalDelivery,
) -> None:
    db = app.extensions["carepath.db"]
    _task(app, NIGHT)
    route_once(db, NIGHT, lambda h: setup)
    path = urlsplit(_texts(fake)[0][2]).path
    clock.now = NIGHT + timedelta(minutes=5)
    other = StaffBrowser(app.test_client())
    make_staff(app, "zhou", "doctor", hospital="b")
    other.login("zhou")
    assert other.client.get(path).status_code == 404  # another hospital's link: as unknown
    assert other.client.get("/staff/on-call/not-a-token").status_code == 404
    clock.now = NIGHT + on_call.LINK_TTL + timedelta(seconds=1)
    mine = StaffBrowser(app.test_client())
    make_staff(app, "wang", "doctor")
    mine.login("wang")
    page = mine.client.get(path)
    assert page.status_code == 404 and "此值班链接无效或已过期" in page.get_data(as_text=True)
    with db.reading() as session:
        assert session.scalars(select(OnCallNotice.opened_at)).all() == [None]
    # a staff member without task.work (an analyst) is refused the page
    clock.now = NIGHT + timedelta(minutes=5)
    make_staff(app, "ana", "analyst")
    analyst = StaffBrowser(app.test_client())
    analyst.login("ana")
    assert analyst.client.get(path).status_code == 403


def test_the_schedulers_on_call_job_routes_them(
    app: Flask,  # noqa: F811
    clock: Any,  # noqa: F811
    fake: FakeProviders,
    setup: HospitalDelivery,
) -> None:
    from carepath.scheduler import GUARDED_JOBS, Jobs

    assert "on_call" in GUARDED_JOBS  # runs only while this scheduler holds the lock
    reports: list[tuple[str, Any]] = []
    jobs = Jobs(app, lambda hospital: setup, clock=clock, on_report=lambda job, r: reports.append((job, r)))
    _task(app, NIGHT)
    clock.now = NIGHT + timedelta(seconds=30)
    report = jobs.on_call()
    assert report.sent == 1 and reports == [("on_call", report)]
    assert [p for p, _, _ in _texts(fake)] == [WANG]


def _pregnancy_of(app: Flask, task_id: int) -> str:  # noqa: F811
    db: Database = app.extensions["carepath.db"]
    with db.reading() as session:
        task = session.get(StaffTask, task_id)
        assert task is not None
        return task.pregnancy_id


def test_one_bad_report_with_two_urgent_tasks_is_one_notice_and_one_link_acknowledges_both(
    app: Flask,  # noqa: F811
    clock: Any,  # noqa: F811
    fake: FakeProviders,
    setup: HospitalDelivery,
) -> None:
    """166/104 with a headache opens ``severe-bp`` and ``danger-symptoms``: the on-call doctor
    gets one SMS with one link; opening it acknowledges both (audited per task); the page lists
    both; 已知晓 claims both; nobody else is told about either."""
    db = app.extensions["carepath.db"]
    bp = _task(app, NIGHT)
    pregnancy = _pregnancy_of(app, bp)
    danger = _task(app, NIGHT, pregnancy=pregnancy, rule="danger-symptoms", title=DANGER)
    other_woman = _task(app, NIGHT, n=2)  # another woman's task: her own notice
    report = route_once(db, NIGHT, lambda h: setup)
    assert report.sent == 2
    texts = _texts(fake)
    assert [p for p, _, _ in texts] == [WANG, WANG]  # one for her, one for the other woman
    link = texts[0][2]
    assert len({t[2] for t in texts}) == 2

    clock.now = NIGHT + timedelta(minutes=10)
    browser = StaffBrowser(app.test_client())
    staff_id = make_staff(app, "wang", "doctor")
    browser.login("wang")
    opened = browser.client.get(urlsplit(link).path)
    assert opened.status_code == 302 and opened.headers["Location"].endswith(f"/staff/on-call/tasks/{bp}")
    page = browser.client.get(opened.headers["Location"]).get_data(as_text=True)
    assert SEVERE_BP in page and DANGER in page and page.count('class="on-call-task"') == 2
    with db.reading() as session:
        opened_tasks = {
            n.task_id
            for n in session.scalars(select(OnCallNotice).where(OnCallNotice.opened_at.is_not(None)))
        }
        details = set(
            session.scalars(select(AuditEntry.detail).where(AuditEntry.actor == f"staff:{staff_id}"))
        )
    assert opened_tasks == {bp, danger}  # not the other woman's
    with db.reading() as session:
        carrier = session.scalars(
            select(OnCallNotice.id).where(OnCallNotice.token_hash.is_not(None)).order_by(OnCallNotice.id)
        ).first()
    assert {
        f"task {bp} acknowledged: on-call link of notice {carrier} opened",
        f"task {danger} acknowledged: on-call link of notice {carrier} opened",
    } <= details

    for minutes in (61, 95, 180):  # both acknowledged: nobody else hears of either
        route_once(db, NIGHT + timedelta(minutes=minutes), lambda h: setup)
    assert [p for p, _, _ in _texts(fake)] == [WANG, WANG, LI, ZHANG]  # the other woman's goes on

    answer = browser.post(
        f"/staff/on-call/tasks/{bp}/acknowledge", {}, token_from=f"/staff/on-call/tasks/{bp}"
    )
    assert answer.status_code == 302
    with db.reading() as session:
        claimed = {t.id: t.claimed_by for t in session.scalars(select(StaffTask))}
    assert claimed[bp] == claimed[danger] == f"staff:{staff_id}" and claimed[other_woman] is None


def test_her_tasks_go_down_the_roster_together_and_a_task_while_unacknowledged_joins_the_notice(
    app: Flask,  # noqa: F811
    clock: Any,  # noqa: F811
    fake: FakeProviders,
    setup: HospitalDelivery,
) -> None:
    db = app.extensions["carepath.db"]
    bp = _task(app, NIGHT)
    pregnancy = _pregnancy_of(app, bp)
    danger = _task(app, NIGHT, pregnancy=pregnancy, rule="danger-symptoms", title=DANGER)
    route_once(db, NIGHT, lambda h: setup)
    # 23:20 she reports again: a third urgent task while Wang has not opened his link
    later = _task(app, NIGHT + timedelta(minutes=20), pregnancy=pregnancy, rule="severe-bp-2")
    assert route_once(db, NIGHT + timedelta(minutes=20), lambda h: setup).sent == 0
    assert [p for p, _, _ in _texts(fake)] == [WANG]  # joined: no second SMS
    # 00:00 the first two are due and unacknowledged: one SMS to the next person for both
    route_once(db, NIGHT + timedelta(hours=1), lambda h: setup)
    assert [p for p, _, _ in _texts(fake)] == [WANG, LI]
    with db.reading() as session:
        told = sorted(
            (n.task_id, same)
            for n, same in ((n, on_call.same_person(n.phone)) for n in session.scalars(select(OnCallNotice)))
        )
    assert told == sorted(
        [
            (bp, "13800000001"),
            (danger, "13800000001"),
            (later, "13800000001"),
            (bp, "13800000002"),
            (danger, "13800000002"),
        ]
    )
    # 00:20 the third is due: Li already holds an unopened notice about her, it joins that one
    route_once(db, NIGHT + timedelta(hours=1, minutes=20), lambda h: setup)
    assert [p for p, _, _ in _texts(fake)] == [WANG, LI]
    # Li opens his link: all three acknowledged, the lead is never told
    clock.now = NIGHT + timedelta(hours=1, minutes=25)
    browser = StaffBrowser(app.test_client())
    make_staff(app, "li", "doctor")
    browser.login("li")
    assert browser.client.get(urlsplit(_texts(fake)[1][2]).path).status_code == 302
    for minutes in (90, 120, 240):
        route_once(db, NIGHT + timedelta(minutes=minutes), lambda h: setup)
    assert [p for p, _, _ in _texts(fake)] == [WANG, LI]


def test_a_task_for_her_after_the_acknowledgement_gets_a_new_notice(
    app: Flask,  # noqa: F811
    clock: Any,  # noqa: F811
    fake: FakeProviders,
    setup: HospitalDelivery,
) -> None:
    db = app.extensions["carepath.db"]
    bp = _task(app, NIGHT)
    pregnancy = _pregnancy_of(app, bp)
    _task(app, NIGHT, pregnancy=pregnancy, rule="danger-symptoms", title=DANGER)
    route_once(db, NIGHT, lambda h: setup)
    clock.now = NIGHT + timedelta(minutes=10)
    browser = StaffBrowser(app.test_client())
    make_staff(app, "wang", "doctor")
    browser.login("wang")
    assert browser.client.get(urlsplit(_texts(fake)[0][2]).path).status_code == 302
    third = _task(app, NIGHT + timedelta(minutes=40), pregnancy=pregnancy, rule="severe-bp-2")
    assert route_once(db, NIGHT + timedelta(minutes=40), lambda h: setup).sent == 1
    texts = _texts(fake)
    assert [p for p, _, _ in texts] == [WANG, WANG] and texts[0][2] != texts[1][2]
    clock.now = NIGHT + timedelta(minutes=45)
    browser.login("wang")
    opened = browser.client.get(urlsplit(texts[1][2]).path)
    assert opened.headers["Location"].endswith(f"/staff/on-call/tasks/{third}")


def test_a_hospital_without_sms_gets_the_notice_by_its_webhook(
    app: Flask,  # noqa: F811
    fake: FakeProviders,
    client: httpx.Client,
) -> None:
    db = app.extensions["carepath.db"]
    deps = ChannelDeps(client=client, token_store=InMemoryTokenStore(), inbox=MemoryInbox())
    hook = {
        "inbox": {},
        "webhook": {
            "url": f"{fake.base_url}/hooks/call-centre",
            "key_id": "ck_hospital",
            "secret": "hook-secret",
        },
    }
    set_hospital_settings(
        db,
        HOSPITAL,
        working_hours={day: "08:00-17:30" for day in ("mon", "tue", "wed", "thu", "fri")},
        on_call=ROSTER,
        public_base_url="https://mch.example",
    )
    setup = HospitalDelivery(channels=build_channels(hook, deps, {}))
    task_id = _task(app, NIGHT)
    report = route_once(db, NIGHT, lambda h: setup)
    assert report.sent == 1 and not fake.delivered("tencent.sms")
    (received,) = fake.delivered("webhook")
    body = received.payload
    assert (body["recipient"], body["summary"]) == ("138 0000 0001", on_call.NOTICE_TEXT)
    assert body["kind"] == "on-call-task" and body["link"].startswith("https://mch.example/staff/on-call/")
    with db.reading() as session:
        notice = session.scalars(select(OnCallNotice)).one()
        assert (notice.task_id, notice.channel, notice.status) == (task_id, "webhook", "sent")
        assert notice.token_hash == on_call.token_hash(body["link"].rsplit("/", 1)[1])


def test_her_two_tasks_refused_by_a_landline_pass_on_together_as_one_sms(
    app: Flask,  # noqa: F811
    fake: FakeProviders,
    setup: HospitalDelivery,
) -> None:
    db = app.extensions["carepath.db"]
    set_hospital_settings(
        db, HOSPITAL, on_call=[{"role": "值班", "name": "座机", "phone": "0571-87654321"}, *ROSTER]
    )
    bp = _task(app, NIGHT)
    _task(app, NIGHT, pregnancy=_pregnancy_of(app, bp), rule="danger-symptoms", title=DANGER)
    report = route_once(db, NIGHT, lambda h: setup)
    assert (report.planned, report.sent, report.failed) == (2, 0, 1)  # two rows, one message
    with db.reading() as session:
        assert [n.status for n in session.scalars(select(OnCallNotice))] == ["failed", "failed"]
    assert route_once(db, NIGHT + timedelta(minutes=1), lambda h: setup).sent == 1
    assert [p for p, _, _ in _texts(fake)] == [WANG]
