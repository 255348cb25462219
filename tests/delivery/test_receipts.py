"""The whole receipt path against the fake WeChat server over loopback: the dispatcher sends,
the provider's message id is recorded, WeChat's signed callback arrives over HTTP, the row is
delivered; a blocked report makes her next message fall back to SMS. SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from flask import Flask
from sqlalchemy import select

from carepath.channels.base import make_http_client
from carepath.delivery.dispatcher import dispatch_once
from carepath.store.models import OutboxRow
from carepath.store.receipts import delivery_summary
from tests.conftest import FIELD_KEYS, LOOKUP_KEY, NOW, Clock
from tests.delivery.conftest import HOSPITAL, OA_APPID, add_outbox, add_pregnancy
from tests.delivery.test_dispatcher import TIMEOUT, hospital_delivery
from tests.fakes.providers import FakeProviders, send_finished_callback

TOKEN = "callback-token-h1"


@pytest.fixture
def fake() -> Iterator[FakeProviders]:
    with FakeProviders() as fake:
        yield fake


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with make_http_client(TIMEOUT) as client:
        yield client


@pytest.fixture
def app(db: Any, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Flask]:
    """The API on the dispatcher's database, with the hospital's channels file."""
    from carepath.webapi import create_app

    monkeypatch.setenv("TEST_CALLBACK_TOKEN", TOKEN)
    config = tmp_path / "channels.yaml"
    config.write_text(
        f"hospital: {HOSPITAL}\nchannels:\n  wechat_template:\n    appid: {OA_APPID}\n"
        "    secret_env: CAREPATH_WECHAT_SECRET\n    callback_token_env: TEST_CALLBACK_TOKEN\n",
        encoding="utf-8",
    )
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": database_url,
            "FIELD_KEYS": FIELD_KEYS,
            "LOOKUP_KEY": LOOKUP_KEY,
            "CLOCK": Clock(NOW + timedelta(seconds=5)),
            "CHANNELS_CONFIG": str(config),
        }
    )
    yield app
    app.extensions["carepath.db"].dispose()


def callback(app: Flask, query: dict[str, str], body: bytes) -> Any:
    return app.test_client().post(
        f"/wechat/{HOSPITAL}/{OA_APPID}/events", query_string=query, data=body, content_type="text/xml"
    )


def row(db: Any, key: str) -> OutboxRow:
    with db.reading() as session:
        found = session.scalars(select(OutboxRow).where(OutboxRow.dedupe_key == key)).one()
        session.expunge(found)
        return found


def test_sent_then_wechat_reports_delivered(
    db: Any, cipher: Any, fake: FakeProviders, client: Any, app: Flask
) -> None:
    _, pregnancy = add_pregnancy(db, cipher, 1, openid="o-1")
    add_outbox(db, pregnancy, "k-1")
    setup = hospital_delivery(fake, client)
    assert dispatch_once(db, NOW, lambda h: setup, cipher=cipher).sent == 1
    (received,) = fake.delivered("wechat.template")
    sent = row(db, "k-1")
    assert sent.provider_message_id == str(received.reply["msgid"])
    assert delivery_summary(sent).status == "sent" and delivery_summary(sent).delivered_at is None

    query, body = send_finished_callback(received, TOKEN, created=int(NOW.timestamp()) + 3)
    answer = callback(app, query, body)
    assert answer.status_code == 200 and answer.get_data(as_text=True) == "success"
    summary = delivery_summary(row(db, "k-1"))
    assert summary.status == "delivered" and summary.channel == "wechat_template"
    assert (summary.sent_at, summary.delivered_at) == (NOW, NOW + timedelta(seconds=3))
    assert summary.as_json()["delivered_at"] == (NOW + timedelta(seconds=3)).isoformat()
    assert callback(app, query, body).get_data(as_text=True) == "success"  # a repeat: no change
    assert delivery_summary(row(db, "k-1")) == summary


def test_blocked_report_makes_her_next_message_fall_back(
    db: Any, cipher: Any, fake: FakeProviders, client: Any, app: Flask
) -> None:
    _, pregnancy = add_pregnancy(db, cipher, 2, openid="o-2")
    add_outbox(db, pregnancy, "k-first")
    setup = hospital_delivery(fake, client)
    dispatch_once(db, NOW, lambda h: setup, cipher=cipher)
    (received,) = fake.delivered("wechat.template")
    query, body = send_finished_callback(received, TOKEN, "failed:user block")
    assert callback(app, query, body).status_code == 200
    blocked = delivery_summary(row(db, "k-first"))
    assert (blocked.status, blocked.reason) == ("blocked", "failed:user block")
    assert blocked.failed_at == datetime.fromtimestamp(1783666800, UTC)

    add_outbox(db, pregnancy, "k-next")
    dispatch_once(db, NOW + timedelta(minutes=1), lambda h: setup, cipher=cipher)
    assert fake.count("wechat.template") == 1  # nothing more to the account she blocked
    assert row(db, "k-next").channel == "sms_tencent" and row(db, "k-next").status == "sent"
