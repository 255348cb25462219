"""Her inbox: only her own items (another woman's id is 404, like tenant isolation), the body
through the safe renderer with her safe facts, and the old ``/inbox/<id>`` links answering."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Flask
from sqlalchemy import select

from tests.conftest import NOW
from tests.webapi.conftest import Api
from tests.webapi.h5.conftest import register, sign_in_as


def file_item(
    app: Flask, patient: int, key: str, *, title: str, body: str, params: dict[str, Any] | None = None
) -> int:
    """An inbox item of her latest pregnancy and the outbox row it came from; its id."""
    from carepath.store import approvals
    from carepath.store.models import InboxItem, OutboxRow, Pregnancy

    with app.extensions["carepath.db"].transaction() as session:
        pregnancy = session.scalars(
            select(Pregnancy).where(Pregnancy.patient_id == patient).order_by(Pregnancy.number.desc())
        ).first()
        assert pregnancy is not None
        hospital = pregnancy.hospital_id
        item = InboxItem(
            hospital_id=hospital, pregnancy_id=pregnancy.id, dedupe_key=key, kind="push", title=title,
            summary="您有一条新的孕期消息，请打开孕期助手查看。", body=body, filed_at=NOW,
        )  # fmt: skip
        session.add(item)
        session.flush()
        version = approvals.approvals(session, hospital).version_sent(params or {})
        session.add(
            OutboxRow(
                hospital_id=hospital, pregnancy_id=pregnancy.id, dedupe_key=key, pathway_id="anc",
                version="1", rule_id="r", kind="push", params=params or {}, due_at=NOW, channels=[],
                enrolment_id="e", why="test", status="sent", attempts=1, created_at=NOW, updated_at=NOW,
                channel="inbox", sent_at=NOW, inbox_item_id=item.id, content_version=version,
            )
        )  # fmt: skip
        return int(item.id)


def test_she_sees_only_her_own_items(app: Flask, api: Api, api_b: Api) -> None:
    her = register(api, "p-301", 301)
    other = register(api, "p-302", 302, phone="13900000302")
    elsewhere = register(api_b, "p-303", 303, phone="13900000303")
    mine = file_item(app, her, "k-her", title="她的课程", body="正文")
    hers_not = file_item(app, other, "k-other", title="别人的课程", body="别人的正文")
    far = file_item(app, elsewhere, "k-far", title="另一家医院的", body="另一家医院的正文")
    client = app.test_client()
    sign_in_as(client, app, her)
    listing = client.get("/h5/inbox").get_data(as_text=True)
    assert "她的课程" in listing and "别人的课程" not in listing and "另一家医院的" not in listing
    assert client.get(f"/h5/inbox/{mine}").status_code == 200
    for foreign in (hers_not, far, 999_999):
        answer = client.get(f"/h5/inbox/{foreign}")
        page = answer.get_data(as_text=True)
        assert answer.status_code == 404 and "没有这条内容" in page
        assert "别人的正文" not in page and "另一家医院的正文" not in page


def test_an_item_id_no_row_can_have_is_404_not_a_500(app: Flask, api: Api) -> None:
    her = register(api, "p-309", 309)
    client = app.test_client()
    sign_in_as(client, app, her)
    for too_big in (2**31, 2**63, 10**20):  # past the id column (SQLite's driver raised OverflowError)
        answer = client.get(f"/h5/inbox/{too_big}")
        assert answer.status_code == 404 and "没有这条内容" in answer.get_data(as_text=True)


def test_reading_an_item_marks_it_and_its_outbox_row_read(app: Flask, api: Api) -> None:
    from carepath.store.models import InboxItem, OutboxRow

    her = register(api, "p-304", 304)
    item = file_item(app, her, "k-read", title="课程", body="正文")
    client = app.test_client()
    sign_in_as(client, app, her)
    app.config["CLOCK"].now = NOW + timedelta(hours=2)
    assert client.get(f"/h5/inbox/{item}").status_code == 200
    with app.extensions["carepath.db"].reading() as session:
        assert session.get(InboxItem, item).read_at == NOW + timedelta(hours=2)  # type: ignore[union-attr]
        row = session.scalars(select(OutboxRow).where(OutboxRow.dedupe_key == "k-read")).one()
        assert row.read_at == NOW + timedelta(hours=2)


def test_the_body_is_safe_markdown(app: Flask, api: Api) -> None:
    her = register(api, "p-305", 305)
    body = "## 小标题\n\n<script>alert(1)</script> [坏](javascript:alert(1)) [好](https://example.org/a)"
    item = file_item(app, her, "k-safe", title="课程", body=body)
    client = app.test_client()
    sign_in_as(client, app, her)
    page = client.get(f"/h5/inbox/{item}").get_data(as_text=True)
    assert "<h2>小标题</h2>" in page
    assert "<script>alert" not in page and "&lt;script&gt;" in page
    assert 'href="javascript' not in page and 'href="https://example.org/a"' in page


def test_her_safe_facts_are_filled_in_while_the_text_is_the_one_filed(app: Flask, api: Api) -> None:
    her = register(api, "p-306", 306, name="王小红")  # LMP 2026-01-05
    filed = "，您好！您现在孕（无）"  # what the claim filed without her name and dates
    item = file_item(
        app, her, "k-facts", title="下次产检提醒", body=filed, params={"content": "anc-next-contact"}
    )
    client = app.test_client()
    sign_in_as(client, app, her)
    page = client.get(f"/h5/inbox/{item}").get_data(as_text=True)
    assert "王小红，您好！您现在孕26+4" in page  # EDD 2026-10-12, 94 days to go on 2026-07-10
    assert '<span class="cp-content-link" data-content="visit-1">' in page  # inert, no link out


def test_the_filed_text_is_shown_when_the_library_moved_on(app: Flask, api: Api) -> None:
    from carepath.store.models import OutboxRow

    her = register(api, "p-307", 307)
    item = file_item(
        app, her, "k-moved", title="提醒", body="当时的正文", params={"content": "anc-next-contact"}
    )
    with app.extensions["carepath.db"].transaction() as session:
        row = session.scalars(select(OutboxRow).where(OutboxRow.dedupe_key == "k-moved")).one()
        row.content_version = "an-older-text"
    client = app.test_client()
    sign_in_as(client, app, her)
    assert "当时的正文" in client.get(f"/h5/inbox/{item}").get_data(as_text=True)


def test_old_push_links_answer(app: Flask) -> None:
    answer = app.test_client().get("/inbox/42")
    assert answer.status_code == 301 and answer.headers["Location"] == "/h5/inbox/42"
