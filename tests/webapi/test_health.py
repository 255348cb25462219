from __future__ import annotations

from typing import Any

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
