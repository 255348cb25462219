"""Issue 17 item 1 in the dispatcher, on SQLite and PostgreSQL, against the fake SMS provider:
urgent safety advice whose content no reviewer approved is not held — she is sent the
hospital's emergency notice in its place, at once, never nothing; approved advice (or a demo
hospital that allows drafts) sends the advice itself; other unapproved content is still held."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from carepath.channels.base import make_http_client
from carepath.delivery.dispatcher import dispatch_once
from carepath.store.models import InboxItem
from tests.conftest import NOW, approve_item, set_hospital_settings
from tests.delivery.conftest import HOSPITAL, add_outbox, add_pregnancy
from tests.delivery.test_dispatcher import TIMEOUT, hospital_delivery, rows
from tests.fakes.providers import FakeProviders

NIGHT = NOW.replace(hour=15, minute=10)  # 23:10 in Shanghai: outside 09:00-20:00
ADVICE = {"content": "hypertension-urgent", "urgent": True}  # shipped as a draft


@pytest.fixture
def fake() -> Iterator[FakeProviders]:
    with FakeProviders(client_msg_id_window=600.0) as fake:
        yield fake


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with make_http_client(TIMEOUT) as client:
        yield client


def _sms_texts(fake: FakeProviders) -> list[str]:
    """What each SMS says: its first template parameter. Since her inbox got absolute links
    (issue 18) the second is the link to the inbox copy, which every SMS here must carry."""
    sent = [r.payload["TemplateParamSet"] for r in fake.delivered("tencent.sms")]
    assert all(len(p) == 2 and p[1].startswith("https://mch.example/inbox/") for p in sent), sent
    return [p[0] for p in sent]


def _inbox(db: Any) -> list[tuple[str, str, str]]:
    with db.reading() as session:
        return [
            (i.dedupe_key, i.title, i.body) for i in session.scalars(select(InboxItem).order_by(InboxItem.id))
        ]


def test_unapproved_urgent_advice_sends_the_emergency_notice_at_night(
    db: Any, cipher: Any, fake: FakeProviders, client: Any
) -> None:
    set_hospital_settings(db, HOSPITAL, emergency_phone="0571-87654321")
    _, pregnancy = add_pregnancy(db, cipher, 1, channels=("sms_tencent",))
    add_outbox(db, pregnancy, "advice", kind="push", params=ADVICE, channels=["sms"], due_at=NIGHT)
    add_outbox(db, pregnancy, "lesson", kind="push", params={"content": "hypertension"}, due_at=NIGHT)
    report = dispatch_once(db, NIGHT, lambda h: hospital_delivery(fake, client), cipher=cipher)
    found = rows(db)
    assert (found["advice"].status, found["advice"].sent_at) == ("sent", NIGHT)
    assert found["advice"].content_version == "emergency-notice"
    assert report.reasons["emergency-notice"] == 1
    notice = "如有不适请立即就医或拨打急诊电话0571-87654321，情况危急请拨打120。"
    assert _sms_texts(fake) == [notice]
    # her inbox has the notice, not the unapproved advice; the ordinary lesson is held as before
    assert _inbox(db) == [("advice", "紧急就医提醒", notice)]
    assert (found["lesson"].status, found["lesson"].status_reason) == ("held", "unapproved-content")


def test_without_an_emergency_number_the_notice_says_where_to_turn(
    db: Any, cipher: Any, fake: FakeProviders, client: Any
) -> None:
    _, pregnancy = add_pregnancy(db, cipher, 1, channels=("sms_tencent",))
    add_outbox(db, pregnancy, "advice", kind="push", params=ADVICE, channels=["sms"], due_at=NIGHT)
    dispatch_once(db, NIGHT, lambda h: hospital_delivery(fake, client), cipher=cipher)
    assert _sms_texts(fake) == ["如有不适请立即到就近医院就医，情况危急请拨打120。"]
    assert rows(db)["advice"].status == "sent"


def test_a_retry_sends_the_notice_again_not_the_advice(
    db: Any, cipher: Any, fake: FakeProviders, client: Any
) -> None:
    """The inbox copy filed at the first attempt is what a retry summarises, so approving the
    advice between two attempts does not change what the row sends."""
    from tests.fakes.providers import http_error

    set_hospital_settings(db, HOSPITAL, emergency_phone="120")
    _, pregnancy = add_pregnancy(db, cipher, 1, channels=("sms_tencent",))
    add_outbox(db, pregnancy, "advice", kind="push", params=ADVICE, channels=["sms"], due_at=NIGHT)
    fake.inject("tencent.sms", http_error(503))
    setup = hospital_delivery(fake, client)
    dispatch_once(db, NIGHT, lambda h: setup, cipher=cipher)
    assert rows(db)["advice"].status == "due" and not _sms_texts(fake)
    approve_item(db, HOSPITAL, "content", "hypertension-urgent")
    later = NIGHT.replace(hour=16)
    dispatch_once(db, later, lambda h: setup, cipher=cipher)
    assert rows(db)["advice"].status == "sent"
    assert _sms_texts(fake) == ["如有不适请立即就医或拨打急诊电话120，情况危急请拨打120。"]


def test_approved_urgent_advice_is_sent_itself(
    db: Any, cipher: Any, fake: FakeProviders, client: Any
) -> None:
    set_hospital_settings(db, HOSPITAL, emergency_phone="0571-87654321")
    approve_item(db, HOSPITAL, "content", "hypertension-urgent")
    _, pregnancy = add_pregnancy(db, cipher, 1, channels=("sms_tencent",))
    add_outbox(db, pregnancy, "advice", kind="push", params=ADVICE, channels=["sms"], due_at=NIGHT)
    report = dispatch_once(db, NIGHT, lambda h: hospital_delivery(fake, client), cipher=cipher)
    row = rows(db)["advice"]
    assert row.status == "sent" and row.content_version not in (None, "emergency-notice")
    assert report.reasons["emergency-notice"] == 0
    assert _sms_texts(fake) == ["重要提醒：请立即点开查看您刚才记录的处理建议。"]
    ((_, title, _),) = _inbox(db)
    assert title == "血压很高或出现危险症状：请现在就去医院"


def test_a_hospital_that_allows_drafts_sends_the_advice(
    db: Any, cipher: Any, fake: FakeProviders, client: Any
) -> None:
    set_hospital_settings(db, HOSPITAL, drafts_allowed=True)
    _, pregnancy = add_pregnancy(db, cipher, 1, channels=("sms_tencent",))
    add_outbox(db, pregnancy, "advice", kind="push", params=ADVICE, channels=["sms"], due_at=NIGHT)
    dispatch_once(db, NIGHT, lambda h: hospital_delivery(fake, client), cipher=cipher)
    assert rows(db)["advice"].content_version != "emergency-notice"
    assert _sms_texts(fake) == ["重要提醒：请立即点开查看您刚才记录的处理建议。"]
