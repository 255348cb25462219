from __future__ import annotations

from typing import Any

from tests.webapi.conftest import Api, counts, diagnosis, registration


def _ok(response: Any, status: int = 201) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    return response.get_json()


def test_registration_then_diagnosis_enrols_and_answers_actions(api: Api) -> None:
    registered = _ok(api.post("/api/v1/events", registration()))
    assert registered["patient"] == "p-001"
    answer = _ok(api.post("/api/v1/events", diagnosis()))
    kinds = {(a["pathway"], a["rule"], a["action"]) for a in answer["actions"]}
    assert ("gdm-example", "welcome", "push") in kinds
    assert ("gdm-example", "welcome", "tag") in kinds
    assert answer["pregnancy"] == registered["pregnancy"]
    push = next(a for a in answer["actions"] if a["action"] == "push")
    assert push["status"] == "due" and push["id"] > 0


def test_replaying_one_event_1000_times_leaves_one_set_of_actions(api: Api, app: Any) -> None:
    _ok(api.post("/api/v1/events", registration()))
    first = _ok(api.post("/api/v1/events", diagnosis()))
    before = counts(app)
    for _ in range(1000):
        again = api.post("/api/v1/events", diagnosis())
        assert again.status_code == 200
        assert again.get_json() == first
    assert counts(app) == before


def test_the_same_code_under_a_new_id_is_recorded_and_audited_but_fires_nothing(api: Api, app: Any) -> None:
    from sqlalchemy import select

    from carepath.store.models import AuditEntry, Diagnosis

    _ok(api.post("/api/v1/events", registration()))
    first = _ok(api.post("/api/v1/events", diagnosis()))
    assert first["actions"] and first["warnings"] == []
    before = counts(app)
    again = _ok(api.post("/api/v1/events", diagnosis(event_id="dx-002", code="O24.401")))
    assert again["actions"] == []
    assert [(w["code"], w["icd10"]) for w in again["warnings"]] == [("repeat", "O24.401")]
    assert counts(app) == {**before, "events": before["events"] + 1}
    with app.extensions["carepath.db"].reading() as session:
        assert len(session.scalars(select(Diagnosis)).all()) == 2
        details = session.scalars(select(AuditEntry.detail)).all()
    assert "event dx-002 diagnosis.added (repeat: recorded, no rule fired)" in details
    assert "event dx-001 diagnosis.added" in details


def test_same_id_with_a_different_body_is_a_conflict_and_changes_nothing(api: Api, app: Any) -> None:
    _ok(api.post("/api/v1/events", registration()))
    _ok(api.post("/api/v1/events", diagnosis()))
    before = counts(app)
    response = api.post("/api/v1/events", diagnosis(code="O24.402"))
    assert response.status_code == 409
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["code"] == "event-conflict"
    assert counts(app) == before


def test_key_order_and_spacing_do_not_make_a_different_body(api: Api) -> None:
    _ok(api.post("/api/v1/events", registration()))
    event = diagnosis()
    _ok(api.post("/api/v1/events", event))
    reordered = dict(reversed(list(event.items())))
    assert api.post("/api/v1/events", reordered).status_code == 200


def test_event_for_unknown_patient_is_refused(api: Api, app: Any) -> None:
    response = api.post("/api/v1/events", diagnosis(his_id="nobody"))
    assert response.status_code == 422
    assert response.get_json()["code"] == "unknown-patient"
    assert counts(app)["events"] == 0


def test_patient_found_by_id_number_alone(api: Api) -> None:
    _ok(api.post("/api/v1/events", registration()))
    event = diagnosis()
    event["patient"] = {"id_number": "33010219900412180x"}
    assert _ok(api.post("/api/v1/events", event))["patient"] == "p-001"


def test_backdated_lab_changes_history_but_not_the_latest_value(api: Api, app: Any) -> None:
    from carepath.store.models import Pregnancy

    pregnancy = _ok(api.post("/api/v1/events", registration()))["pregnancy"]
    newer = {
        "id": "lab-2",
        "type": "lab.result",
        "occurred_at": "2026-07-10T14:50:00+08:00",
        "patient": {"his_id": "p-001"},
        "data": {"code": "hb", "value": 120, "unit": "g/L"},
    }
    older = {
        **newer,
        "id": "lab-1",
        "occurred_at": "2026-07-09T10:00:00+08:00",
        "data": {"code": "hb", "value": 95},
    }
    _ok(api.post("/api/v1/events", newer))
    _ok(api.post("/api/v1/events", older))
    with app.extensions["carepath.db"].reading() as session:
        facts = session.get(Pregnancy, pregnancy).state["facts"]
    assert facts["labs"]["hb"] == 120.0


def test_new_pregnancy_after_the_last_one_ended(api: Api) -> None:
    first = _ok(api.post("/api/v1/events", registration()))["pregnancy"]
    ended = {
        "id": "end-1",
        "type": "pregnancy.ended",
        "occurred_at": "2026-07-10T14:40:00+08:00",
        "patient": {"his_id": "p-001"},
        "data": {"reason": "miscarriage"},
    }
    _ok(api.post("/api/v1/events", ended))
    second = _ok(api.post("/api/v1/events", registration(event_id="reg-002")))["pregnancy"]
    assert second != first


def test_batch_answers_each_item_on_its_own(api: Api, app: Any) -> None:
    bad = diagnosis(event_id="dx-bad")
    bad["type"] = "diagnosis.invented"
    response = api.post("/api/v1/events:batch", {"events": [registration(), diagnosis(), bad, diagnosis()]})
    results = _ok(response, 200)["results"]
    assert [r["status"] for r in results] == [201, 201, 422, 200]
    assert results[2]["problem"]["code"] == "invalid-event"
    assert results[2]["problem"]["errors"][0]["path"] == "type"
    assert counts(app)["events"] == 2


def test_batch_over_1000_events_is_refused_whole(api: Api, app: Any) -> None:
    events = [diagnosis(event_id=f"dx-{i}") for i in range(1001)]
    response = api.post("/api/v1/events:batch", {"events": events})
    assert response.status_code == 422
    assert response.get_json()["code"] == "invalid-batch"
    assert counts(app)["events"] == 0


def test_batch_of_1000_is_processed(api: Api, app: Any) -> None:
    _ok(api.post("/api/v1/events", registration()))
    events = [
        {
            "id": f"lab-{i}",
            "type": "lab.result",
            "occurred_at": "2026-07-10T14:50:00+08:00",
            "patient": {"his_id": "p-001"},
            "data": {"code": "hb", "value": 100 + i % 20},
        }
        for i in range(1000)
    ]
    results = _ok(api.post("/api/v1/events:batch", {"events": events}), 200)["results"]
    assert all(r["status"] == 201 for r in results)
    assert counts(app)["events"] == 1001


def test_id_number_of_another_his_id_is_a_mismatch(api: Api, app: Any) -> None:
    _ok(api.post("/api/v1/events", registration()))
    before = counts(app)
    response = api.post("/api/v1/events", registration("p-999", "reg-999"))
    assert response.status_code == 422
    assert response.get_json()["code"] == "patient-mismatch"
    assert counts(app) == before


def test_concurrent_twins_of_one_event_record_it_once(api: Api, app: Any) -> None:
    """The HIS retrying before the first answer came: one 201, the others 200, one set of actions."""
    import threading

    _ok(api.post("/api/v1/events", registration()))
    statuses: list[int] = []
    answers: list[dict[str, Any]] = []
    lock = threading.Lock()

    def post() -> None:
        client = app.test_client()
        twin = Api(client, api.key, api.clock)
        response = twin.post("/api/v1/events", diagnosis())
        with lock:
            statuses.append(response.status_code)
            answers.append(response.get_json())

    threads = [threading.Thread(target=post) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200] * 5 + [201]
    assert all(answer == answers[0] for answer in answers)
    assert counts(app)["events"] == 2
