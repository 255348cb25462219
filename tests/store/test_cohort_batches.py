"""Batch actions on a cohort (issue 21 item 4): the refusals, a tag and a plan through the
language's events, a push once per woman however often the batch runs, a crashed batch going on
from its cursor, and a second batch of the same item skipping who has it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select, update

from carepath.store import cohort_batch_runs as runs
from carepath.store import cohort_batches
from carepath.store.models import AuditEntry, EventRecord, OutboxRow, Pregnancy
from carepath.store.models_batches import CohortBatch
from carepath.store.record_actions import RecordActionError
from carepath.store.scope import Actor
from tests.conftest import NOW, approve_item
from tests.webapi.conftest import Api, make_staff
from tests.webapi.staff.record_seed import register


def _db(app: Flask) -> Any:
    return app.extensions["carepath.db"]


def _cipher(app: Flask) -> Any:
    return app.extensions["carepath.cipher"]


@pytest.fixture
def doctor(app: Flask) -> Actor:
    return Actor("a", "staff", str(make_staff(app, "doctor.wang", "doctor")), "10.0.0.1")


@pytest.fixture
def women(app: Flask, api: Api) -> list[str]:
    """Five women, the first three with a placenta praevia (orange suggested)."""
    return [register(api, f"p-{n:03d}", code="O44.1" if n <= 3 else None, n=n) for n in range(1, 6)]


def _start(app: Flask, actor: Actor, action: str, target: str, request: str, **filters: Any) -> int:
    query = cohort_batches.query_of(filters or {"status": "pregnant"})
    batch_id, _ = cohort_batches.start(
        _db(app),
        _cipher(app),
        actor,
        query,
        action=action,
        target=target,
        reason="孕期宣教",
        request=request,
        confirmed_large=False,
        now=NOW,
    )
    return batch_id


def _batch(app: Flask, batch_id: int) -> dict[str, Any]:
    found = cohort_batches.progress(_db(app), "a", batch_id)
    assert found is not None
    return found


def _pushes(app: Flask, content: str = "gdm-welcome") -> list[tuple[str, str]]:
    with _db(app).reading() as session:
        return [
            (p, k)
            for p, k in session.execute(
                select(OutboxRow.pregnancy_id, OutboxRow.dedupe_key).where(
                    OutboxRow.kind == "push", OutboxRow.params["content"].as_string() == content
                )
            )
        ]


def test_an_empty_filter_and_a_bad_target_are_refused(app: Flask, women: list[str], doctor: Actor) -> None:
    with pytest.raises(RecordActionError) as empty:
        cohort_batches.query_of({"name": "  ", "week_from": ""})
    assert empty.value.code == "empty-filter"
    with pytest.raises(RecordActionError) as week:
        cohort_batches.query_of({"week_from": "x"})
    assert week.value.code == "bad-week"
    query = cohort_batches.query_of({"status": "pregnant"})
    for action, target, code in (
        ("tag", "", "tag-required"),
        ("enrol", "no-such-plan", "unknown-pathway"),
        ("push", "no-such-item", "unknown-content"),
        ("push", "gdm-welcome", "unapproved-content"),
        ("delete", "x", "bad-action"),
    ):
        with pytest.raises(RecordActionError) as refused:
            cohort_batches.check(
                _db(app), _cipher(app), doctor, query, action=action, target=target, reason="原因", now=NOW
            )
        assert refused.value.code == code, action
    with pytest.raises(RecordActionError) as no_reason:
        cohort_batches.check(
            _db(app), _cipher(app), doctor, query, action="tag", target="t", reason=" ", now=NOW
        )
    assert no_reason.value.code == "reason-required"
    with _db(app).reading() as session:
        assert session.scalar(select(func.count()).select_from(CohortBatch)) == 0


def test_the_preview_counts_the_cohort_and_shows_a_masked_sample(
    app: Flask, women: list[str], doctor: Actor
) -> None:
    shown = cohort_batches.preview(
        _db(app), _cipher(app), doctor, cohort_batches.query_of({"risk_colour": "orange"}), NOW
    )
    assert shown.total == 3 and shown.filter == {"risk_colour": "orange"}
    assert [s["pregnancy"] for s in shown.sample] == sorted(women[:3])
    assert all(s["patient"]["name"] == "王**" for s in shown.sample)


def test_a_cohort_by_diagnosis_and_a_filter_the_search_refuses(
    app: Flask, women: list[str], doctor: Actor
) -> None:
    """自动化患者管理 acts on women by their diagnoses: an ICD-10 code's beginning selects them; a
    filter the search cannot use is the batch's own refusal (a Chinese message, not a 500)."""
    shown = cohort_batches.preview(
        _db(app), _cipher(app), doctor, cohort_batches.query_of({"diagnosis": "O44"}), NOW
    )
    assert shown.total == 3 and [s["pregnancy"] for s in shown.sample] == sorted(women[:3])
    with pytest.raises(RecordActionError) as refused:
        cohort_batches.preview(
            _db(app), _cipher(app), doctor, cohort_batches.query_of({"source": "no-such-source"}), NOW
        )
    assert refused.value.code == "filter-refused"


def test_a_batch_tag_goes_through_the_events_and_runs_once(
    app: Flask, women: list[str], doctor: Actor
) -> None:
    batch_id = _start(app, doctor, "tag", "孕期随访", "req-tag-0001", risk_colour="orange")
    again, replay = cohort_batches.start(
        _db(app),
        _cipher(app),
        doctor,
        cohort_batches.query_of({"risk_colour": "orange"}),
        action="tag",
        target="孕期随访",
        reason="孕期宣教",
        request="req-tag-0001",
        confirmed_large=False,
        now=NOW,
    )
    assert (again, replay) == (batch_id, True)  # a double click confirms one batch
    assert runs.run(_db(app), _cipher(app), batch_id, "w1", lambda: NOW) == "done"
    shown = _batch(app, batch_id)
    assert (shown["total"], shown["done"], shown["skipped"], shown["failed"]) == (3, 3, 0, 0)
    with _db(app).reading() as session:
        tagged = {
            p.id for p in session.scalars(select(Pregnancy)) if "孕期随访" in p.state["facts"].get("tags", [])
        }
        kinds = session.scalars(
            select(EventRecord.type).where(EventRecord.event_id.like(f"batch-{batch_id}-%"))
        )
        assert tagged == set(women[:3]) and list(kinds) == ["tag.added"] * 3
        audits = session.scalars(
            select(AuditEntry.detail).where(AuditEntry.detail.like(f"%batch {batch_id}%"))
        )
        assert len(list(audits)) == 4  # the batch, then each woman
    # a second batch of the same tag changes nothing: each woman has it already
    second = _start(app, doctor, "tag", "孕期随访", "req-tag-0002", risk_colour="orange")
    runs.run(_db(app), _cipher(app), second, "w1", lambda: NOW)
    assert (_batch(app, second)["done"], _batch(app, second)["skipped"]) == (0, 3)


def test_a_batch_enrols_in_a_plan_of_the_library(app: Flask, women: list[str], doctor: Actor) -> None:
    batch_id = _start(app, doctor, "enrol", "gdm-example", "req-enrol-01", his_id="p-004")
    assert runs.run(_db(app), _cipher(app), batch_id, "w1", lambda: NOW) == "done"
    with _db(app).reading() as session:
        kinds = list(
            session.scalars(select(EventRecord.type).where(EventRecord.event_id.like(f"batch-{batch_id}-%")))
        )
    assert kinds == ["plan.enrol_requested"] and _batch(app, batch_id)["done"] == 1


def test_a_batch_push_is_sent_once_even_when_run_again(app: Flask, women: list[str], doctor: Actor) -> None:
    approve_item(_db(app), "a", "content", "gdm-welcome")
    batch_id = _start(app, doctor, "push", "gdm-welcome", "req-push-0001")
    assert runs.run(_db(app), _cipher(app), batch_id, "w1", lambda: NOW) == "done"
    sent = _pushes(app)
    with _db(app).reading() as session:
        version = session.scalar(select(CohortBatch.content_version).where(CohortBatch.id == batch_id))
    assert sorted(p for p, _ in sent) == sorted(women)
    assert {k for _, k in sent} == {f"{p}/manual@1/batch-{batch_id}/gdm-welcome@{version}/0" for p in women}
    # the same batch run again from the start (as after losing its cursor): nothing new
    with _db(app).transaction() as session:
        session.execute(update(CohortBatch).values(state="running", cursor=None, claimed_by=None))
    runs.run(_db(app), _cipher(app), batch_id, "w2", lambda: NOW)
    assert len(_pushes(app)) == 5 and _batch(app, batch_id)["skipped"] == 5


def test_a_crashed_batch_goes_on_from_its_cursor(
    app: Flask, women: list[str], doctor: Actor, monkeypatch: pytest.MonkeyPatch
) -> None:
    approve_item(_db(app), "a", "content", "gdm-welcome")
    monkeypatch.setattr(runs, "PUSH_PAGE", 2)
    batch_id = _start(app, doctor, "push", "gdm-welcome", "req-push-0002")
    assert runs.claim(_db(app), batch_id, "w1", NOW)
    assert runs.run_page(_db(app), _cipher(app), batch_id, "w1", NOW)
    # w1 dies here; its claim holds for a while, then w2 takes it over
    assert not runs.claim(_db(app), batch_id, "w2", NOW + timedelta(seconds=30))
    assert runs.stalled(_db(app), "a", NOW + timedelta(seconds=30)) == []
    later = NOW + runs.CLAIM + timedelta(seconds=1)
    assert runs.stalled(_db(app), "a", later) == [batch_id]
    assert runs.run(_db(app), _cipher(app), batch_id, "w2", lambda: later) == "done"
    assert not runs.run_page(_db(app), _cipher(app), batch_id, "w1", later)  # w1 lost it
    shown = _batch(app, batch_id)
    assert (shown["done"], shown["skipped"], shown["failed"]) == (5, 0, 0)
    assert sorted(p for p, _ in _pushes(app)) == sorted(women)


def test_a_new_batch_of_the_same_item_skips_who_has_it(app: Flask, women: list[str], doctor: Actor) -> None:
    approve_item(_db(app), "a", "content", "gdm-welcome")
    first = _start(app, doctor, "push", "gdm-welcome", "req-push-0003", risk_colour="orange")
    runs.run(_db(app), _cipher(app), first, "w1", lambda: NOW)
    plan = cohort_batches.check(
        _db(app),
        _cipher(app),
        doctor,
        cohort_batches.query_of({"status": "pregnant"}),
        action="push",
        target="gdm-welcome",
        reason="再次宣教",
        now=NOW,
    )
    assert (plan.total, plan.already) == (5, 3)  # the confirm screen says how many
    second = _start(app, doctor, "push", "gdm-welcome", "req-push-0004")
    runs.run(_db(app), _cipher(app), second, "w1", lambda: NOW)
    shown = _batch(app, second)
    assert (shown["already"], shown["done"], shown["skipped"]) == (3, 2, 3)
    assert sorted(p for p, _ in _pushes(app)) == sorted(women)  # one each, never two


def test_above_500_women_a_second_confirmation_is_needed(
    app: Flask, women: list[str], doctor: Actor, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cohort_batches, "LARGE", 4)
    with pytest.raises(RecordActionError) as refused:
        _start(app, doctor, "tag", "孕期随访", "req-large-01")
    assert refused.value.code == "second-confirmation"
    batch_id, _ = cohort_batches.start(
        _db(app),
        _cipher(app),
        doctor,
        cohort_batches.query_of({"status": "pregnant"}),
        action="tag",
        target="孕期随访",
        reason="孕期宣教",
        request="req-large-01",
        confirmed_large=True,
        now=NOW,
    )
    assert _batch(app, batch_id)["total"] == 5
