"""A bereaved mother is never congratulated (store/congratulations.py), on SQLite and PostgreSQL,
through the API's events, the real engine and library, the real dispatcher and the fake providers:
once a baby of hers is lost, no celebrating content (``celebrates: true``) is left to send, and
none is in her inbox."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from carepath.delivery.dispatcher import dispatch_once
from carepath.store import her_pages, pathways, publishing
from carepath.store.inbox import InboxItemNotFoundError, list_inbox
from carepath.store.models import InboxItem, OutboxRow, Pregnancy
from carepath.store.scope import Actor
from tests.conftest import NOW, ROOT, approve_item
from tests.delivery.test_dispatcher import client, fake, hospital_delivery  # noqa: F401
from tests.store.test_tasks import add_staff
from tests.webapi.conftest import Api, registration
from tests.webapi.test_consents_api import HEALTH, PHONE, SMS, _put

SHANGHAI = timedelta(hours=8)
NIGHT = datetime(2026, 7, 11, 2, 0, tzinfo=UTC) - SHANGHAI  # 02:00 in Shanghai
MORNING = datetime(2026, 7, 11, 7, 0, tzinfo=UTC) - SHANGHAI  # 07:00
OPENED = datetime(2026, 7, 11, 9, 5, tzinfo=UTC) - SHANGHAI  # 09:05, the window open
#: GA 37+0 on NOW's day (2026-07-10): the school's week-37 lesson ("恭喜，宝宝足月了") fires.
TERM_LMP = (date(2026, 7, 10) - timedelta(days=37 * 7)).isoformat()


def _setup(api: Api, app: Flask, lmp: str | None = None) -> None:
    """The built-in plans that congratulate, their content approved; she registered, with her
    consent and her phone."""
    paths = [
        ROOT / "carepath" / "pathways" / f"{name}.yaml"
        for name in ("postpartum-and-newborn", "school-weekly", "pregnancy-loss")
    ]
    db = app.extensions["carepath.db"]
    with db.transaction() as session:
        pathways.publish(session, {str(path): path.read_text("utf-8") for path in paths}, NOW)
    pathways.clear_cache()
    for key in ("postpartum-care", "week-37"):
        approve_item(db, "a", "content", key)
    event = registration()
    if lmp is not None:
        event["data"]["lmp"] = lmp
    answer = api.post("/api/v1/events", event)
    assert answer.status_code == 201, answer.get_json()
    assert api.post("/api/v1/consents", HEALTH).status_code == 201
    assert api.post("/api/v1/consents", SMS).status_code == 201
    assert _put(api, "/api/v1/bindings", PHONE).status_code == 201


def _event(api: Api, event_id: str, kind: str, at: datetime, data: dict[str, Any]) -> None:
    api.clock.now = at
    body = {
        "id": event_id,
        "type": kind,
        "occurred_at": (at + SHANGHAI).replace(tzinfo=None).isoformat() + "+08:00",
        "patient": {"his_id": "p-001"},
        "data": data,
    }
    answer = api.post("/api/v1/events", body)
    assert answer.status_code == 201, answer.get_json()


def _dispatch(app: Flask, fake: Any, client: Any, at: datetime) -> None:  # noqa: F811
    setup = hospital_delivery(fake, client)
    dispatch_once(
        app.extensions["carepath.db"], at, lambda h: setup, cipher=app.extensions["carepath.cipher"]
    )


def _rows(app: Flask, content: str) -> list[OutboxRow]:
    with app.extensions["carepath.db"].reading() as session:
        found = session.scalars(select(OutboxRow).order_by(OutboxRow.id)).all()
        return [row for row in found if (row.params or {}).get("content") == content]


def _pregnancy(app: Flask) -> Pregnancy:
    with app.extensions["carepath.db"].reading() as session:
        [pregnancy] = session.scalars(select(Pregnancy)).all()
        return pregnancy


def _her_titles(app: Flask) -> list[str]:
    """Her inbox as she reads it: the mini program's list (store/inbox.py) and her H5 pages
    (store/her_pages.py) must agree."""
    db, pregnancy = app.extensions["carepath.db"], _pregnancy(app)
    listed = list_inbox(db, Actor("a", "patient", "her"), pregnancy.id, OPENED)
    h5 = her_pages.her_inbox(db, "a", pregnancy.patient_id, OPENED)
    assert [item["title"] for item in listed["items"]] == [item.title for item in h5]
    assert listed["total"] == len(h5)
    return [item.title for item in h5]


def _nothing_celebrates(app: Flask) -> None:
    """The invariant: after a baby is lost, no celebrating item is visible to her or sendable."""
    db = app.extensions["carepath.db"]
    with db.reading() as session:
        celebrating = {k for k, item in publishing.content_items(session, "a").items() if item.celebrates}
        rows = [
            r for r in session.scalars(select(OutboxRow)) if (r.params or {}).get("content") in celebrating
        ]
        keys = {row.dedupe_key for row in rows}
        visible = session.scalars(
            select(InboxItem).where(InboxItem.dedupe_key.in_(keys), InboxItem.withdrawn_at.is_(None))
        ).all()
    assert celebrating == {"postpartum-care", "week-37"}
    assert [row.dedupe_key for row in rows if row.status in ("due", "held", "in_flight")] == []
    assert visible == []
    titles = _her_titles(app)
    assert "产后护理" not in titles and "孕37周" not in titles


def _withdrawn_in_timeline(api: Api, app: Flask, dedupe_key: str) -> dict[str, Any]:
    pregnancy = _pregnancy(app)
    nurse = add_staff(app, "a", role="nurse")
    answer = api.get(f"/api/v1/pregnancies/{pregnancy.id}/timeline", **{"X-Carepath-Staff": nurse.id})
    assert answer.status_code == 200, answer.get_json()
    [entry] = [
        e for e in answer.get_json()["entries"] if e["kind"] == "action" and e["id"] == _id(app, dedupe_key)
    ]
    return dict(entry)


def _id(app: Flask, dedupe_key: str) -> int:
    with app.extensions["carepath.db"].reading() as session:
        return int(session.scalar(select(OutboxRow.id).where(OutboxRow.dedupe_key == dedupe_key)) or 0)


@pytest.mark.parametrize(
    "newborns",
    [
        # her only baby: the plan exits (no baby alive) and cancels the notice; her copy stayed
        [{"outcome": "live", "baby_id": "NB-1"}],
        # twins, one dies: the plan goes on for the other, and its notice was sent at 09:00
        [{"outcome": "live", "baby_id": "NB-1"}, {"outcome": "live", "baby_id": "NB-2"}],
    ],
    ids=["one-baby", "twins"],
)
def test_a_night_delivery_then_a_babys_death_sends_no_congratulation(
    api: Api,
    app: Flask,
    fake: Any,  # noqa: F811
    client: Any,  # noqa: F811
    newborns: list[dict[str, str]],
) -> None:
    _setup(api, app)
    _event(api, "delivery-1", "delivery", NIGHT, {"date": "2026-07-11", "newborns": newborns})
    [welcome] = _rows(app, "postpartum-care")
    assert (welcome.status, welcome.status_reason) == ("due", "outside-window")
    _dispatch(app, fake, client, NIGHT)
    [welcome] = _rows(app, "postpartum-care")
    assert welcome.status == "due" and welcome.inbox_item_id is not None  # filed, the notice waits
    assert "产后护理" in _her_titles(app)
    item_id = welcome.inbox_item_id

    _event(api, "died-1", "newborn.died", MORNING, {"baby_id": "NB-1", "date": "2026-07-11"})
    _dispatch(app, fake, client, OPENED)

    [welcome] = _rows(app, "postpartum-care")
    # never tried on any channel: no provider call was made for it
    assert (welcome.status, welcome.sent_at, welcome.attempts, welcome.provider_message_id) == (
        "cancelled",
        None,
        0,
        None,
    )
    _nothing_celebrates(app)
    assert welcome.status_reason == "baby-lost"
    pregnancy = _pregnancy(app)
    with pytest.raises(InboxItemNotFoundError):  # her item page answers 404, as for a missing item
        her_pages.her_item(app.extensions["carepath.db"], "a", pregnancy.patient_id, item_id, OPENED)
    entry = _withdrawn_in_timeline(api, app, welcome.dedupe_key)
    assert (entry["status"], entry["status_reason"], entry["inbox_withdrawn_reason"]) == (
        "cancelled",
        "baby-lost",
        "baby-lost",
    )
    assert entry["inbox_withdrawn_at"] == MORNING.isoformat()


def test_twins_one_stillborn_at_delivery_are_never_congratulated(
    api: Api,
    app: Flask,
    fake: Any,  # noqa: F811
    client: Any,  # noqa: F811
) -> None:
    _setup(api, app)
    _event(api, "delivery-2", "delivery", NIGHT, {"date": "2026-07-11", "newborns": [
        {"outcome": "live", "baby_id": "NB-1"}, {"outcome": "stillbirth", "baby_id": "NB-2"}]})  # fmt: skip
    assert _rows(app, "postpartum-care") == []  # the pathway's own guard: never filed at all
    _dispatch(app, fake, client, NIGHT)
    _dispatch(app, fake, client, OPENED)
    assert _rows(app, "postpartum-care") == []
    _nothing_celebrates(app)


@pytest.mark.parametrize(
    ("kind", "data"),
    [
        ("loss.confirmed", {"confirmed_by": "产科医生", "reason": "胎死宫内"}),
        ("delivery", {"date": "2026-07-11", "newborns": [{"outcome": "stillbirth", "baby_id": "NB-1"}]}),
    ],
)
def test_the_term_lesson_is_withdrawn_from_her_inbox_after_a_loss(
    *,
    api: Api,
    app: Flask,
    fake: Any,  # noqa: F811
    client: Any,  # noqa: F811
    kind: str,
    data: dict[str, Any],
) -> None:
    _setup(api, app, lmp=TERM_LMP)
    [term] = _rows(app, "week-37")
    _dispatch(app, fake, client, NOW)  # 15:00 in Shanghai: sent, and filed in her inbox
    [term] = _rows(app, "week-37")
    assert term.status == "sent" and "孕37周" in _her_titles(app)

    _event(api, "loss-1", kind, NOW + timedelta(hours=3), data)

    [term] = _rows(app, "week-37")
    assert term.status == "sent"  # what went, went; her copy is taken back
    _nothing_celebrates(app)
    entry = _withdrawn_in_timeline(api, app, term.dedupe_key)
    assert (entry["status"], entry["inbox_withdrawn_reason"]) == ("sent", "baby-lost")
    nurse = add_staff(app, "a", role="nurse")
    page = api.get(f"/api/v1/outbox?pregnancy={term.pregnancy_id}", **{"X-Carepath-Staff": nurse.id})
    assert page.status_code == 200, page.get_json()
    [listed] = [item for item in page.get_json()["items"] if item["id"] == term.id]
    assert (listed["status"], listed["inbox_withdrawn_reason"]) == ("sent", "baby-lost")
    others = [item for item in page.get_json()["items"] if item["id"] != term.id]
    assert others and not any("inbox_withdrawn_at" in item for item in others)
