"""Issue 16 items 1 and 11 in the dispatcher, on SQLite and PostgreSQL: an urgent message goes
at any hour and outside her daily cap; a message that fired outside the window is in her inbox
at once, and only its external notice waits for the window."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from carepath.channels.base import make_http_client
from carepath.delivery.dispatcher import dispatch_once
from carepath.store.models import InboxItem, OutboxRow
from tests.conftest import NOW, set_hospital_settings
from tests.delivery.conftest import HOSPITAL, add_outbox, add_pregnancy
from tests.delivery.test_dispatcher import TIMEOUT, hospital_delivery, rows
from tests.fakes.providers import FakeProviders

URGENT = {"visit": "anc-2", "urgent": True}
NIGHT = NOW.replace(hour=15, minute=10)  # 23:10 in Shanghai: outside 09:00-20:00


@pytest.fixture
def fake() -> Iterator[FakeProviders]:
    with FakeProviders(client_msg_id_window=600.0) as fake:
        yield fake


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with make_http_client(TIMEOUT) as client:
        yield client


def test_an_urgent_row_is_sent_at_night_and_the_others_wait(
    db: Any, cipher: Any, fake: Any, client: Any
) -> None:
    _, pregnancy = add_pregnancy(db, cipher, 1, openid="o-1")
    add_outbox(db, pregnancy, "urgent", channels=["wechat"], params=URGENT, due_at=NIGHT)
    add_outbox(db, pregnancy, "plain", channels=["wechat"], due_at=NIGHT)
    report = dispatch_once(db, NIGHT, lambda h: hospital_delivery(fake, client), cipher=cipher)
    found = rows(db)
    assert report.sent == 1 and fake.count("wechat.template") == 1
    assert (found["urgent"].status, found["urgent"].sent_at) == ("sent", NIGHT)
    assert (found["plain"].status, found["plain"].status_reason) == ("due", "outside-window")


def test_an_urgent_row_does_not_use_her_daily_cap(db: Any, cipher: Any, fake: Any, client: Any) -> None:
    _, pregnancy = add_pregnancy(db, cipher, 1, openid="o-1")
    set_hospital_settings(db, HOSPITAL, daily_cap=1)
    setup = hospital_delivery(fake, client)
    add_outbox(db, pregnancy, "urgent-1", channels=["wechat"], params=URGENT)
    assert dispatch_once(db, NOW, lambda h: setup, cipher=cipher).sent == 1
    # Later that day: the cap (1) is still hers, and a second urgent message is not held by it.
    later = NOW + timedelta(hours=1)
    add_outbox(db, pregnancy, "plain-1", channels=["wechat"], due_at=later)
    add_outbox(db, pregnancy, "plain-2", channels=["wechat"], due_at=later)
    add_outbox(db, pregnancy, "urgent-2", channels=["wechat"], params=URGENT, due_at=later)
    report = dispatch_once(db, later, lambda h: setup, cipher=cipher)
    found = rows(db)
    assert report.sent == 2 and fake.count("wechat.template") == 3
    assert found["urgent-2"].status == "sent"
    assert sorted((found[k].status, found[k].status_reason) for k in ("plain-1", "plain-2")) == [
        ("due", "daily-cap"),
        ("sent", None),
    ]


def test_her_inbox_copy_is_filed_when_the_message_fires_and_the_notice_waits(
    db: Any, cipher: Any, fake: Any, client: Any
) -> None:
    """The row as the engine writes it (store/evaluation.py): due when it fired, its notice
    placed at the window's opening (next_attempt_at)."""
    _, pregnancy = add_pregnancy(db, cipher, 1, openid="o-1")
    opening = NIGHT.replace(hour=1, minute=0) + timedelta(days=1)  # 09:00 the next day
    add_outbox(db, pregnancy, "k-1", channels=["wechat"], due_at=NIGHT)
    with db.transaction() as session:
        session.execute(update(OutboxRow).values(next_attempt_at=opening, status_reason="outside-window"))
    setup = hospital_delivery(fake, client)
    report = dispatch_once(db, NIGHT, lambda h: setup, cipher=cipher)
    row = rows(db)["k-1"]
    assert report.sent == 0 and not fake.requests
    assert (row.status, row.next_attempt_at) == ("due", opening) and row.inbox_item_id is not None
    with db.transaction() as session:
        (filed,) = session.scalars(select(InboxItem)).all()
        assert (filed.dedupe_key, filed.filed_at) == ("k-1", NIGHT)
    # Claimed once: later passes that night leave it alone; at the opening the notice goes,
    # linking to the copy filed at night (no second copy).
    assert dispatch_once(db, NIGHT + timedelta(hours=1), lambda h: setup, cipher=cipher).claimed == 0
    assert dispatch_once(db, opening, lambda h: setup, cipher=cipher).sent == 1
    row = rows(db)["k-1"]
    assert row.status == "sent" and fake.count("wechat.template") == 1
    with db.transaction() as session:
        assert session.scalars(select(InboxItem.id)).all() == [row.inbox_item_id]


def test_a_message_held_by_the_window_is_in_her_inbox_at_once(
    db: Any, cipher: Any, fake: Any, client: Any
) -> None:
    """A row the dispatcher itself holds (outside the window) is filed for her inbox then."""
    _, pregnancy = add_pregnancy(db, cipher, 1, openid="o-1")
    add_outbox(db, pregnancy, "k-1", channels=["wechat"], due_at=NIGHT)
    dispatch_once(db, NIGHT, lambda h: hospital_delivery(fake, client), cipher=cipher)
    row = rows(db)["k-1"]
    assert (row.status, row.status_reason) == ("due", "outside-window") and not fake.requests
    assert row.inbox_item_id is not None
