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
    assert canonical[:3] == ["CAREPATH-HMAC-SHA256-V2", "POST", "/api/v1/events"]
    assert canonical[4] == api.key.key_id
    assert len(canonical) == 7 and len(canonical[6]) >= 16  # the nonce, the seventh line


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


# --- the acting staff member is signed: X-Carepath-Staff is the canonical string's last line ---


def test_staff_header_changed_after_signing_is_refused_and_nothing_claimed(api: Api, app: Any) -> None:
    from sqlalchemy import select

    from carepath.store.models import StaffTask
    from tests.store.test_tasks import add_staff, previa_task

    doctor, other = add_staff(app, "a"), add_staff(app, "a", name="另一位医生")
    previa_task(api)
    listed = api.get("/api/v1/tasks", **{"X-Carepath-Staff": doctor.id})
    assert listed.status_code == 200, listed.get_json()
    [task] = listed.get_json()
    path = f"/api/v1/tasks/{task['id']}/claim"
    # Captured as the doctor's, replayed under another staff member's name.
    headers = api.headers("POST", path, b"", **{"X-Carepath-Staff": doctor.id})
    headers["X-Carepath-Staff"] = other.id
    response = api.client.post(path, data=b"", headers=headers)
    assert _code(response) == "auth-bad-signature"
    canonical = response.get_json()["canonical_string"].split("\n")
    assert len(canonical) == 8 and canonical[1:3] == ["POST", path]
    assert canonical[6] == headers["X-Carepath-Nonce"] and canonical[7] == other.id
    with app.extensions["carepath.db"].reading() as session:
        assert session.scalar(select(StaffTask.claimed_by).where(StaffTask.id == task["id"])) is None
    # A read too: the name it would be audited under is not the signer's.
    headers = api.headers("GET", "/api/v1/tasks", b"", **{"X-Carepath-Staff": doctor.id})
    headers["X-Carepath-Staff"] = doctor.id + "0"
    assert _code(api.client.get("/api/v1/tasks", headers=headers)) == "auth-bad-signature"


def test_signed_with_the_staff_line_but_sent_without_the_header_is_refused(api: Api, app: Any) -> None:
    from tests.store.test_tasks import add_staff

    doctor = add_staff(app, "a")
    headers = api.headers("GET", "/api/v1/tasks", b"", **{"X-Carepath-Staff": doctor.id})
    del headers["X-Carepath-Staff"]
    response = api.client.get("/api/v1/tasks", headers=headers)
    assert _code(response) == "auth-bad-signature"  # not auth-missing-staff: the signature fails first
    assert len(response.get_json()["canonical_string"].split("\n")) == 7


def test_staff_header_added_to_a_six_line_signature_is_refused(api: Api, app: Any) -> None:
    import json

    from tests.store.test_tasks import add_staff

    doctor = add_staff(app, "a")
    headers = api.headers("GET", "/api/v1/tasks", b"")
    headers["X-Carepath-Staff"] = doctor.id
    assert _code(api.client.get("/api/v1/tasks", headers=headers)) == "auth-bad-signature"
    body = json.dumps(registration()).encode()
    headers = api.headers("POST", "/api/v1/events", body)
    headers["X-Carepath-Staff"] = doctor.id
    assert _code(api.client.post("/api/v1/events", data=body, headers=headers)) == "auth-bad-signature"
    assert counts(app)["events"] == 0


def test_a_v1_request_without_the_staff_header_is_six_lines_and_accepted_in_the_transition(
    api: Api, app: Any
) -> None:
    """Scheme V1 as every HIS integration built it by hand before the nonce: still accepted
    while ``SIGNING_ACCEPT_V1_UNTIL`` is unset (``tests/webapi/test_replay.py`` ends it)."""
    import hashlib
    import hmac
    import json

    from carepath.signing import SCHEME_V1, canonical_string, sign_request

    body = json.dumps(registration(), ensure_ascii=False).encode("utf-8")
    timestamp = str(int(api.clock.now.timestamp()))
    digest = hashlib.sha256(body).hexdigest()
    six = "\n".join(["CAREPATH-HMAC-SHA256", "POST", "/api/v1/events", timestamp, api.key.key_id, digest])
    assert canonical_string("POST", "/api/v1/events", timestamp, api.key.key_id, digest) == six
    headers = sign_request(
        api.key.secret,
        "POST",
        "/api/v1/events",
        timestamp=timestamp,
        key_id=api.key.key_id,
        body=body,
        scheme=SCHEME_V1,
    )
    assert "X-Carepath-Staff" not in headers and "X-Carepath-Nonce" not in headers
    assert (
        headers["X-Carepath-Signature"]
        == hmac.new(api.key.secret.encode(), six.encode(), hashlib.sha256).hexdigest()
    )
    response = api.client.post(
        "/api/v1/events", data=body, headers={**headers, "Content-Type": "application/json"}
    )
    assert response.status_code == 201, response.get_json()
    assert counts(app)["events"] == 1


def test_a_v2_request_without_the_staff_header_is_seven_lines_the_nonce_last(api: Api, app: Any) -> None:
    """What docs/signing.md's example builds by hand: scheme V2, the nonce the seventh line."""
    import hashlib
    import hmac
    import json

    from carepath.signing import canonical_string, sign_request

    body = json.dumps(registration(), ensure_ascii=False).encode("utf-8")
    timestamp = str(int(api.clock.now.timestamp()))
    digest = hashlib.sha256(body).hexdigest()
    nonce = "n0nce_Of-Twenty-Two-ch"
    seven = "\n".join(
        ["CAREPATH-HMAC-SHA256-V2", "POST", "/api/v1/events", timestamp, api.key.key_id, digest, nonce]
    )
    assert canonical_string("POST", "/api/v1/events", timestamp, api.key.key_id, digest, nonce=nonce) == seven
    headers = sign_request(
        api.key.secret,
        "POST",
        "/api/v1/events",
        timestamp=timestamp,
        key_id=api.key.key_id,
        body=body,
        nonce=nonce,
    )
    assert headers["X-Carepath-Nonce"] == nonce and "X-Carepath-Staff" not in headers
    assert (
        headers["X-Carepath-Signature"]
        == hmac.new(api.key.secret.encode(), seven.encode(), hashlib.sha256).hexdigest()
    )
    response = api.client.post(
        "/api/v1/events", data=body, headers={**headers, "Content-Type": "application/json"}
    )
    assert response.status_code == 201, response.get_json()
    assert counts(app)["events"] == 1


def test_sign_request_makes_a_fresh_v2_nonce_each_time() -> None:
    import re

    from carepath.signing import sign_request

    made = [sign_request("s", "GET", "/x", timestamp="1", key_id="ck_1", body=b"") for _ in range(50)]
    nonces = {headers["X-Carepath-Nonce"] for headers in made}
    assert len(nonces) == 50
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{16,64}", nonce) for nonce in nonces)


def test_sign_request_with_staff_adds_the_header_and_the_last_line() -> None:
    import hashlib
    import hmac

    from carepath.signing import canonical_string, sign_request

    headers = sign_request(
        "s3cret", "GET", "/api/v1/tasks", timestamp="1750000000", key_id="ck_1", body=b"", staff="42"
    )
    assert headers["X-Carepath-Staff"] == "42"
    nonce = headers["X-Carepath-Nonce"]
    text = canonical_string(
        "GET", "/api/v1/tasks", "1750000000", "ck_1", hashlib.sha256(b"").hexdigest(), nonce=nonce, staff="42"
    )
    assert text.split("\n")[0] == "CAREPATH-HMAC-SHA256-V2"
    assert text.split("\n")[5:] == [hashlib.sha256(b"").hexdigest(), nonce, "42"]
    assert headers["X-Carepath-Signature"] == hmac.new(b"s3cret", text.encode(), hashlib.sha256).hexdigest()
