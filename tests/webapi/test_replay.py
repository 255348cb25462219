"""Replays inside the 5-minute window: each signed request's nonce is accepted once per key
(401 auth-replayed after), with the database's nonce store and with Redis's; requests signed
the first way (no nonce) are accepted until ``SIGNING_ACCEPT_V1_UNTIL`` ends them."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from tests.conftest import FIELD_KEYS, LOOKUP_KEY, NOW
from tests.redis_server import redis_client, redis_prefix  # noqa: F401 (a fixture)
from tests.webapi.conftest import Api, counts, registration

HEALTH = {
    "his_id": "p-001",
    "channel": "*",
    "topic": "health-information",
    "notice_version": "2026-01",
    "source": "mini-program",
}


@pytest.fixture(params=["database", "redis"])
def nonces(request: pytest.FixtureRequest, app: Flask) -> Iterator[str]:
    """The app's nonce store: the database's (the default), or Redis's."""
    if request.param == "database":
        yield "database"
        return
    from carepath.store.nonces import RedisNonceStore

    client = request.getfixturevalue("redis_client")
    for prefix in redis_prefix(client, "nonce"):
        app.extensions["carepath.nonces"] = RedisNonceStore(client, prefix=prefix)
        yield "redis"


@pytest.fixture
def her(api: Api) -> None:
    assert api.post("/api/v1/events", registration()).status_code == 201


def _code(response: Any, status: int = 401) -> str:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    return str(response.get_json()["code"])


def test_a_replayed_consent_grant_does_not_grant_again_after_her_withdrawal(
    api: Api, app: Flask, nonces: str, her: None
) -> None:
    from carepath.store.models import Consent

    body = json.dumps(HEALTH).encode()
    captured = api.headers("POST", "/api/v1/consents", body)
    assert api.client.post("/api/v1/consents", data=body, headers=captured).status_code == 201
    api.clock.now += timedelta(minutes=1)
    path = "/api/v1/consents?his_id=p-001&topic=health-information"
    withdrawn = api.client.delete(path, headers=api.headers("DELETE", path, b""))
    assert withdrawn.get_json() == {"withdrawn": 1}
    api.clock.now += timedelta(minutes=1)  # still inside the captured request's window

    replayed = api.client.post("/api/v1/consents", data=body, headers=captured)

    assert _code(replayed) == "auth-replayed"
    assert api.get("/api/v1/consents?his_id=p-001").get_json()["health_information"] is False
    with app.extensions["carepath.db"].reading() as session:
        rows = list(session.scalars(select(Consent)))
    assert [row.withdrawn_at is not None for row in rows] == [True]


def test_concurrent_replays_of_one_request_have_exactly_one_accepted(
    api: Api, app: Flask, nonces: str
) -> None:
    body = json.dumps(registration()).encode()
    headers = api.headers("POST", "/api/v1/events", body)
    threads = 8
    barrier = threading.Barrier(threads)
    answers: list[tuple[int, str | None]] = []
    errors: list[BaseException] = []

    def send() -> None:
        try:
            client = app.test_client()
            barrier.wait(timeout=30)
            response = client.post("/api/v1/events", data=body, headers=headers)
            problem = response.get_json() if response.mimetype == "application/problem+json" else {}
            answers.append((response.status_code, problem.get("code")))
        except BaseException as error:  # re-raised below, in the test's thread
            errors.append(error)

    workers = [threading.Thread(target=send) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    assert not errors, errors
    assert sorted(answers, key=str) == [(201, None)] + [(401, "auth-replayed")] * (threads - 1)
    assert counts(app)["events"] == 1


def test_a_refused_events_nonce_is_kept_so_its_replay_is_refused_too(
    api: Api, app: Flask, nonces: str
) -> None:
    """Issue 22: an event's nonce is claimed in the event's transaction; when that rolls back
    (here a 422, then a 409) the nonce is claimed on its own, so the captured request, replayed
    once it would succeed, is still refused."""
    from carepath.store.models import RequestNonce

    early = {**registration(), "type": "lab.result", "id": "lab-1", "data": {"code": "hb", "value": 101}}
    body = json.dumps(early).encode()
    captured = api.headers("POST", "/api/v1/events", body)
    assert _code(api.client.post("/api/v1/events", data=body, headers=captured), 422) == "unknown-patient"
    assert api.post("/api/v1/events", registration()).status_code == 201  # now it would be processed

    assert _code(api.client.post("/api/v1/events", data=body, headers=captured)) == "auth-replayed"
    assert counts(app)["events"] == 1

    conflicting = json.dumps({**registration(), "data": {"lmp": "2026-03-01"}}).encode()
    headers = api.headers("POST", "/api/v1/events", conflicting)
    assert (
        _code(api.client.post("/api/v1/events", data=conflicting, headers=headers), 409) == "event-conflict"
    )
    assert _code(api.client.post("/api/v1/events", data=conflicting, headers=headers)) == "auth-replayed"
    if nonces == "database":
        with app.extensions["carepath.db"].reading() as session:
            kept = set(session.scalars(select(RequestNonce.nonce)))
        assert {captured["X-Carepath-Nonce"], headers["X-Carepath-Nonce"]} <= kept


def test_a_nonce_is_kept_only_after_the_signature_verifies(api: Api, app: Flask, nonces: str) -> None:
    """A forged request carrying someone's nonce does not burn it."""
    body = json.dumps(registration()).encode()
    headers = api.headers("POST", "/api/v1/events", body)
    forged = {**headers, "X-Carepath-Signature": "0" * 64}
    assert _code(api.client.post("/api/v1/events", data=body, headers=forged)) == "auth-bad-signature"
    assert api.client.post("/api/v1/events", data=body, headers=headers).status_code == 201


def test_the_nonce_is_signed_stripping_it_does_not_make_a_v1_request(api: Api, app: Flask) -> None:
    body = json.dumps(registration()).encode()
    headers = api.headers("POST", "/api/v1/events", body)
    assert api.client.post("/api/v1/events", data=body, headers=headers).status_code == 201
    stripped = {name: value for name, value in headers.items() if name != "X-Carepath-Nonce"}
    response = api.client.post("/api/v1/events", data=body, headers=stripped)
    assert _code(response) == "auth-bad-signature"
    assert response.get_json()["canonical_string"].startswith("CAREPATH-HMAC-SHA256\n")
    changed = {**headers, "X-Carepath-Nonce": headers["X-Carepath-Nonce"][::-1] + "x"}
    assert _code(api.client.post("/api/v1/events", data=body, headers=changed)) == "auth-bad-signature"


@pytest.mark.parametrize("nonce", ["", "short", "a" * 65, "has.a.dot.in.it.0000", "space in the nonce 00"])
def test_a_malformed_nonce_is_refused(api: Api, nonce: str) -> None:
    response = api.post("/api/v1/events", registration(), **{"X-Carepath-Nonce": nonce})
    assert _code(response) == "auth-bad-nonce"


def test_the_database_keeps_the_nonce_until_the_timestamp_leaves_the_window(api: Api, app: Flask) -> None:
    from carepath.store.models import RequestNonce

    body = json.dumps(registration()).encode()
    headers = api.headers("POST", "/api/v1/events", body)
    assert api.client.post("/api/v1/events", data=body, headers=headers).status_code == 201
    with app.extensions["carepath.db"].reading() as session:
        [row] = session.scalars(select(RequestNonce))
    assert (row.key_id, row.nonce) == (api.key.key_id, headers["X-Carepath-Nonce"])
    assert row.expires_at == NOW + timedelta(seconds=app.config["REPLAY_WINDOW_SECONDS"])
    # Past the window the replay is stale; a later request purges the row.
    api.clock.now = row.expires_at + timedelta(seconds=1)
    assert _code(api.client.post("/api/v1/events", data=body, headers=headers)) == "auth-stale-timestamp"
    assert api.get("/api/v1/patients").status_code == 200
    with app.extensions["carepath.db"].reading() as session:
        nonces = set(session.scalars(select(RequestNonce.nonce)))
    assert headers["X-Carepath-Nonce"] not in nonces and len(nonces) == 1


def test_a_nonce_store_that_cannot_answer_refuses_the_request(api: Api, app: Flask) -> None:
    import redis

    from carepath.store.nonces import RedisNonceStore

    unreachable = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.5)
    app.extensions["carepath.nonces"] = RedisNonceStore(unreachable)
    assert _code(api.post("/api/v1/events", registration()), 503) == "auth-replay-check-unavailable"
    assert counts(app)["events"] == 0


def test_redis_keeps_the_nonces_when_it_is_configured(app: Flask, database_url: str) -> None:
    from carepath.store.nonces import DatabaseNonceStore, RedisNonceStore
    from carepath.webapi import create_app

    assert isinstance(app.extensions["carepath.nonces"], DatabaseNonceStore)
    keys = {"FIELD_KEYS": FIELD_KEYS, "LOOKUP_KEY": LOOKUP_KEY}
    configured = create_app({"DATABASE_URL": database_url, "REDIS_URL": "redis://127.0.0.1:6379/0", **keys})
    assert isinstance(configured.extensions["carepath.nonces"], RedisNonceStore)
    configured.extensions["carepath.db"].dispose()


# --- the first scheme (no nonce), for the transition ------------------------------------------


def _v1_post(api: Api, payload: Any, staff: str | None = None) -> Any:
    from carepath.signing import SCHEME_V1, sign_request

    body = json.dumps(payload).encode()
    headers = sign_request(
        api.key.secret,
        "POST",
        "/api/v1/events",
        timestamp=str(int(api.clock.now.timestamp())),
        key_id=api.key.key_id,
        body=body,
        staff=staff,
        scheme=SCHEME_V1,
    )
    return api.client.post(
        "/api/v1/events", data=body, headers={**headers, "Content-Type": "application/json"}
    )


@pytest.mark.parametrize(
    "until", ["", True, "2026-07-11", "2026-07-10T15:00:01+08:00", "2026-07-10T15:00:01"]
)
def test_the_first_scheme_is_accepted_until_the_setting_ends_it(api: Api, app: Flask, until: Any) -> None:
    app.config["SIGNING_ACCEPT_V1_UNTIL"] = until  # NOW is 2026-07-10 15:00 in Shanghai
    assert _v1_post(api, registration()).status_code == 201


@pytest.mark.parametrize("until", [False, "2026-07-10", "2026-07-10T15:00:00+08:00", "2026-07-10T07:00:00Z"])
def test_the_first_scheme_is_refused_once_the_setting_ends_it(api: Api, app: Flask, until: Any) -> None:
    app.config["SIGNING_ACCEPT_V1_UNTIL"] = until
    response = _v1_post(api, registration())
    assert _code(response) == "auth-scheme-retired"
    assert response.get_json()["missing"] == ["X-Carepath-Nonce"]
    assert counts(app)["events"] == 0
    assert api.post("/api/v1/events", registration()).status_code == 201  # V2 goes on


def test_a_v1_request_with_the_staff_line_is_seven_lines_and_accepted_in_the_transition(
    api: Api, app: Flask
) -> None:
    from tests.store.test_tasks import add_staff

    doctor = add_staff(app, "a")
    from carepath.signing import SCHEME_V1, sign_request

    headers = sign_request(
        api.key.secret,
        "GET",
        "/api/v1/tasks",
        timestamp=str(int(api.clock.now.timestamp())),
        key_id=api.key.key_id,
        body=b"",
        staff=doctor.id,
        scheme=SCHEME_V1,
    )
    assert api.client.get("/api/v1/tasks", headers=headers).status_code == 200
    headers["X-Carepath-Staff"] = doctor.id + "0"
    response = api.client.get("/api/v1/tasks", headers=headers)
    assert _code(response) == "auth-bad-signature"
    canonical = response.get_json()["canonical_string"].split("\n")
    assert canonical[0] == "CAREPATH-HMAC-SHA256" and len(canonical) == 7


@pytest.mark.parametrize("until", ["soon", "2027-13-01", 2027])
def test_a_bad_transition_setting_stops_the_start(database_url: str, until: Any) -> None:
    from carepath.webapi import create_app

    with pytest.raises(ValueError, match="SIGNING_ACCEPT_V1_UNTIL"):
        create_app(
            {
                "DATABASE_URL": database_url,
                "FIELD_KEYS": FIELD_KEYS,
                "LOOKUP_KEY": LOOKUP_KEY,
                "SIGNING_ACCEPT_V1_UNTIL": until,
            }
        )


def test_the_examples_hand_built_v2_signature_is_accepted_once(api: Api, app: Flask) -> None:
    """``examples/post_event.py`` (docs/signing.md's Python) signs by hand, with the real clock."""
    import importlib.util
    from datetime import UTC, datetime

    from tests.conftest import ROOT

    spec = importlib.util.spec_from_file_location("post_event", ROOT / "examples" / "post_event.py")
    assert spec is not None and spec.loader is not None
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    api.clock.now = datetime.now(UTC)
    body = json.dumps(registration(), ensure_ascii=False).encode("utf-8")
    first = example.signed_headers(api.key.key_id, api.key.secret, "POST", "/api/v1/events", body)
    retry = example.signed_headers(api.key.key_id, api.key.secret, "POST", "/api/v1/events", body)
    assert api.client.post("/api/v1/events", data=body, headers=first).status_code == 201
    assert api.client.post("/api/v1/events", data=body, headers=retry).status_code == 200  # idempotent
    assert _code(api.client.post("/api/v1/events", data=body, headers=first)) == "auth-replayed"
