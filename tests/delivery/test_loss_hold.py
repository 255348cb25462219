"""Issue 16 item 7 in the dispatcher, on SQLite and PostgreSQL: a suspected loss holds every
message to her (her inbox copy too); loss.confirmed cancels every unsent row of hers; a
rejection releases the rows whose moment is still ahead and skips the others
(``stale-after-hold``)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from carepath.channels.base import make_http_client
from carepath.delivery.dispatcher import dispatch_once
from carepath.engine import loss
from carepath.store import loss_hold
from carepath.store.models import DeliveryPause, InboxItem, OutboxRow, Pregnancy
from tests.conftest import NOW, approve_item
from tests.delivery.conftest import HOSPITAL, add_outbox, add_pregnancy
from tests.delivery.test_dispatcher import TIMEOUT, hospital_delivery, rows
from tests.fakes.providers import FakeProviders


@pytest.fixture
def fake() -> Iterator[FakeProviders]:
    with FakeProviders() as fake:
        yield fake


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with make_http_client(TIMEOUT) as client:
        yield client


def change(db: Any, pregnancy_id: str, what: str, at: Any) -> None:
    """What the event's transaction writes (store/evaluation.py calls loss_hold.apply)."""
    with db.transaction() as session:
        loss_hold.apply(session, session.get(Pregnancy, pregnancy_id), what, at)


def inbox_keys(db: Any) -> set[str]:
    with db.transaction() as session:
        return set(session.scalars(select(InboxItem.dedupe_key)))


def test_a_held_pregnancys_due_rows_are_not_sent_nor_filed_in_her_inbox(
    db: Any, cipher: Any, fake: Any, client: Any
) -> None:
    _, held = add_pregnancy(db, cipher, 1, openid="o-1")
    _, other = add_pregnancy(db, cipher, 2, openid="o-2")
    add_outbox(db, held, "held-1", channels=["wechat"])
    add_outbox(db, held, "held-lesson", kind="push", params={"content": "week-16"})
    approve_item(db, HOSPITAL, "content", "week-16")
    add_outbox(db, held, "held-night")  # fired, her inbox copy due now, its notice at the opening
    with db.transaction() as session:
        session.execute(
            update(OutboxRow)
            .where(OutboxRow.dedupe_key == "held-night")
            .values(next_attempt_at=NOW + timedelta(hours=8), status_reason="outside-window")
        )
    add_outbox(db, other, "other-1", channels=["wechat"])
    change(db, held, loss.HELD, NOW - timedelta(minutes=10))
    setup = hospital_delivery(fake, client)
    report = dispatch_once(db, NOW, lambda h: setup, cipher=cipher)
    found = rows(db)
    assert report.sent == 1 and fake.count("wechat.template") == 1
    assert found["other-1"].status == "sent"
    for key in ("held-1", "held-lesson", "held-night"):
        assert (found[key].status, found[key].status_reason) == ("due", "paused:pregnancy")
        assert found[key].inbox_item_id is None
    assert inbox_keys(db) == {"other-1"}
    # Still held an hour later: re-checked, never sent.
    assert dispatch_once(db, NOW + timedelta(hours=1), lambda h: setup, cipher=cipher).sent == 0
    assert fake.count("wechat.template") == 1 and inbox_keys(db) == {"other-1"}


def test_confirmed_cancels_every_unsent_row_of_hers_held_ones_included(
    db: Any, cipher: Any, fake: Any, client: Any
) -> None:
    _, pregnancy = add_pregnancy(db, cipher, 1, openid="o-1")
    _, other = add_pregnancy(db, cipher, 2, openid="o-2")
    add_outbox(db, pregnancy, "sent", status="sent")
    add_outbox(db, pregnancy, "due-now")
    add_outbox(db, pregnancy, "due-later", due_at=NOW + timedelta(days=7))
    add_outbox(db, pregnancy, "unapproved", status="held")
    add_outbox(db, other, "other")
    change(db, pregnancy, loss.HELD, NOW - timedelta(hours=1))
    setup = hospital_delivery(fake, client)
    dispatch_once(db, NOW - timedelta(minutes=1), lambda h: setup, cipher=cipher)
    assert rows(db)["due-now"].status_reason == "paused:pregnancy"
    change(db, pregnancy, loss.CONFIRMED, NOW)
    found = rows(db)
    for key in ("due-now", "due-later", "unapproved"):
        assert (found[key].status, found[key].status_reason) == ("cancelled", "loss-confirmed")
    assert found["sent"].status == "sent" and found["other"].status == "sent"  # hers only
    with db.transaction() as session:
        assert session.scalars(select(DeliveryPause)).all() == []  # the hold ended with her pregnancy
    dispatch_once(db, NOW + timedelta(days=8), lambda h: setup, cipher=cipher)
    assert {k: r.status for k, r in rows(db).items() if k != "other"} == {
        "sent": "sent",
        "due-now": "cancelled",
        "due-later": "cancelled",
        "unapproved": "cancelled",
    }


def test_rejected_releases_future_rows_and_skips_those_whose_moment_passed(
    db: Any, cipher: Any, fake: Any, client: Any
) -> None:
    _, pregnancy = add_pregnancy(db, cipher, 1, openid="o-1")
    start = NOW - timedelta(hours=3)
    add_outbox(db, pregnancy, "during-hold", channels=["wechat"], due_at=NOW - timedelta(hours=2))
    add_outbox(db, pregnancy, "never-claimed", channels=["wechat"], due_at=NOW - timedelta(minutes=30))
    add_outbox(db, pregnancy, "tomorrow", channels=["wechat"], due_at=NOW + timedelta(days=1))
    change(db, pregnancy, loss.HELD, start)
    setup = hospital_delivery(fake, client)
    dispatch_once(db, NOW - timedelta(hours=1), lambda h: setup, cipher=cipher)
    assert rows(db)["during-hold"].status_reason == "paused:pregnancy"
    change(db, pregnancy, loss.LIFTED, NOW)
    found = rows(db)
    for key in ("during-hold", "never-claimed"):
        assert (found[key].status, found[key].status_reason) == ("skipped", "stale-after-hold")
    assert (found["tomorrow"].status, found["tomorrow"].status_reason) == ("due", None)
    # Nothing goes late; the message of tomorrow goes tomorrow.
    assert dispatch_once(db, NOW + timedelta(minutes=5), lambda h: setup, cipher=cipher).sent == 0
    assert dispatch_once(db, NOW + timedelta(days=1), lambda h: setup, cipher=cipher).sent == 1
    assert {k: r.status for k, r in rows(db).items()} == {
        "during-hold": "skipped",
        "never-claimed": "skipped",
        "tomorrow": "sent",
    }
    assert inbox_keys(db) == {"tomorrow"}
