"""HMAC integrator authentication: each failure a 401 problem naming the part that failed."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from tests.webapi.conftest import Api, counts, diagnosis, registration


def _code(response: Any) -> str:
    assert response.status_code == 401, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    return str(response.get_json()["code"])


@pytest.mark.parametrize(
    "header", ["X-Carepath-Key", "X-Carepath-Timestamp", "X-Carepath-Content-SHA256", "X-Carepath-Signature"]
)
def test_missing_header_is_named(api: Api, header: str) -> None:
    response = api.post("/api/v1/events", registration(), **{header: ""})
    assert _code(response) == "auth-missing-header"
    assert response.get_json()["missing"] == [header]


def test_timestamp_not_a_number(api: Api) -> None:
    assert _code(api.post("/api/v1/events", registration(), **{"X-Carepath-Timestamp": "today"})) == (
        "auth-bad-timestamp"
    )


@pytest.mark.parametrize("skew", [-301, 301, 86_400])
def test_timestamp_outside_five_minutes_is_stale(api: Api, skew: int) -> None:
    stamp = str(int(api.clock.now.timestamp()) + skew)
    assert _code(api.post("/api/v1/events", registration(), **{"X-Carepath-Timestamp": stamp})) == (
        "auth-stale-timestamp"
    )


def test_timestamp_within_five_minutes_is_accepted(api: Api) -> None:
    stamp = str(int((api.clock.now - timedelta(seconds=299)).timestamp()))
    body = registration()
    import json

    raw = json.dumps(body).encode()
    from carepath.webapi.auth import sign

    headers = sign(api.key.secret, "POST", "/api/v1/events", timestamp=stamp, key_id=api.key.key_id, body=raw)
    response = api.client.post(
        "/api/v1/events", data=raw, headers={**headers, "Content-Type": "application/json"}
    )
    assert response.status_code == 201


def test_unknown_key(api: Api) -> None:
    assert _code(api.post("/api/v1/events", registration(), **{"X-Carepath-Key": "ck_0000000000000000"})) == (
        "auth-unknown-key"
    )


def test_body_changed_after_signing(api: Api, app: Any) -> None:
    import json

    signed = json.dumps(registration()).encode()
    headers = api.headers("POST", "/api/v1/events", signed)
    tampered = signed.replace(b"p-001", b"p-002")
    response = api.client.post("/api/v1/events", data=tampered, headers=headers)
    assert _code(response) == "auth-body-hash-mismatch"
    assert counts(app)["events"] == 0


def test_wrong_secret_is_a_bad_signature_with_the_canonical_string(api: Api) -> None:
    api.key.secret = "not-the-secret"
    response = api.post("/api/v1/events", registration())
    assert _code(response) == "auth-bad-signature"
    canonical = response.get_json()["canonical_string"].split("\n")
    assert canonical[:3] == ["CAREPATH-HMAC-SHA256", "POST", "/api/v1/events"]
    assert canonical[4] == api.key.key_id


def test_signature_for_another_path_fails(api: Api) -> None:
    import json

    body = json.dumps({"events": [registration()]}).encode()
    headers = api.headers("POST", "/api/v1/events", body)
    response = api.client.post("/api/v1/events:batch", data=body, headers=headers)
    assert _code(response) == "auth-bad-signature"


def test_revoked_key_stops_at_once(api: Api, app: Any) -> None:
    from carepath.store.tenants import revoke_api_key

    assert api.post("/api/v1/events", registration()).status_code == 201
    with app.extensions["carepath.db"].transaction() as session:
        revoke_api_key(session, api.key.key_id, api.clock.now)
    assert _code(api.post("/api/v1/events", diagnosis())) == "auth-revoked-key"


def test_query_string_is_signed(api: Api) -> None:
    assert api.get("/api/v1/patients?limit=5").status_code == 200
    headers = api.headers("GET", "/api/v1/patients?limit=5", b"")
    assert _code(api.client.get("/api/v1/patients?limit=6", headers=headers)) == "auth-bad-signature"
