"""Staff enrol her in a pathway, or end her enrolment, by hand, through the API (issue 16 item 4):
the welcome fires though the audience does not hold, a second request is reported and changes
nothing, the end cancels what was pending, and a pathway the hospital's library lacks is a 422
problem with nothing recorded."""

from __future__ import annotations

from typing import Any

from flask import Flask
from sqlalchemy import func, select

from carepath.store import pathways
from carepath.store.models import AuditEntry, EventRecord, OutboxRow
from tests.conftest import NOW
from tests.webapi.conftest import Api, registration

BY_HAND = """
pathway: gdm-by-hand
title: 手动入组的糖尿病管理
audience: {tag: 妊娠期糖尿病}
rules:
  - id: welcome
    on: enrolled
    do:
      - push: {content: gdm-welcome}
      - remind: {content: postpartum-ogtt, after: 20w}
"""


def _publish(app: Flask) -> None:
    with app.extensions["carepath.db"].transaction() as session:
        pathways.publish(session, {"gdm-by-hand.yaml": BY_HAND}, NOW, hospital_id="a")
    pathways.clear_cache()


def request(event_id: str, kind: str, pathway: str, minute: int) -> dict[str, Any]:
    return {
        "id": event_id,
        "type": kind,
        "occurred_at": f"2026-07-10T14:{minute:02d}:00+08:00",
        "patient": {"his_id": "p-001"},
        "data": {"pathway": pathway, "requested_by": "张医生", "reason": "空腹血糖偏高，先行管理"},
    }


def test_enrolled_and_ended_by_hand_with_a_second_request_reported(api: Api, app: Flask) -> None:
    _publish(app)
    assert api.post("/api/v1/events", registration()).status_code == 201
    enrolled = api.post("/api/v1/events", request("plan-1", "plan.enrol_requested", "gdm-by-hand", 10))
    assert enrolled.status_code == 201, enrolled.get_json()
    actions = enrolled.get_json()["actions"]
    assert [(a["pathway"], a["action"]) for a in actions] == [
        ("gdm-by-hand", "push"),
        ("gdm-by-hand", "remind"),
    ]
    assert enrolled.get_json()["warnings"] == []
    again = api.post("/api/v1/events", request("plan-2", "plan.enrol_requested", "gdm-by-hand", 20))
    assert again.status_code == 201 and again.get_json()["actions"] == []
    (warning,) = again.get_json()["warnings"]
    assert (warning["code"], warning["pathway"]) == ("already-enrolled", "gdm-by-hand")
    assert warning["message_zh"] == "她已在路径 gdm-by-hand 中，未重复入组"
    ended = api.post("/api/v1/events", request("plan-3", "plan.end_requested", "gdm-by-hand", 30))
    assert ended.status_code == 201
    remind = next(a for a in actions if a["action"] == "remind")
    assert ended.get_json()["cancelled"] == [{"dedupe_key": remind["dedupe_key"], "status": "cancelled"}]
    with app.extensions["carepath.db"].reading() as session:
        row = session.scalar(select(OutboxRow).where(OutboxRow.dedupe_key == remind["dedupe_key"]))
        details = list(
            session.scalars(select(AuditEntry.detail).where(AuditEntry.detail.like("event plan-%")))
        )
    assert row is not None and row.status == "cancelled"
    assert details == [
        "event plan-1 plan.enrol_requested gdm-by-hand (requested by 张医生)",
        "event plan-2 plan.enrol_requested gdm-by-hand (requested by 张医生; already-enrolled)",
        "event plan-3 plan.end_requested gdm-by-hand (requested by 张医生)",
    ]


def test_a_pathway_the_library_lacks_is_refused_with_nothing_recorded(api: Api, app: Flask) -> None:
    _publish(app)
    assert api.post("/api/v1/events", registration()).status_code == 201
    for kind in ("plan.enrol_requested", "plan.end_requested"):
        refused = api.post("/api/v1/events", request(f"plan-{kind}", kind, "gdm-by-hnad", 10))
        assert refused.status_code == 422, kind
        body = refused.get_json()
        assert body["code"] == "invalid-event"
        (error,) = body["errors"]
        assert (error["path"], error["code"]) == ("data.pathway", "unknown-pathway")
        assert "did you mean 'gdm-by-hand'?" in error["message"]
        assert error["message_zh"] == "本院路径库中没有路径 gdm-by-hnad"
    with app.extensions["carepath.db"].reading() as session:
        assert session.scalar(select(func.count()).select_from(EventRecord)) == 1  # the registration
    batch = api.post(
        "/api/v1/events:batch", {"events": [request("plan-b", "plan.enrol_requested", "nope", 10)]}
    )
    assert batch.status_code == 200
    (item,) = batch.get_json()["results"]
    assert item["status"] == 422 and item["problem"]["errors"][0]["code"] == "unknown-pathway"
