from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from carepath.store.library_files import Shipped
from tests.conftest import FIELD_KEYS, LOOKUP_KEY, NOW, ROOT, BuiltApp, Clock, empty_tables  # noqa: F401 (tests import the keys from here)


@dataclass
class Integrator:
    key_id: str
    secret: str
    hospital: str


@dataclass
class Api:
    """A signed client for one integrator."""

    client: FlaskClient
    key: Integrator
    clock: Clock

    def headers(self, method: str, path: str, body: bytes, **override: str) -> dict[str, str]:
        """Signed headers; an ``X-Carepath-Staff`` among ``override`` is signed (the seventh line)."""
        from carepath.signing import STAFF_HEADER
        from carepath.webapi.auth import sign

        headers = sign(
            self.key.secret,
            method,
            path,
            timestamp=str(int(self.clock.now.timestamp())),
            key_id=self.key.key_id,
            body=body,
            staff=override.get(STAFF_HEADER),
        )
        headers["Content-Type"] = "application/json"
        headers.update(override)
        return headers

    def post(self, path: str, payload: Any = None, *, raw: bytes | None = None, **override: str) -> Any:
        body = raw if raw is not None else json.dumps(payload, ensure_ascii=False).encode("utf-8")
        return self.client.post(path, data=body, headers=self.headers("POST", path, body, **override))

    def get(self, path: str, **override: str) -> Any:
        return self.client.get(path, headers=self.headers("GET", path, b"", **override))


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.fixture
def app(built_app: BuiltApp, clock: Clock) -> Iterator[Flask]:
    """The app as create_app makes it, its database empty but for the published examples and
    hospitals a and b, its clock the test's ``clock``. The app is built once per database
    (``built_app``: its Flask setup took longer than most tests) and made new for each test:
    create_app's config (tests set EDITOR_SHIPPED, CHANNELS_CONFIG...) and extensions (a test's
    nonce store, the channels a callback or a sign-in read, a scheduler's status) are put back,
    and the state create_app made (the database's engine and the nonce store, which keeps when
    it last purged) is made again. A test that needs another configuration calls create_app."""
    from carepath.store import demo, tenants
    from carepath.store.db import Database
    from carepath.webapi.auth import replay

    app = built_app.app
    app.config["CLOCK"] = clock
    database = app.extensions["carepath.db"] = Database(app.config["DATABASE_URL"])
    replay.init_app(app)
    empty_tables(database)
    demo.publish_examples(database, ROOT / "examples" / "pathways", NOW)
    with database.transaction() as session:
        for hospital in ("a", "b"):
            tenants.ensure_hospital(session, hospital, f"hospital {hospital}", NOW)
    yield app
    database.dispose()
    app.config.clear()
    app.config.update(copy.deepcopy(built_app.config))
    app.extensions.clear()
    app.extensions.update(built_app.extensions)


def _key(app: Flask, hospital: str) -> Integrator:
    from carepath.store import tenants

    with app.extensions["carepath.db"].transaction() as session:
        key = tenants.create_api_key(session, app.extensions["carepath.cipher"], hospital, "his", NOW)
    return Integrator(key.key_id, key.secret, hospital)


@pytest.fixture
def api(app: Flask, clock: Clock) -> Api:
    return Api(app.test_client(), _key(app, "a"), clock)


@pytest.fixture
def api_b(app: Flask, clock: Clock) -> Api:
    return Api(app.test_client(), _key(app, "b"), clock)


def registration(his_id: str = "p-001", event_id: str = "reg-001", **patient: str) -> dict[str, Any]:
    return {
        "id": event_id,
        "type": "patient.registered",
        "occurred_at": "2026-07-10T14:00:00+08:00",
        "patient": {"his_id": his_id, "id_number": "33010219900412180X", "phone": "13812345678", **patient},
        "data": {
            "lmp": "2026-01-05",
            "birth_date": "1990-04-12",
            "gravida": 1,
            "para": 0,
            "enrolled_at": "2026-07-10T14:00:00+08:00",
        },
    }


def diagnosis(his_id: str = "p-001", event_id: str = "dx-001", code: str = "O24.401") -> dict[str, Any]:
    return {
        "id": event_id,
        "type": "diagnosis.added",
        "occurred_at": "2026-07-10T14:30:00+08:00",
        "patient": {"his_id": his_id},
        "data": {"code": code, "name": "妊娠期糖尿病"},
    }


def counts(app: Flask) -> dict[str, int]:
    from sqlalchemy import func, select

    from carepath.store import models

    tables = {
        "events": models.EventRecord,
        "patients": models.Patient,
        "pregnancies": models.Pregnancy,
        "outbox": models.OutboxRow,
        "tags": models.TagLog,
        "tasks": models.StaffTask,
        "enrolments": models.EnrolmentRecord,
    }
    with app.extensions["carepath.db"].reading() as session:
        return {name: session.scalar(select(func.count()).select_from(m)) or 0 for name, m in tables.items()}


# --- staff logins ------------------------------------------------------------------------------

PASSWORD = "correct horse battery"  # test-only


class StaffBrowser:
    """A test client that behaves like a browser: takes the CSRF token from the page it got."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client

    def csrf(self, path: str = "/login") -> str:
        import re

        page = self.client.get(path).get_data(as_text=True)
        match = re.search(r'<meta name="csrf-token" content="([^"]+)"', page)
        assert match, f"no CSRF token on {path}"
        return match.group(1)

    def post(self, path: str, data: dict[str, Any], *, token_from: str | None = None) -> Any:
        form = {"csrf_token": self.csrf(token_from or path), **data}
        return self.client.post(path, data=form)

    def login(self, username: str, password: str = PASSWORD) -> Any:
        return self.post("/login", {"username": username, "password": password})

    def logout(self) -> Any:
        return self.post("/logout", {}, token_from="/")


def make_staff(app: Flask, username: str, *roles: str, hospital: str = "a", password: str = PASSWORD) -> int:
    from carepath.store import accounts

    created = accounts.create_account(
        app.extensions["carepath.db"], hospital, username, password, list(roles), now=NOW, profile="test"
    )
    return created.id


@pytest.fixture
def browser(app: Flask) -> StaffBrowser:
    return StaffBrowser(app.test_client())


def shipped_copy(app: Flask, tmp_path: Path, pathways: dict[str, str]) -> Shipped:
    """A shipped library the test may change: ``pathways`` (file stem -> YAML) and copies of
    the real content items and forms; the app's editor uses it (``EDITOR_SHIPPED``)."""
    import shutil

    from carepath.engine.content import CONTENT_DIRECTORY
    from carepath.engine.forms import FORMS_DIRECTORY

    (tmp_path / "pathways").mkdir()
    for stem, source in pathways.items():
        (tmp_path / "pathways" / f"{stem}.yaml").write_text(source, encoding="utf-8")
    shutil.copytree(CONTENT_DIRECTORY, tmp_path / "content")
    shutil.copytree(FORMS_DIRECTORY, tmp_path / "forms")
    found = Shipped(
        {"pathway": tmp_path / "pathways", "content": tmp_path / "content", "form": tmp_path / "forms"}
    )
    app.config["EDITOR_SHIPPED"] = found
    return found


class EditorStaff:
    """A logged-in staff member calling the editor's JSON API like the editor page does."""

    def __init__(self, app: Flask, username: str, *roles: str, hospital: str = "a") -> None:
        make_staff(app, username, *roles, hospital=hospital)
        self.browser = StaffBrowser(app.test_client())
        assert self.browser.login(username).status_code in (302, 303)
        self.token = self.browser.csrf("/")

    def call(self, method: str, path: str, payload: Any = None, *, csrf: bool = True) -> Any:
        headers = {"X-CSRFToken": self.token} if csrf else {}
        return self.browser.client.open(path, method=method, json=payload, headers=headers)

    def get(self, path: str, **args: str) -> Any:
        return self.browser.client.get(path, query_string=args)

    def page(self, path: str) -> str:
        response = self.browser.client.get(path)
        assert response.status_code == 200, response.status_code
        return str(response.get_data(as_text=True))

    def form(self, path: str, data: dict[str, str], *, page: str) -> Any:
        return self.browser.post(path, data, token_from=page)
