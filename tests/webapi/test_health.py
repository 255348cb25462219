from __future__ import annotations

from typing import Any

from tests.conftest import set_hospital_settings
from tests.webapi.conftest import Api, diagnosis, registration


def test_healthz_reports_database_and_migrations(app: Any) -> None:
    response = app.test_client().get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "checks": {"database": "ok", "migrations": "ok"}}


def test_healthz_is_503_when_the_database_is_unreachable(database_url: str) -> None:
    from carepath.webapi import create_app
    from tests.conftest import FIELD_KEYS, LOOKUP_KEY

    app = create_app(
        {
            "DATABASE_URL": "sqlite:////nonexistent/dir/x.db",
            "FIELD_KEYS": FIELD_KEYS,
            "LOOKUP_KEY": LOOKUP_KEY,
        }
    )
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["status"] == "unhealthy"


def test_metrics_count_events_and_actions_by_status(api: Api) -> None:
    api.post("/api/v1/events", registration())
    api.post("/api/v1/events", diagnosis())
    text = api.client.get("/metrics").get_data(as_text=True)
    assert "carepath_events_total 2" in text
    assert 'carepath_actions{status="due"}' in text
    assert "carepath_outbox_lag_seconds" in text


def test_openapi_and_swagger_ui_are_served_without_a_cdn(app: Any) -> None:
    client = app.test_client()
    spec = client.get("/api/openapi.json").get_json()
    assert "/api/v1/events" in spec["paths"] and "/api/v1/events:batch" in spec["paths"]
    page = client.get("/api/docs").get_data(as_text=True)
    assert "/api/docs-static/swagger-ui-bundle.js" in page
    assert "https://" not in page and "http://" not in page
    asset = client.get("/api/docs-static/swagger-ui-bundle.js")
    assert asset.status_code == 200
    asset.close()


# --- /healthz/pipeline ------------------------------------------------------------------------


def _pipeline(app: Any) -> tuple[int, dict[str, Any]]:
    response = app.test_client().get("/healthz/pipeline")
    return response.status_code, response.get_json()


def _jobs(app: Any) -> Any:
    from carepath.scheduler import Jobs
    from tests.scheduler.test_scheduler import hospital_delivery_stub

    return Jobs(app, lambda hospital: hospital_delivery_stub())


def test_pipeline_is_red_until_a_scheduler_has_swept_and_dispatched(api: Api, app: Any) -> None:
    from tests.conftest import NOW

    status, body = _pipeline(app)
    assert status == 503 and body["status"] == "lagging"
    assert body["problems"] == ["no sweep has run yet", "no dispatch has run yet"]
    assert body["scheduler"] == {"in_this_process": False}
    # The pipeline's mechanics, not the review: this hospital sends the shipped drafts.
    set_hospital_settings(app.extensions["carepath.db"], "a", drafts_allowed=True)
    api.post("/api/v1/events", registration())  # a reminder due now
    jobs = _jobs(app)
    jobs.sweep(), jobs.dispatch(), jobs.dispatch()
    status, body = _pipeline(app)
    assert status == 200 and body["status"] == "ok" and body["problems"] == []
    assert body["sweep"]["ran_at"] == NOW.isoformat() and body["sweep"]["age_seconds"] == 0
    assert body["dispatch"]["count"] == 0  # the last run sent nothing; the one before sent her reminder
    assert body["escalate"] is None
    assert body["oldest_due"] == {"since": None, "lag_seconds": 0}
    with app.extensions["carepath.db"].reading() as session:
        from sqlalchemy import func, select

        from carepath.store.models import PipelineHeartbeat

        assert session.scalar(select(func.count()).select_from(PipelineHeartbeat)) == 2  # one row a job


def test_pipeline_turns_red_when_a_sendable_message_waits_past_the_bound(
    api: Api, app: Any, clock: Any
) -> None:
    from datetime import timedelta

    from sqlalchemy import update

    from carepath.store import heartbeats
    from carepath.store.models import OutboxRow

    app.config["PIPELINE_MAX_LAG_SECONDS"] = 60
    db, jobs = app.extensions["carepath.db"], _jobs(app)
    set_hospital_settings(db, "a", drafts_allowed=True)  # the pipeline, not the review, is tested
    api.post("/api/v1/events", registration())  # her reminder, due now

    def alive_but_stuck() -> None:  # the scheduler ticks; its dispatcher sends nothing
        jobs.sweep()
        heartbeats.beat(db, "dispatch", clock.now, 0, "ward-a:101")

    alive_but_stuck()
    assert _pipeline(app)[0] == 200
    clock.now += timedelta(seconds=61)
    alive_but_stuck()
    status, body = _pipeline(app)
    assert status == 503 and body["problems"] == ["the oldest due message has waited 61 s"]
    assert body["oldest_due"]["lag_seconds"] == 61 and body["dispatch"]["holder"] == "ward-a:101"
    with db.transaction() as session:  # held for the send window: not late, just waiting
        session.execute(update(OutboxRow).values(next_attempt_at=clock.now + timedelta(hours=8)))
    assert _pipeline(app)[0] == 200
    clock.now += timedelta(hours=8, seconds=61)
    alive_but_stuck()
    status, body = _pipeline(app)  # the window opened 61 s ago and it still waits
    assert status == 503 and body["oldest_due"]["lag_seconds"] == 61
    jobs.dispatch()
    status, body = _pipeline(app)
    assert status == 200 and body["dispatch"]["count"] == 1


def test_pipeline_is_red_when_the_last_sweep_is_too_old(app: Any, clock: Any) -> None:
    from datetime import timedelta

    app.config["PIPELINE_MAX_LAG_SECONDS"] = 60
    jobs = _jobs(app)
    jobs.sweep(), jobs.dispatch()
    clock.now += timedelta(seconds=61)
    jobs.dispatch()
    status, body = _pipeline(app)
    assert status == 503 and body["problems"] == ["no sweep for 61 s"]


def test_pipeline_is_503_when_the_database_is_unreachable() -> None:
    from carepath.webapi import create_app
    from tests.conftest import FIELD_KEYS, LOOKUP_KEY

    app = create_app(
        {
            "DATABASE_URL": "sqlite:////nonexistent/dir/x.db",
            "FIELD_KEYS": FIELD_KEYS,
            "LOOKUP_KEY": LOOKUP_KEY,
        }
    )
    status, body = _pipeline(app)
    assert status == 503 and body["status"] == "unhealthy"
    assert body["problems"] == ["database unreachable: OperationalError"]


def test_metrics_lag_counts_a_notice_held_for_the_window_from_its_opening(
    api: Api, app: Any, clock: Any
) -> None:
    """Her inbox copy is filed when a message fires at night; its notice waits for the window
    (issue 16 item 11). That wait is not lag: /metrics says what /healthz/pipeline says."""
    from datetime import timedelta

    from sqlalchemy import update

    from carepath.store.models import OutboxRow

    db = app.extensions["carepath.db"]
    api.post("/api/v1/events", registration())

    def lag() -> float:
        text = api.client.get("/metrics").get_data(as_text=True)
        return float(
            next(x for x in text.splitlines() if x.startswith("carepath_outbox_lag_seconds ")).split()[1]
        )

    with db.transaction() as session:  # fired now; the notice may go in 8 hours
        session.execute(
            update(OutboxRow).values(due_at=clock.now, next_attempt_at=clock.now + timedelta(hours=8))
        )
    clock.now += timedelta(hours=1)
    assert lag() == 0.0
    clock.now += timedelta(hours=7, seconds=30)  # the window opened 30 s ago
    assert lag() == 30.0
