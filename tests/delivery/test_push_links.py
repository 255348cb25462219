"""Links that work (issue 18 item 10): every push carries an absolute HTTPS link to her item
page, built from the hospital's ``public_base_url``; the fake WeChat and the fake Tencent SMS
check the URL they received, and the link answers with her item (after her sign-in)."""

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
from tests.delivery.test_dispatcher import hospital_delivery
from tests.fakes.providers import FakeProviders


@pytest.fixture
def fake() -> Iterator[FakeProviders]:
    with FakeProviders() as providers:
        yield providers


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with make_http_client() as http:
        yield http


def test_wechat_and_sms_pushes_carry_the_https_link_of_her_item(
    db: Any, cipher: Any, fake: FakeProviders, client: httpx.Client
) -> None:
    set_hospital_settings(db, HOSPITAL, public_base_url="https://mch.example.cn/")
    _, with_wechat = add_pregnancy(db, cipher, 1, openid="o-1")
    _, sms_only = add_pregnancy(db, cipher, 2, phone="13800000002")
    add_outbox(db, with_wechat, "k-wx")
    add_outbox(db, sms_only, "k-sms", kind="questionnaire", params={"form": "epds"})
    approve_item(db, HOSPITAL, "form", "epds")
    setup = hospital_delivery(fake, client)  # its channels file still says link_base .../inbox
    assert dispatch_once(db, NOW, lambda h: setup, cipher=cipher).sent == 2
    with db.reading() as session:
        items = {i.dedupe_key: i.id for i in session.scalars(select(InboxItem))}
    wechat = fake.delivered("wechat.template")[0].payload
    assert wechat["url"] == f"https://mch.example.cn/h5/inbox/{items['k-wx']}"
    sms = fake.delivered("tencent.sms")[0].payload["TemplateParamSet"]
    assert sms[1] == f"https://mch.example.cn/h5/inbox/{items['k-sms']}"
    with db.reading() as session:
        stored = {i.dedupe_key: i.link for i in session.scalars(select(InboxItem))}
    assert stored["k-sms"] == sms[1]


def test_without_a_public_base_url_the_channels_file_s_link_base_stays(
    db: Any, cipher: Any, fake: FakeProviders, client: httpx.Client
) -> None:
    _, with_wechat = add_pregnancy(db, cipher, 3, openid="o-3")
    add_outbox(db, with_wechat, "k-wx3")
    assert dispatch_once(db, NOW, lambda h: hospital_delivery(fake, client), cipher=cipher).sent == 1
    assert fake.delivered("wechat.template")[0].payload["url"].startswith("https://mch.example/inbox/")
