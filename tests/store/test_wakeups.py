from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from carepath.store.models import OutboxRow, Pregnancy
from carepath.store.wakeups import wake_due
from tests.conftest import NOW
from tests.webapi.conftest import Api, diagnosis, registration


def test_tick_evaluates_due_pregnancies_once(api: Api, app: Any) -> None:
    assert api.post("/api/v1/events", registration()).status_code == 201
    assert api.post("/api/v1/events", diagnosis()).status_code == 201
    db = app.extensions["carepath.db"]
    with db.reading() as session:
        wakeup = session.scalar(select(Pregnancy.next_wakeup))
        before = session.scalar(select(func.count()).select_from(OutboxRow))
    assert wakeup is not None and wakeup > NOW
    assert wake_due(db, NOW) == []  # nothing due yet
    later = wakeup + timedelta(minutes=1)
    woken = wake_due(db, later)
    assert len(woken) == 1
    with db.reading() as session:
        after = session.scalar(select(func.count()).select_from(OutboxRow))
        moved = session.scalar(select(Pregnancy.next_wakeup))
    assert after >= before
    assert moved is None or moved > later
    assert wake_due(db, later) == []  # the same tick again finds nothing due


def test_a_batch_is_written_together_and_a_failing_woman_alone_keeps_her_wake_up(
    api: Api, app: Any, monkeypatch: Any
) -> None:
    """Issue 22 item 1: a page is decided woman by woman and written together; one whose decision
    fails and one whose write fails keep their wake-ups, the rest of the page is written, and the
    next sweep takes the two."""
    from carepath.store import evaluation, wakeups
    from tests.conftest import resident_id

    for n in range(4):
        body = registration(f"p-{n}", f"reg-{n}", id_number=resident_id(n), phone=f"1380000000{n}")
        assert api.post("/api/v1/events", body).status_code == 201
    db = app.extensions["carepath.db"]
    with db.reading() as session:
        wakeups_before = dict(session.execute(select(Pregnancy.id, Pregnancy.next_wakeup)).all())
    bad_decision, bad_write = sorted(wakeups_before)[:2]
    later = max(wakeups_before.values()) + timedelta(minutes=1)
    decide_for, persist_many = evaluation.decide_for, evaluation.persist_many
    batches: list[int] = []

    def failing_decision(
        session: Any, hospital_id: str, library: Any, state: Any, *args: Any, **kw: Any
    ) -> Any:
        if state.facts.pregnancy_id == bad_decision:
            raise RuntimeError("the engine failed for her")
        return decide_for(session, hospital_id, library, state, *args, **kw)

    def failing_write(session: Any, decisions: Any, now: Any) -> Any:
        batches.append(len(decisions))
        if any(d.pregnancy.id == bad_write for d in decisions):
            raise RuntimeError("her row cannot be written")
        return persist_many(session, decisions, now)

    monkeypatch.setattr(wakeups.evaluation, "decide_for", failing_decision)
    monkeypatch.setattr(wakeups.evaluation, "persist_many", failing_write)
    woken = wake_due(db, later)
    assert sorted(woken) == sorted(set(wakeups_before) - {bad_decision, bad_write})
    assert batches[0] == 3  # the three decided women in one write, then each alone
    with db.reading() as session:
        after = dict(session.execute(select(Pregnancy.id, Pregnancy.next_wakeup)).all())
    for pregnancy_id in (bad_decision, bad_write):
        assert after[pregnancy_id] == wakeups_before[pregnancy_id]  # kept for the next sweep
    for pregnancy_id in woken:
        assert after[pregnancy_id] is None or after[pregnancy_id] > later
    monkeypatch.undo()
    assert sorted(wake_due(db, later)) == sorted([bad_decision, bad_write])


def test_a_dispatcher_filing_her_inbox_copy_does_not_make_the_sweep_skip_her(api: Api, app: Any) -> None:
    """Issue 22: a dispatcher's claim files her inbox copy, and the foreign-key check of that row
    holds a ``KEY SHARE`` lock on her pregnancy until the claim commits. The sweep's page lock
    (``FOR NO KEY UPDATE SKIP LOCKED``) does not conflict with it: she is woken, not skipped
    (a plain ``FOR UPDATE`` skipped her, and made the dispatcher's INSERT wait for the page)."""
    import pytest

    assert api.post("/api/v1/events", registration()).status_code == 201
    db = app.extensions["carepath.db"]
    if db.engine.dialect.name != "postgresql":
        pytest.skip("row locks are PostgreSQL's; SQLite serialises writers")
    with db.reading() as session:
        pregnancy_id, hospital_id, wakeup = session.execute(
            select(Pregnancy.id, Pregnancy.hospital_id, Pregnancy.next_wakeup)
        ).one()
    later = wakeup + timedelta(minutes=1)
    with db.engine.connect() as dispatcher:  # a claim in progress: her copy filed, not committed
        file_her_copy(dispatcher, hospital_id, pregnancy_id)
        woken = wake_due(db, later)
        dispatcher.rollback()
    assert woken == [pregnancy_id]


def file_her_copy(dispatcher: Any, hospital_id: str, pregnancy_id: str) -> None:
    """What a dispatcher's claim does first for her, left uncommitted on ``dispatcher``: her inbox
    copy filed (its foreign-key check takes ``KEY SHARE`` on her pregnancy's row)."""
    from carepath.store.models import InboxItem

    dispatcher.execute(
        InboxItem.__table__.insert().values(
            hospital_id=hospital_id, pregnancy_id=pregnancy_id, dedupe_key="claim-in-progress",
            kind="education", title="t", summary="s", body="b", filed_at=NOW,
        )
    )  # fmt: skip
