"""Suggested and confirmed colours in the staff reads (issue 16 item 5): a rule's colour is
shown as suggested (待确认 on the pages), a clinician's ``risk.confirmed`` as confirmed."""

from __future__ import annotations

from typing import Any

from flask import Flask

from tests.store.test_tasks import add_staff
from tests.webapi.conftest import Api, diagnosis
from tests.webapi.test_staff_reads import find, register, staff


def confirmation(his_id: str, colour: Any, event_id: str = "rc-1") -> dict[str, Any]:
    return {
        "id": event_id,
        "type": "risk.confirmed",
        "occurred_at": "2026-07-10T15:00:00+08:00",
        "patient": {"his_id": his_id},
        "data": {"colour": colour, "confirmed_by": "王医生", "note": "复核评估表"},
    }


def test_a_suggested_colour_reads_as_suggested_until_a_clinician_confirms_one(api: Api, app: Flask) -> None:
    doctor = add_staff(app, "a")
    pregnancy = register(api, "p-030", "孙丽", "110101199001013320", "13800000030")
    # 前置胎盘: the example risk-colour pathway suggests orange
    assert api.post("/api/v1/events", diagnosis("p-030", event_id="dx-030", code="O44.0")).status_code == 201

    def shown() -> list[tuple[str | None, str | None]]:
        timeline = api.get(f"/api/v1/pregnancies/{pregnancy}/timeline", **staff(doctor)).get_json()["facts"]
        [found] = find(api, doctor, his_id="p-030").get_json()["items"]
        patient_id = found["patient"]["id"]
        [record] = api.get(f"/api/v1/patients/{patient_id}").get_json()["pregnancies"]
        return [(view["risk_colour"], view["risk_colour_status"]) for view in (timeline, found, record)]

    def grade() -> Any:
        timeline = api.get(f"/api/v1/pregnancies/{pregnancy}/timeline", **staff(doctor)).get_json()
        return timeline["facts"]["risk_grade"]

    assert shown() == [("orange", "suggested")] * 3
    assert grade()["by"] == "risk-colour-example/orange-previa" and grade()["note"] == "前置胎盘"
    answer = api.post("/api/v1/events", confirmation("p-030", "yellow"))
    assert answer.status_code == 201, answer.get_json()
    assert shown() == [("yellow", "confirmed")] * 3  # the clinician lowers the earlier suggestion
    assert grade() == {
        "colour": "yellow",
        "at": "2026-07-10T15:00:00+08:00",
        "by": "王医生",
        "note": "复核评估表",
    }


def test_a_confirmation_without_a_colour_of_the_grade_is_refused_with_its_field(api: Api) -> None:
    register(api, "p-031", "周敏", "110101199202021220", "13800000031")
    answer = api.post("/api/v1/events", confirmation("p-031", "purple"))
    assert answer.status_code == 422, answer.get_json()
    assert "data.colour" in str(answer.get_json())


def test_the_colour_column_follows_her_state_on_every_evaluation(api: Api, app: Flask) -> None:
    """``pregnancies.risk_colour`` (0025) is what lists count and filter by: after each event
    it says what her state's facts say: suggested higher, then confirmed lower."""
    from carepath.store.models import Pregnancy

    pregnancy = register(api, "p-031", "周敏", "110101199001013339", "13800000031")

    def column_and_state() -> tuple[Any, Any]:
        with app.extensions["carepath.db"].reading() as session:
            row = session.get(Pregnancy, pregnancy)
            assert row is not None
            return row.risk_colour, row.state["facts"].get("risk_colour")

    assert column_and_state() == ("yellow", "yellow")  # the examples suggest yellow at registration
    assert api.post("/api/v1/events", diagnosis("p-031", event_id="dx-031", code="O44.0")).status_code == 201
    assert column_and_state() == ("orange", "orange")
    assert api.post("/api/v1/events", confirmation("p-031", "yellow", "rc-31")).status_code == 201
    assert column_and_state() == ("yellow", "yellow")
