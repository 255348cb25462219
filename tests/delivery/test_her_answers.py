"""Her answer's urgent advice filed at once (issue 19 item 3, ``delivery/her_answers.py``), on
SQLite and PostgreSQL: advice no reviewer approved is filed as the hospital's emergency notice,
as the dispatcher would file it; the dispatcher then sends only the external message, saying
what her inbox holds; a kill switch leaves everything to the dispatcher."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from carepath.channels.base import make_http_client
from carepath.delivery.dispatcher import dispatch_once
from carepath.delivery.her_answers import file_at_once
from tests.conftest import set_hospital_settings
from tests.delivery.conftest import HOSPITAL, add_outbox, add_pregnancy
from tests.delivery.test_dispatcher import TIMEOUT, hospital_delivery, rows
from tests.delivery.test_emergency_notice import ADVICE, NIGHT, _inbox
from tests.fakes.providers import FakeProviders

NOTICE = "如有不适请立即就医或拨打急诊电话0571-87654321，情况危急请拨打120。"


@pytest.fixture
def fake() -> Iterator[FakeProviders]:
    with FakeProviders(client_msg_id_window=600.0) as fake:
        yield fake


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with make_http_client(TIMEOUT) as client:
        yield client


def test_unapproved_urgent_advice_is_filed_at_once_as_the_notice_and_sent_once(
    db: Any, cipher: Any, fake: FakeProviders, client: Any
) -> None:
    set_hospital_settings(
        db, HOSPITAL, emergency_phone="0571-87654321", public_base_url="https://mch.example"
    )
    _, pregnancy = add_pregnancy(db, cipher, 1, channels=("sms_tencent",))
    add_outbox(db, pregnancy, "advice", kind="push", params=ADVICE, channels=["sms"], due_at=NIGHT)
    add_outbox(db, pregnancy, "lesson", kind="push", params={"content": "hypertension"}, due_at=NIGHT)
    with db.transaction() as session:
        file_at_once(session, HOSPITAL, pregnancy, NIGHT)
    assert _inbox(db) == [("advice", "紧急就医提醒", NOTICE)]  # the lesson is a draft: held later
    found = rows(db)
    assert (found["advice"].status, found["advice"].content_version) == ("due", "emergency-notice")
    dispatch_once(db, NIGHT, lambda h: hospital_delivery(fake, client), cipher=cipher)
    item = rows(db)["advice"].inbox_item_id
    sent = [r.payload["TemplateParamSet"] for r in fake.delivered("tencent.sms")]
    assert rows(db)["advice"].status == "sent" and sent == [[NOTICE, f"https://mch.example/h5/inbox/{item}"]]
    assert _inbox(db) == [("advice", "紧急就医提醒", NOTICE)]  # filed once


def test_a_kill_switch_leaves_her_advice_to_the_dispatcher(db: Any, cipher: Any) -> None:
    from carepath.store.models import DeliveryPause

    _, pregnancy = add_pregnancy(db, cipher, 1, channels=("sms_tencent",))
    add_outbox(db, pregnancy, "advice", kind="push", params=ADVICE, channels=["sms"], due_at=NIGHT)
    with db.transaction() as session:
        session.add(
            DeliveryPause(
                hospital_id=HOSPITAL, scope="pregnancy", target=pregnancy, paused_by="t", paused_at=NIGHT
            )
        )
    with db.transaction() as session:
        file_at_once(session, HOSPITAL, pregnancy, NIGHT)
    assert _inbox(db) == [] and rows(db)["advice"].inbox_item_id is None
