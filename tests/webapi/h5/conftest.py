"""Her pages' fixtures: a woman registered by the HIS, and a test client signed in as her.

``sign_in_as(client, app, patient_id)`` starts a real session row and hands the client her
cookie as the app signs it: what the sign-in pages end with, without going through them (the
sign-in tests go through them)."""

from __future__ import annotations

import re
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from tests.webapi.conftest import Api, registration


def her_cookie(app: Flask, data: dict[str, Any]) -> str:
    with app.test_request_context("/h5/"):
        serializer = app.session_interface.get_signing_serializer(app)  # type: ignore[attr-defined]
        return str(serializer.dumps(data))


def sign_in_as(client: FlaskClient, app: Flask, patient_id: int, hospital: str = "a") -> str:
    from carepath.store import patient_sessions

    token = patient_sessions.start(
        app.extensions["carepath.db"], patient_id, hospital, "demo", app.config["CLOCK"]()
    )
    client.set_cookie(app.config["H5_SESSION_COOKIE_NAME"], her_cookie(app, {"her": token}), path="/h5")
    return token


def register(api: Api, his_id: str, n: int, *, phone: str = "13812345678", name: str = "王小红") -> int:
    """A woman registered through the HIS API; her patient id."""
    from carepath.store.models import Patient
    from tests.conftest import resident_id

    answer = api.post(
        "/api/v1/events",
        registration(his_id, f"reg-{his_id}", id_number=resident_id(n), phone=phone, name=name),
    )
    assert answer.status_code in (200, 201, 202), answer.get_json()
    app = api.client.application
    with app.extensions["carepath.db"].reading() as session:
        found = session.scalar(
            select(Patient.id).where(
                Patient.his_patient_id == his_id, Patient.hospital_id == api.key.hospital
            )
        )
    assert found is not None
    return int(found)


def csrf_of(page: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match, "no CSRF token in the form"
    return match.group(1)


def her_session(client: FlaskClient, app: Flask) -> dict[str, Any]:
    """What her cookie holds now (the app's signature checked)."""
    cookie = client.get_cookie(app.config["H5_SESSION_COOKIE_NAME"], path="/h5")
    assert cookie is not None
    with app.test_request_context("/h5/"):
        serializer = app.session_interface.get_signing_serializer(app)  # type: ignore[attr-defined]
        return dict(serializer.loads(cookie.value))
