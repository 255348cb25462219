"""The inbox API for the mini-program / H5 backend: one pregnancy's items newest first with the
unread count and pages; read marks (idempotent, reflected in the delivery summary); tenancy."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Flask
from sqlalchemy import select

from tests.conftest import NOW
from tests.webapi.conftest import Api
from tests.webapi.delivery_seed import add_pregnancy, add_sent, outbox_row


def seed(app: Flask, hospital: str = "a", n: int = 1, items: int = 5) -> tuple[str, list[tuple[int, int]]]:
    pregnancy = add_pregnancy(app, hospital, n)
    rows = [
        add_sent(app, hospital, pregnancy, f"{hospital}-{n}-k{i}", channel="inbox",
                 filed_at=NOW + timedelta(hours=i), title=f"第{i}条")
        for i in range(items)
    ]  # fmt: skip
    return pregnancy, rows


def test_lists_newest_first_with_unread_count_and_pages(app: Flask, api: Api) -> None:
    pregnancy, _ = seed(app)
    first = api.get(f"/api/v1/pregnancies/{pregnancy}/inbox?limit=2")
    assert first.status_code == 200
    page = first.get_json()
    assert (page["total"], page["unread"], page["limit"], page["offset"]) == (5, 5, 2, 0)
    assert [item["title"] for item in page["items"]] == ["第4条", "第3条"]
    assert page["items"][0]["body"] == "第4条: 正文" and page["items"][0]["read_at"] is None
    rest = api.get(f"/api/v1/pregnancies/{pregnancy}/inbox?limit=2&offset=4").get_json()
    assert [item["title"] for item in rest["items"]] == ["第0条"]


def test_mark_read_is_idempotent_and_reaches_the_outbox_row(app: Flask, api: Api) -> None:
    from carepath.store.receipts import delivery_summary

    pregnancy, rows = seed(app)
    row_id, item_id = rows[1]
    path = f"/api/v1/pregnancies/{pregnancy}/inbox/{item_id}/read"
    marked = api.post(path, raw=b"")
    assert marked.status_code == 200, marked.get_json()
    assert marked.get_json()["read_at"] == NOW.isoformat()
    api.clock.now = NOW + timedelta(hours=1)
    again = api.post(path, raw=b"")
    assert again.status_code == 200 and again.get_json()["read_at"] == NOW.isoformat()
    row = outbox_row(app, row_id)
    assert row.read_at == NOW
    summary = delivery_summary(row)
    assert (summary.status, summary.read_at, summary.delivered_at) == ("read", NOW, row.sent_at)
    page = api.get(f"/api/v1/pregnancies/{pregnancy}/inbox?unread=true&limit=10").get_json()
    assert (page["unread"], page["total"]) == (4, 4)
    assert item_id not in [item["id"] for item in page["items"]]


def test_another_hospitals_key_never_sees_or_marks_her_items(app: Flask, api: Api, api_b: Api) -> None:
    pregnancy, rows = seed(app)
    _, item_id = rows[0]
    listed = api_b.get(f"/api/v1/pregnancies/{pregnancy}/inbox")
    assert listed.status_code == 404 and listed.get_json()["code"] == "pregnancy-not-found"
    marked = api_b.post(f"/api/v1/pregnancies/{pregnancy}/inbox/{item_id}/read", raw=b"")
    assert marked.status_code == 404 and marked.get_json()["code"] == "pregnancy-not-found"
    # b's own pregnancy with a's item id: not found either.
    b_pregnancy, _ = seed(app, "b", 2, items=1)
    crossed = api_b.post(f"/api/v1/pregnancies/{b_pregnancy}/inbox/{item_id}/read", raw=b"")
    assert crossed.status_code == 404 and crossed.get_json()["code"] == "inbox-item-not-found"
    assert outbox_row(app, rows[0][0]).read_at is None
    assert [
        i["title"] for i in api_b.get(f"/api/v1/pregnancies/{b_pregnancy}/inbox").get_json()["items"]
    ] == ["第0条"]


def test_unsigned_and_bad_queries_are_problems(app: Flask, api: Api) -> None:
    pregnancy, _ = seed(app, items=1)
    unsigned = app.test_client().get(f"/api/v1/pregnancies/{pregnancy}/inbox")
    assert unsigned.status_code == 401 and unsigned.get_json()["code"] == "auth-missing-header"
    for query in ("limit=0", "limit=abc", "colour=red"):
        bad = api.get(f"/api/v1/pregnancies/{pregnancy}/inbox?{query}")
        assert bad.status_code == 422 and bad.mimetype == "application/problem+json", query
        assert bad.get_json()["code"] == "invalid-request"


def test_reads_and_marks_are_audited(app: Flask, api: Api) -> None:
    from carepath.store.models import AuditEntry

    pregnancy, rows = seed(app, items=2)
    api.get(f"/api/v1/pregnancies/{pregnancy}/inbox")
    api.post(f"/api/v1/pregnancies/{pregnancy}/inbox/{rows[0][1]}/read", raw=b"")
    api.post(f"/api/v1/pregnancies/{pregnancy}/inbox/{rows[0][1]}/read", raw=b"")
    with app.extensions["carepath.db"].reading() as session:
        entries: list[Any] = list(session.scalars(select(AuditEntry).order_by(AuditEntry.id)))
    assert [(e.action, e.pregnancy_id) for e in entries] == [
        ("list", pregnancy),
        ("change", pregnancy),
        ("read", pregnancy),  # the repeat changes nothing, but it shows her item again
    ]
    assert all(e.actor.startswith("integrator:") and e.hospital_id == "a" for e in entries)


def test_documented_in_openapi(app: Flask) -> None:
    spec = app.test_client().get("/api/openapi.json").get_json()
    assert "/api/v1/pregnancies/{pregnancy_id}/inbox" in spec["paths"]
    assert "post" in spec["paths"]["/api/v1/pregnancies/{pregnancy_id}/inbox/{item_id}/read"]
    assert "InboxPage" in spec["components"]["schemas"]
