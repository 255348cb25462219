"""The scheduler: its single-scheduler lock, the sweep, the jobs' app context and a virtual
clock jumped three weeks (the jobs are driven directly with the test clock; nothing sleeps)."""

from __future__ import annotations

import time
from collections import Counter
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask import has_app_context
from sqlalchemy import select, update

import carepath.scheduler as scheduler_module
from carepath.scheduler import (
    AdvisoryLock,
    Jobs,
    LeaseLock,
    Scheduler,
    SchedulerLockedError,
    Settings,
    lock_for,
)
from carepath.store import consents
from carepath.store.models import OutboxRow, Patient, Pregnancy, SchedulerLease
from tests.conftest import NOW, resident_id, set_hospital_settings
from tests.delivery.conftest import OA_APPID
from tests.delivery.test_dispatcher import hospital_delivery
from tests.webapi.conftest import diagnosis, registration

SHANGHAI = ZoneInfo("Asia/Shanghai")
EXTERNAL = {"wechat_template", "wechat_subscribe", "sms_tencent", "sms_aliyun", "webhook"}


def _db(app: Any) -> Any:
    return app.extensions["carepath.db"]


def test_a_second_scheduler_is_refused_and_told_who_holds_the_lock(app: Any, clock: Any) -> None:
    db = _db(app)
    first = lock_for(db, clock, holder="ward-a:101")
    second = lock_for(db, clock, holder="ward-b:202")
    first.acquire()
    try:
        with pytest.raises(SchedulerLockedError) as refused:
            second.acquire()
        message = str(refused.value)
        assert "ward-a:101" in message and " since " in message
        assert refused.value.holder == "ward-a:101" and refused.value.since is not None
        assert first.renew()
    finally:
        first.release()
    second.acquire()  # released: the next one takes it
    second.release()


def test_an_expired_lease_is_taken_over_and_the_old_holder_learns_it(app: Any, clock: Any) -> None:
    db = _db(app)
    old = LeaseLock(db, clock, holder="ward-a:101", lease_seconds=60)
    new = LeaseLock(db, clock, holder="ward-b:202", lease_seconds=60)
    old.acquire()  # ... and then its process dies without releasing
    clock.now = NOW + timedelta(seconds=59)
    with pytest.raises(SchedulerLockedError, match="ward-a:101"):
        new.acquire()
    clock.now = NOW + timedelta(seconds=61)
    new.acquire()
    assert not old.renew()  # the old one, were it only paused, stops its jobs
    with db.reading() as session:
        lease = session.get(SchedulerLease, "scheduler")
        assert lease is not None and lease.holder == "ward-b:202" and lease.acquired_at == clock.now
    new.release()
    with db.reading() as session:
        assert session.get(SchedulerLease, "scheduler") is None


def test_postgresql_lock_dies_with_its_connection(app: Any, clock: Any) -> None:
    db = _db(app)
    if db.engine.dialect.name != "postgresql":
        pytest.skip("the advisory lock is PostgreSQL's")
    first = AdvisoryLock(db, holder="ward-a:101")
    first.acquire()
    assert first.connection is not None
    first.connection.invalidate()  # the process is killed: its connection goes with it
    first.connection = None
    for _ in range(600):  # the server notices the closed socket soon; a busy machine, later
        try:
            AdvisoryLock(db, holder="ward-b:202").acquire()
            break
        except SchedulerLockedError:
            time.sleep(0.1)
    else:
        pytest.fail("the dead connection's lock was never freed")


def id_number(n: int) -> str:
    """A resident ID number that passes every check, one per woman."""
    return resident_id(n)


def _registration(n: int) -> dict[str, Any]:
    return registration(f"p-{n}", f"reg-{n}", id_number=id_number(n), phone=f"138{n:08d}")


def _register(api: Any, n: int) -> None:
    assert api.post("/api/v1/events", _registration(n)).status_code == 201


def test_one_sweep_evaluates_only_the_due_pregnancies(api: Any, app: Any, clock: Any) -> None:
    db = _db(app)
    batch = [_registration(n) for n in range(100)]
    response = api.post("/api/v1/events:batch", {"events": batch})
    assert response.status_code in (200, 201, 207), response.get_json()
    later = NOW + timedelta(days=1)
    with db.transaction() as session:
        ids = sorted(session.scalars(select(Pregnancy.id)))
        assert len(ids) == 100
        session.execute(update(Pregnancy).values(next_wakeup=later + timedelta(days=30)))
        due = ids[:3]
        session.execute(update(Pregnancy).where(Pregnancy.id.in_(due)).values(next_wakeup=later))
        before = {p.id: p.updated_at for p in session.scalars(select(Pregnancy))}
    clock.now = later
    jobs = Jobs(app, lambda hospital: None, Settings(sweep_batch=2))  # two batches
    assert sorted(jobs.sweep()) == due
    with db.reading() as session:
        after = {p.id: (p.updated_at, p.next_wakeup) for p in session.scalars(select(Pregnancy))}
    assert [i for i in ids if after[i][0] != before[i]] == due  # nobody else was touched
    assert all(after[i][1] is None or after[i][1] > later for i in due)
    assert jobs.sweep() == []  # the same tick again finds nothing due


def test_jobs_call_services_inside_the_app_context(
    api: Any, app: Any, clock: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    _register(api, 1)
    seen: list[tuple[str, bool]] = []

    def watch(name: str, service: Any) -> Any:
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            seen.append((name, has_app_context()))
            return service(*args, **kwargs)

        return wrapped

    for name in ("wake_due", "dispatch_once", "recover_in_flight", "escalate_overdue"):
        monkeypatch.setattr(scheduler_module, name, watch(name, getattr(scheduler_module, name)))
    jobs = Jobs(app, lambda hospital: hospital_delivery_stub())
    jobs.recover(), jobs.sweep(), jobs.dispatch(), jobs.escalate()
    assert seen == [
        ("recover_in_flight", True),
        ("wake_due", True),
        ("dispatch_once", True),
        ("escalate_overdue", True),
    ]
    assert not has_app_context()


def hospital_delivery_stub() -> Any:
    from carepath.channels.console import ConsoleChannel
    from carepath.channels.inbox import InboxChannel, MemoryInbox
    from carepath.delivery.dispatch_settings import HospitalDelivery
    from carepath.delivery.policy import HospitalPolicy

    return HospitalDelivery(
        channels={"inbox": InboxChannel(MemoryInbox()), "console": ConsoleChannel()},
        policy=HospitalPolicy(fallback_order=("console", "inbox")),
    )


def _reachable(app: Any, n: int) -> None:
    """Her consents and her WeChat binding, as the mini-program would record them."""
    db, cipher = _db(app), app.extensions["carepath.cipher"]
    with db.transaction() as session:
        patient = session.scalar(select(Patient).where(Patient.his_patient_id == f"p-{n}"))
        assert patient is not None
        common = {"hospital_id": "a", "patient_id": patient.id, "notice_version": "2026-01"}
        consents.record_consent(
            session, **common, channel="*", topic="health-information", source="mini-program", at=NOW
        )
        consents.record_consent(
            session, **common, channel="wechat_template", topic="*", source="mini-program", at=NOW
        )
        consents.bind(
            session, cipher, hospital_id="a", patient_id=patient.id, kind="wechat_oa",
            value=f"o-{n}", account=OA_APPID, at=NOW,
        )  # fmt: skip


def test_virtual_clock_jumped_three_weeks(api: Any, app: Any, clock: Any, fake: Any, client: Any) -> None:
    """Enrolled on GDM (a weekly glucose log) and due a checkup reminder, then the scheduler is
    down for three weeks. At restart: the missed weekly occurrences catch up as one (the
    rule's catch-up policy), and the daily cap (1 here) holds; what it holds back goes out on
    the following days, never all at once."""
    women = range(1, 6)
    for n in women:
        _register(api, n)
        assert api.post("/api/v1/events", diagnosis(f"p-{n}", f"dx-{n}")).status_code == 201
        _reachable(app, n)
    # What is held is the cap, not the review: this hospital sends the shipped drafts.
    set_hospital_settings(_db(app), "a", daily_cap=1, drafts_allowed=True)
    setup = hospital_delivery(fake, client)
    jobs = Jobs(app, lambda hospital: setup)
    db = _db(app)

    clock.now = NOW + timedelta(weeks=3)  # 15:00 in Shanghai, inside the window
    jobs.recover()
    woken = jobs.sweep()
    assert len(woken) == len(women)
    with db.reading() as session:
        logs = Counter(
            r.pregnancy_id for r in session.scalars(select(OutboxRow)) if "/glucose-log/" in r.dedupe_key
        )
    assert sorted(logs.values()) == [1] * len(women)  # three weeks missed, one questionnaire each

    for _ in range(4):  # the dispatcher ticks on through the afternoon: the cap still holds
        jobs.dispatch()
        clock.now += timedelta(minutes=10)
    assert len(jobs.sweep()) == 0
    per_day = _external_per_day(db)
    assert per_day and all(count == 1 for count in per_day.values())
    first_day = {day for (_, day) in per_day}
    assert first_day == {(NOW + timedelta(weeks=3)).astimezone(SHANGHAI).date()}

    for _ in range(3):  # the next mornings: the rest, one a day each
        clock.now += timedelta(days=1)
        jobs.sweep()
        jobs.dispatch()
    per_day = _external_per_day(db)
    assert all(count <= 1 for count in per_day.values())
    with db.reading() as session:
        pending = [
            r
            for r in session.scalars(select(OutboxRow).where(OutboxRow.status == "due"))
            if r.kind in ("remind", "questionnaire")
        ]
    assert pending == []  # held back, then sent: nothing dropped
    assert sum(per_day.values()) == 2 * len(women)  # the checkup reminder and the glucose log


def _external_per_day(db: Any) -> Counter[tuple[str, Any]]:
    with db.reading() as session:
        return Counter(
            (r.pregnancy_id, r.sent_at.astimezone(SHANGHAI).date())
            for r in session.scalars(select(OutboxRow).where(OutboxRow.status == "sent"))
            if r.channel in EXTERNAL and r.sent_at is not None
        )


def test_the_scheduler_runs_its_jobs_and_releases_its_lease(app: Any, clock: Any) -> None:
    reports: list[str] = []
    jobs = Jobs(
        app,
        lambda hospital: hospital_delivery_stub(),
        Settings(sweep_seconds=0.2, dispatch_seconds=0.2, lease_seconds=3),
        on_report=lambda job, result: reports.append(job),
    )
    running = Scheduler(jobs, holder="ward-a:101")
    running.start()
    try:
        with pytest.raises(SchedulerLockedError, match="ward-a:101"):
            Scheduler(jobs, holder="ward-b:202").start()
        for _ in range(1200):  # up to a minute: a bound for a busy machine, not a measure
            if {"sweep", "dispatch"} <= set(reports):
                break
            time.sleep(0.05)
        assert reports[0] == "recover" and {"sweep", "dispatch"} <= set(reports)
    finally:
        running.shutdown()
    Scheduler(jobs, holder="ward-b:202").lock.acquire()  # released on shutdown


def test_a_scheduler_interrupted_while_its_thread_starts_still_shuts_down_and_releases(
    app: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SIGTERM (``carepath serve``) can land inside APScheduler's start, after it says it runs
    and before its thread has started: shutting down then must not fail joining that thread
    (a traceback and exit 1, found by tests/cli/test_serve.py on a loaded machine)."""
    import threading

    jobs = Jobs(
        app, lambda hospital: hospital_delivery_stub(), Settings(sweep_seconds=60, dispatch_seconds=60)
    )
    running = Scheduler(jobs, holder="ward-a:101")

    def interrupted(self: threading.Thread) -> None:
        raise KeyboardInterrupt  # what serve's SIGTERM handler raises

    with monkeypatch.context() as patch:
        patch.setattr(threading.Thread, "start", interrupted)
        with pytest.raises(KeyboardInterrupt):
            running.start()
    running.shutdown()  # no RuntimeError: cannot join thread before it is started
    Scheduler(jobs, holder="ward-b:202").lock.acquire()  # the lock was released
