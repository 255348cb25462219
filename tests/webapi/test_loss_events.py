"""Suspected loss through the API (issue 16 item 7), on SQLite and PostgreSQL: a loss code holds
her pregnancy in the event's own transaction; loss.confirmed ends the pregnancy and cancels every
unsent row of hers in the same transaction; loss.rejected lifts the hold, releasing the rows
still ahead and skipping those whose moment passed."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Flask
from sqlalchemy import select

from carepath.store import pathways
from carepath.store.models import DeliveryPause, OutboxRow, Pregnancy
from tests.conftest import NOW
from tests.webapi.conftest import Api, diagnosis, registration

MESSAGES = ("push", "remind", "questionnaire")
#: Reminders pending from her registration: one comes during the hold, one after it.
REMINDERS = """
pathway: loss-hold-reminders
title: 提醒
rules:
  - id: soon
    on: enrolled
    do: [{remind: {content: anc-next-contact, after: 1w}}]
  - id: later
    on: enrolled
    do: [{remind: {content: anc-next-contact, after: 6w}}]
"""


def _publish(app: Flask) -> None:
    with app.extensions["carepath.db"].transaction() as session:
        pathways.publish(session, {"loss-hold-reminders.yaml": REMINDERS}, NOW, hospital_id="a")
    pathways.clear_cache()


def loss_event(event_id: str, kind: str, occurred_at: str, **data: str) -> dict[str, Any]:
    return {
        "id": event_id,
        "type": kind,
        "occurred_at": occurred_at,
        "patient": {"his_id": "p-001"},
        "data": data,
    }


def _read(app: Flask) -> tuple[Pregnancy, list[tuple[str, str, str | None, Any]], list[str]]:
    with app.extensions["carepath.db"].reading() as session:
        pregnancy = session.scalars(select(Pregnancy)).one()
        rows = session.execute(
            select(OutboxRow.dedupe_key, OutboxRow.status, OutboxRow.status_reason, OutboxRow.due_at).where(
                OutboxRow.kind.in_(MESSAGES)
            )
        ).all()
        pauses = list(session.scalars(select(DeliveryPause.target).where(DeliveryPause.scope == "pregnancy")))
        session.expunge(pregnancy)
    return pregnancy, [tuple(r) for r in rows], pauses


def test_a_loss_code_holds_her_and_the_confirmation_cancels_every_unsent_row(api: Api, app: Flask) -> None:
    _publish(app)
    assert api.post("/api/v1/events", registration()).status_code == 201
    _, before, pauses = _read(app)
    assert any(status == "due" for _, status, _, _ in before) and pauses == []
    held = api.post("/api/v1/events", diagnosis(code="O03.9"))
    assert held.status_code == 201, held.get_json()
    pregnancy, _, pauses = _read(app)
    assert pauses == [pregnancy.id]
    api.clock.now = NOW + timedelta(hours=1)
    confirmed = api.post(
        "/api/v1/events",
        loss_event(
            "loss-1", "loss.confirmed", "2026-07-10T15:30:00+08:00", confirmed_by="张医生", reason="稽留流产"
        ),
    )
    assert confirmed.status_code == 201, confirmed.get_json()
    new_keys = {a["dedupe_key"] for a in confirmed.get_json()["actions"]}
    pregnancy, after, pauses = _read(app)
    assert pregnancy.status == "ended" and pauses == []
    unsent_before = {key for key, status, _, _ in before if status == "due"}
    assert any(due_at > NOW for key, _, _, due_at in before if key in unsent_before)  # pending ones too
    for key, status, reason, _ in after:
        if key in unsent_before:
            assert (status, reason) == ("cancelled", "loss-confirmed"), key
        elif key in new_keys:
            assert status == "due"  # what the confirmation itself starts (the loss follow-up) goes


def test_a_rejection_releases_what_is_ahead_and_skips_what_passed(api: Api, app: Flask) -> None:
    _publish(app)
    assert api.post("/api/v1/events", registration()).status_code == 201
    suspected = api.post(
        "/api/v1/events",
        loss_event(
            "loss-1", "loss.suspected", "2026-07-10T14:40:00+08:00", reported_by="李护士", reason="阴道出血"
        ),
    )
    assert suspected.status_code == 201, suspected.get_json()
    _, before, pauses = _read(app)
    assert len(pauses) == 1
    rejected_at = NOW + timedelta(days=20)
    api.clock.now = rejected_at
    rejected = api.post(
        "/api/v1/events",
        loss_event("loss-2", "loss.rejected", "2026-07-30T15:00:00+08:00", rejected_by="张医生"),
    )
    assert rejected.status_code == 201, rejected.get_json()
    _, after, pauses = _read(app)
    assert pauses == []
    by_key = {key: (status, reason, due_at) for key, status, reason, due_at in after}
    passed = [key for key, status, _, due_at in before if status == "due" and due_at <= rejected_at]
    ahead = [key for key, status, _, due_at in before if status == "due" and due_at > rejected_at]
    assert passed and ahead
    assert all(by_key[key][:2] == ("skipped", "stale-after-hold") for key in passed)
    assert all(by_key[key][0] == "due" for key in ahead)
