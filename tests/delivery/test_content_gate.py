"""Approved content only: a due row whose content item or form no reviewer approved is held,
never sent and never dropped, released when the item is approved; a hospital that allows
drafts sends it. Against the fake providers over loopback, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from carepath.channels.base import make_http_client
from carepath.delivery.dispatcher import dispatch_once
from carepath.store import approvals, held_content
from carepath.store.library_files import SHIPPED, text_hash
from carepath.store.models import InboxItem, OutboxRow
from tests.conftest import NOW, approve_item, set_hospital_settings
from tests.delivery.conftest import HOSPITAL, add_outbox, add_pregnancy
from tests.delivery.test_dispatcher import TIMEOUT, hospital_delivery, rows
from tests.fakes.providers import FakeProviders


@pytest.fixture
def fake() -> Iterator[FakeProviders]:
    with FakeProviders(client_msg_id_window=600.0) as fake:
        yield fake


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with make_http_client(TIMEOUT) as client:
        yield client


def _inbox_count(db: Any) -> int:
    with db.reading() as session:
        return int(session.scalar(select(func.count()).select_from(InboxItem)) or 0)


def test_a_draft_items_row_is_held_then_sent_once_after_approval(
    db: Any, cipher: Any, fake: FakeProviders, client: Any
) -> None:
    _, pregnancy = add_pregnancy(db, cipher, 1, openid="o-1")
    add_outbox(db, pregnancy, "k-visit", kind="remind", params={"content": "visit-1"}, channels=["wechat"])
    add_outbox(db, pregnancy, "k-plain", kind="remind", params={"visit": "anc-2"}, channels=["wechat"])
    setup = hospital_delivery(fake, client)
    report = dispatch_once(db, NOW, lambda h: setup, cipher=cipher)
    assert report.held == 1 and report.reasons["unapproved-content"] == 1
    assert report.sent == 1  # a reminder without content of its own is not held
    held = rows(db)["k-visit"]
    assert (held.status, held.status_reason, held.content_version) == ("held", "unapproved-content", None)
    assert fake.count("wechat.template") == 1 and _inbox_count(db) == 1  # not even her inbox copy
    assert dispatch_once(db, NOW, lambda h: setup, cipher=cipher).claimed == 0  # never claimed again

    published = approve_item(db, HOSPITAL, "content", "visit-1")  # the approval releases it at once
    assert rows(db)["k-visit"].status == "due"
    report = dispatch_once(db, NOW, lambda h: setup, cipher=cipher)
    assert report.sent == 1 and report.held == 0
    sent = rows(db)["k-visit"]
    assert sent.status == "sent" and sent.content_version == published.source_hash
    assert fake.count("wechat.template") == 2 and _inbox_count(db) == 2
    assert dispatch_once(db, NOW, lambda h: setup, cipher=cipher).claimed == 0  # sent once


def test_a_form_must_be_approved_too(db: Any, cipher: Any, fake: FakeProviders, client: Any) -> None:
    _, pregnancy = add_pregnancy(db, cipher, 1, openid="o-1")
    add_outbox(db, pregnancy, "k-epds", kind="questionnaire", params={"form": "epds"}, channels=["wechat"])
    setup = hospital_delivery(fake, client)
    assert dispatch_once(db, NOW, lambda h: setup, cipher=cipher).held == 1
    published = approve_item(db, HOSPITAL, "form", "epds")
    assert dispatch_once(db, NOW, lambda h: setup, cipher=cipher).sent == 1
    assert rows(db)["k-epds"].content_version == published.source_hash


def test_drafts_allowed_sends_drafts_and_records_the_shipped_version(
    db: Any, cipher: Any, fake: FakeProviders, client: Any
) -> None:
    _, pregnancy = add_pregnancy(db, cipher, 1, openid="o-1")
    add_outbox(db, pregnancy, "k-held", kind="push", params={"content": "week-20"})
    setup = hospital_delivery(fake, client)
    assert dispatch_once(db, NOW, lambda h: setup, cipher=cipher).held == 1
    set_hospital_settings(db, HOSPITAL, drafts_allowed=True)  # releases what it held, at once
    add_outbox(db, pregnancy, "k-new", kind="push", params={"content": "week-21"})
    report = dispatch_once(db, NOW, lambda h: setup, cipher=cipher)
    assert report.sent == 2 and report.held == 0
    found = rows(db)
    assert found["k-held"].content_version == text_hash(SHIPPED.text("content", "week-20") or "")
    assert found["k-new"].content_version == text_hash(SHIPPED.text("content", "week-21") or "")


def test_the_dispatcher_releases_rows_whose_item_became_approved_elsewhere(
    db: Any, cipher: Any, fake: FakeProviders, client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A newer shipped library approves an item (no editor action released its rows): the
    dispatcher's re-check, on its first round in the new process, releases them in pages."""
    monkeypatch.setattr(approvals, "RECHECK_PAGE", 2)
    pregnancies = [add_pregnancy(db, cipher, n)[1] for n in range(5)]
    for n, pregnancy in enumerate(pregnancies):
        add_outbox(
            db, pregnancy, f"k-{n}", kind="push", params={"content": "week-20" if n % 2 else "week-21"}
        )
    setup = hospital_delivery(fake, client)
    assert dispatch_once(db, NOW, lambda h: setup, cipher=cipher).held == 5
    shipped = approvals._shipped

    def newer_library(kind: str, name: str) -> approvals.ItemVersion:
        item = shipped(kind, name)
        return approvals.ItemVersion(kind, name, item.version, item.approved or name == "week-20")

    monkeypatch.setattr(approvals, "_shipped", newer_library)
    approvals.clear_cache()  # a new process: it has not looked at the held rows yet
    report = dispatch_once(db, NOW, lambda h: setup, cipher=cipher)
    assert report.sent == 2 and report.held == 0
    statuses = {key: row.status for key, row in rows(db).items()}
    assert statuses == {"k-0": "held", "k-1": "sent", "k-2": "held", "k-3": "sent", "k-4": "held"}


def test_the_engine_cancels_a_held_row_and_approval_does_not_bring_it_back(
    db: Any, cipher: Any, fake: FakeProviders, client: Any
) -> None:
    from carepath.engine.runtime import Cancellation
    from carepath.store import evaluation

    _, pregnancy = add_pregnancy(db, cipher, 1)
    add_outbox(db, pregnancy, "k-1", kind="push", params={"content": "week-20"})
    setup = hospital_delivery(fake, client)
    assert dispatch_once(db, NOW, lambda h: setup, cipher=cipher).held == 1
    with db.transaction() as session:
        evaluation.cancel(session, [Cancellation("k-1", "cancelled", "she left the pathway")], NOW)
    approve_item(db, HOSPITAL, "content", "week-20")
    assert dispatch_once(db, NOW, lambda h: setup, cipher=cipher).claimed == 0
    assert rows(db)["k-1"].status == "cancelled"


def test_the_held_count_per_item(db: Any, cipher: Any, fake: FakeProviders, client: Any) -> None:
    _, pregnancy = add_pregnancy(db, cipher, 1)
    for n, content in enumerate(["week-20", "week-20", "week-21"]):
        add_outbox(db, pregnancy, f"k-{n}", kind="push", params={"content": content})
    dispatch_once(db, NOW, lambda h: hospital_delivery(fake, client), cipher=cipher)
    with db.reading() as session:
        assert held_content.held_counts(session, HOSPITAL) == [("week-20", None, 2), ("week-21", None, 1)]
        assert held_content.held_counts(session, "elsewhere") == []
    with db.reading() as session:
        assert session.scalar(select(func.count()).where(OutboxRow.status == "held")) == 3
