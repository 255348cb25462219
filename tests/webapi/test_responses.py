"""POST /api/v1/responses: validated against the form, scored, raising questionnaire.submitted."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from carepath.store.models import AuditEntry, QuestionnaireResponse, StaffTask
from tests.conftest import NOW, ROOT
from tests.webapi.conftest import Api, counts, diagnosis, registration

PATH = "/api/v1/responses"
#: EPDS answers totalling 13, the threshold (items 1, 2, 4 score a..d as 0..3; items 3, 5-10 as 3..0), item 10 "never".
EPDS_13 = {
    "q1": "b",
    "q2": "b",
    "q3": "a",
    "q4": "c",
    "q5": "b",
    "q6": "b",
    "q7": "c",
    "q8": "c",
    "q9": "d",
    "q10": "d",
}


def _publish_postpartum(app: Flask) -> None:
    """The postpartum plan and the EPDS follow-ups, which every pregnancy has (issue 17)."""
    from carepath.store import pathways

    paths = [
        ROOT / "carepath" / "pathways" / f"{name}.yaml"
        for name in ("postpartum-and-newborn", "perinatal-mental-health")
    ]
    with app.extensions["carepath.db"].transaction() as session:
        pathways.publish(session, {str(path): path.read_text("utf-8") for path in paths}, NOW)
    pathways.clear_cache()


def _delivered(api: Api, app: Flask) -> None:
    _publish_postpartum(app)
    assert api.post("/api/v1/events", registration()).status_code == 201
    delivery = {
        "id": "delivery-001",
        "type": "delivery",
        "occurred_at": "2026-07-10T14:10:00+08:00",
        "patient": {"his_id": "p-001"},
        "data": {"date": "2026-07-10"},
    }
    assert api.post("/api/v1/events", delivery).status_code == 201, api.post(
        "/api/v1/events", delivery
    ).get_json()


def epds(response_id: str = "r-001", answers: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": response_id,
        "form": "epds",
        "submitted_at": "2026-07-10T14:50:00+08:00",
        "patient": {"his_id": "p-001"},
        "answers": EPDS_13 if answers is None else answers,
    }
    body.update(extra)
    return body


def _responses(app: Flask) -> list[QuestionnaireResponse]:
    with app.extensions["carepath.db"].reading() as session:
        return list(session.scalars(select(QuestionnaireResponse)))


def test_epds_of_13_or_more_opens_one_task_however_often_it_is_posted(api: Api, app: Flask) -> None:
    _delivered(api, app)
    first = api.post(PATH, epds())
    assert first.status_code == 201, first.get_json()
    body = first.get_json()
    assert body["response"] == "r-001" and body["event"] == "response:r-001"
    assert body["score"]["total"] == 13 and body["score"]["complete"] is True
    assert ("perinatal-mental-health", "epds-13-or-more", "task") in {
        (a["pathway"], a["rule"], a["action"]) for a in body["actions"]
    }
    assert "epds-self-harm" not in {a["rule"] for a in body["actions"]}
    before = counts(app)

    again = api.post(PATH, epds())
    assert again.status_code == 200 and again.get_json() == body
    assert counts(app) == before
    [stored] = _responses(app)
    assert (stored.response_id, stored.form, stored.score and stored.score["total"]) == ("r-001", "epds", 13)
    with app.extensions["carepath.db"].reading() as session:
        epds_tasks = select(func.count()).where(StaffTask.dedupe_key.like("%/epds-13-or-more/%"))
        assert session.scalar(epds_tasks) == 1
        assert (
            session.scalar(select(func.count()).where(AuditEntry.detail.like("event response:r-001%"))) == 1
        )


def test_a_low_total_opens_nothing_and_the_self_harm_item_does(api: Api, app: Flask) -> None:
    _delivered(api, app)
    calm = dict.fromkeys(EPDS_13, "a") | {
        "q3": "d",
        "q5": "d",
        "q6": "d",
        "q7": "d",
        "q8": "d",
        "q9": "d",
        "q10": "d",
    }
    low = api.post(PATH, epds("r-low", calm)).get_json()
    assert low["score"]["total"] == 0 and low["actions"] == []
    worried = api.post(PATH, epds("r-q10", calm | {"q10": "c"})).get_json()
    # the urgent task and, at once, the urgent crisis advice to her (issue 17 item 10)
    assert [(a["rule"], a["action"]) for a in worried["actions"]] == [
        ("epds-self-harm", "task"),
        ("epds-self-harm", "push"),
    ]


def test_the_same_id_with_another_body_is_a_conflict(api: Api, app: Flask) -> None:
    _delivered(api, app)
    api.post(PATH, epds())
    response = api.post(PATH, epds(answers=EPDS_13 | {"q1": "a"}))
    assert response.status_code == 409 and response.get_json()["code"] == "response-conflict"
    assert len(_responses(app)) == 1


@pytest.mark.parametrize(
    ("change", "path", "code"),
    [
        ({"answers": {k: v for k, v in EPDS_13.items() if k != "q3"}}, "answers.q3", "required"),
        ({"answers": EPDS_13 | {"q11": "a"}}, "answers.q11", "unknown-item"),
        ({"answers": EPDS_13 | {"q2": "z"}}, "answers.q2", "invalid-answer"),
        ({"answers": EPDS_13 | {"q2": 3}}, "answers.q2", "invalid-answer"),
        ({"form": "no-such-form"}, "form", "unknown-form"),
        ({"form": "EPDS"}, "form", "invalid"),
        ({"colour": "red"}, "colour", "unknown-key"),
        ({"submitted_at": "2026-07-10T14:50:00"}, "submitted_at", "invalid"),
        ({"submitted_at": "2026-07-11T14:50:00+08:00"}, "submitted_at", "future-time"),
        ({"pregnancy": "abc"}, "pregnancy", "invalid"),
        ({"answers": ["q1"]}, "answers", "invalid"),
    ],
)
def test_each_bad_field_is_named_and_nothing_is_written(
    api: Api, app: Flask, change: dict[str, Any], path: str, code: str
) -> None:
    _delivered(api, app)
    before = counts(app)
    response = api.post(PATH, epds() | change)
    assert response.status_code == 422, response.get_json()
    problem = response.get_json()
    assert response.mimetype == "application/problem+json" and problem["code"] == "invalid-response"
    assert {"path": path, "code": code} in [{"path": e["path"], "code": e["code"]} for e in problem["errors"]]
    assert counts(app) == before and _responses(app) == []


def test_her_pregnancy_by_carepath_id_and_never_another_hospitals(api: Api, api_b: Api, app: Flask) -> None:
    api.post("/api/v1/events", registration())
    api.post("/api/v1/events", diagnosis())
    pregnancy = api.post("/api/v1/events", diagnosis(event_id="dx-2")).get_json()["pregnancy"]
    log = {
        "id": "g-001",
        "form": "gdm-glucose-log",
        "submitted_at": "2026-07-10T14:55:00+08:00",
        "pregnancy": pregnancy,
        "answers": {"measured_on": "2026-07-10", "fasting_glucose": 6.1, "low_glucose_symptoms": "no"},
    }
    before = counts(app)
    refused = api_b.post(PATH, log)
    assert refused.status_code == 422 and refused.get_json()["code"] == "unknown-pregnancy", (
        refused.get_json()
    )
    assert counts(app) == before
    answer = api.post(PATH, log).get_json()
    assert answer["score"]["flags"] == ["fasting-above-target"]
    assert {(a["rule"], a["action"]) for a in answer["actions"]} == {
        ("high-fasting", "task"),
        ("high-fasting", "push"),
    }


def test_an_unknown_patient_is_refused(api: Api, api_b: Api, app: Flask) -> None:
    api.post("/api/v1/events", registration())
    response = api_b.post(PATH, epds())  # p-001 is hospital a's
    assert response.status_code == 422 and response.get_json()["code"] == "unknown-patient"
    assert _responses(app) == []


def test_responses_are_in_the_openapi_document(api: Api) -> None:
    spec = api.client.get("/api/openapi.json").get_json()
    post = spec["paths"]["/api/v1/responses"]["post"]
    assert {"201", "200", "409", "422"} <= set(post["responses"])
    assert "Response" in spec["components"]["schemas"] and "ResponseAnswer" in spec["components"]["schemas"]


_VALUES = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(max_size=12)
    | st.lists(st.text(max_size=3) | st.integers(), max_size=3)
    | st.dictionaries(st.text(max_size=3), st.integers(), max_size=2)
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    key=st.sampled_from(
        ["id", "form", "submitted_at", "pregnancy", "patient", "answers", "q1", "q10", "extra"]
    ),
    value=_VALUES,
)
def test_a_mangled_response_is_never_a_server_error(api: Api, key: str, value: Any) -> None:
    api.post("/api/v1/events", registration())  # once, then replays
    body = epds(f"fuzz-{key}")
    if key.startswith("q"):
        body["answers"] = {**EPDS_13, key: value}
    else:
        body[key] = value
    response = api.post(PATH, body)
    assert response.status_code < 500, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json" or response.status_code in (200, 201)
