"""Reachable 500s of issue 14 (item 7): NUL and lone surrogates in any text, a timestamp of
non-ASCII digits. Each is a 4xx problem with a stable code on SQLite and PostgreSQL, and
writes nothing. (PostgreSQL refused the NUL inside the query: a 500; a lone surrogate cannot
be encoded for either database.)"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from tests.store.test_tasks import add_staff, previa_task
from tests.webapi.conftest import (
    PASSWORD,
    Api,
    EditorStaff,
    counts,
    diagnosis,
    make_staff,
    registration,
    shipped_copy,
)
from tests.webapi.fhir_bundles import bundle, patient
from tests.webapi.test_editor_api import DRAFT, GDM
from tests.webapi.test_responses import epds

#: Text no database keeps: NUL (PostgreSQL refuses it) and a lone surrogate (UTF-8 cannot hold it).
BAD = {"nul": "王\u0000芳", "surrogate": "王\ud800芳"}


def _raw(payload: Any) -> bytes:
    """JSON with escapes (``\\u0000``, ``\\ud800``): how a client sends them."""
    return json.dumps(payload, ensure_ascii=True).encode("ascii")


def _bad_text(response: Any, path: str) -> None:
    assert response.status_code == 422, (response.status_code, response.get_data(as_text=True)[:300])
    problem = response.get_json()
    assert problem["code"] == "bad-text"
    assert problem["errors"][0]["path"] == path


def _registered_event(api: Api, body: dict[str, Any], path: str = "/api/v1/events") -> Any:
    return api.post(path, raw=_raw(body))


def _with(event: dict[str, Any], text: str, *keys: str) -> dict[str, Any]:
    node = event
    for key in keys[:-1]:
        node = node[key]
    node[keys[-1]] = text
    return event


#: (what, how to send it with the bad text, the path the problem names)
SIGNED: dict[str, tuple[Callable[[Api, str], Any], str]] = {
    "her name in a registration": (
        lambda api, t: _registered_event(api, _with(registration(), t, "patient", "name")),
        "patient.name",
    ),
    "a diagnosis name": (
        lambda api, t: _registered_event(api, _with(diagnosis(), t, "data", "name")),
        "data.name",
    ),
    "a key of the data": (
        lambda api, t: _registered_event(api, {**diagnosis(), "data": {t: "x", "code": "O24.401"}}),
        "data",
    ),
    "an event of a batch": (
        lambda api, t: _registered_event(
            api, {"events": [_with(diagnosis(), t, "data", "name")]}, "/api/v1/events:batch"
        ),
        "events.0.data.name",
    ),
    "a text answer of a response": (
        lambda api, t: _registered_event(api, epds(answers={"q1": t}), "/api/v1/responses"),
        "answers.q1",
    ),
    "a consent's notice version": (
        lambda api, t: _registered_event(
            api,
            {
                "his_id": "p-001",
                "channel": "*",
                "topic": "health-information",
                "notice_version": t,
                "source": "paper",
            },
            "/api/v1/consents",
        ),
        "notice_version",
    ),
    "a FHIR Patient's name": (
        lambda api, t: _registered_event(
            api, bundle({**patient(), "name": [{"family": t}]}, kind="collection"), "/fhir/r4/"
        ),
        "entry.0.resource.name.0.family",
    ),
}


@pytest.mark.parametrize("kind", sorted(BAD))
@pytest.mark.parametrize("case", sorted(SIGNED))
def test_bad_text_in_a_signed_body_is_a_422(api: Api, app: Flask, case: str, kind: str) -> None:
    assert api.post("/api/v1/events", registration()).status_code == 201
    before = counts(app)
    send, path = SIGNED[case]
    response = send(api, BAD[kind])
    if case.startswith("a FHIR"):  # the FHIR intake answers an OperationOutcome
        assert response.status_code == 422, response.get_data(as_text=True)[:300]
        issue = response.get_json()["issue"][0]
        assert issue["details"]["coding"][0]["code"] == "bad-text"
    else:
        _bad_text(response, path)
    assert counts(app) == before


@pytest.mark.parametrize("kind", sorted(BAD))
def test_bad_text_in_a_search_body_is_a_422(api: Api, app: Flask, kind: str) -> None:
    nurse = add_staff(app, "a", role="nurse")
    body = _raw({"his_id": BAD[kind]})
    response = api.post("/api/v1/pregnancies/search", raw=body, **{"X-Carepath-Staff": nurse.id})
    _bad_text(response, "his_id")


@pytest.mark.parametrize("kind", sorted(BAD))
def test_bad_text_in_a_task_outcome_is_a_422(api: Api, app: Flask, kind: str) -> None:
    previa_task(api)
    doctor = add_staff(app, "a")
    response = api.post(
        "/api/v1/tasks/1/outcome", raw=_raw({"outcome": BAD[kind]}), **{"X-Carepath-Staff": doctor.id}
    )
    _bad_text(response, "outcome")


def test_nul_in_a_query_string_is_a_422(api: Api, app: Flask) -> None:
    nurse = add_staff(app, "a", role="nurse")
    response = api.get("/api/v1/tasks?pregnancy=%00", **{"X-Carepath-Staff": nurse.id})
    _bad_text(response, "query.pregnancy")


def test_an_unsigned_request_with_nul_is_refused_as_unsigned(api: Api) -> None:
    """Authentication answers first: without its signature a request is a 401 whatever its
    text (the fuzz test's unsigned probes found a 422 here), and nothing reads the NUL."""
    response = api.client.delete("/api/v1/bindings?his_id=%00", headers={"X-Carepath-Signature": "x"})
    assert response.status_code == 401, response.get_json()
    assert api.client.post("/fhir/r4/?x=%00", data=b"{}").status_code == 401


def test_nul_in_a_path_is_a_422(api: Api, app: Flask) -> None:
    nurse = add_staff(app, "a", role="nurse")
    # signed as the server reads the path (decoded), so that the request passes authentication
    headers = api.headers(
        "GET", "/api/v1/pregnancies/p\u0000/timeline", b"", **{"X-Carepath-Staff": nurse.id}
    )
    response = api.client.get("/api/v1/pregnancies/p%00/timeline", headers=headers)
    _bad_text(response, "path.pregnancy_id")


def test_nul_in_a_staff_form_is_a_422(app: Flask, browser: Any) -> None:
    make_staff(app, "admin", "admin")
    assert browser.login("admin").status_code in (302, 303)
    form = {
        "username": "wang.li",
        "name": "王\u0000丽",
        "job": "护士",
        "roles": "nurse",
        "password": PASSWORD,
    }
    response = browser.post("/admin/staff/new", form, token_from="/admin/staff/new")
    _bad_text(response, "form.name")


@pytest.mark.parametrize("kind", sorted(BAD))
def test_bad_text_in_an_editor_draft_is_a_422(app: Flask, tmp_path: Path, kind: str) -> None:
    shipped_copy(app, tmp_path, {"gdm-example": GDM})
    author = EditorStaff(app, "author", "content_author")
    draft = author.call("POST", DRAFT).get_json()
    response = author.browser.client.put(
        f"/editor/api/versions/{draft['id']}/source",
        data=_raw({"source": GDM + "# " + BAD[kind], "base_revision": draft["revision"]}),
        headers={"X-CSRFToken": author.token, "Content-Type": "application/json"},
    )
    _bad_text(response, "source")
    assert (
        author.call("GET", f"/editor/api/versions/{draft['id']}").get_json()["revision"] == draft["revision"]
    )


@pytest.mark.parametrize("timestamp", ["²²²", "¹²³", "1767225600²"])
def test_a_timestamp_of_non_ascii_digits_is_a_401(api: Api, timestamp: str) -> None:
    """``'²'.isdigit()`` is true and ``int('²')`` fails: it was a 500 before authentication."""
    body = json.dumps(diagnosis()).encode()
    headers = api.headers("POST", "/api/v1/events", body)
    headers["X-Carepath-Timestamp"] = timestamp  # Latin-1 bytes B2 B2 B2, as a WSGI server decodes them
    response = api.client.post("/api/v1/events", data=body, headers=headers)
    assert response.status_code == 401
    assert response.get_json()["code"] == "auth-bad-timestamp"


def test_non_ascii_hashes_and_signatures_are_a_401(api: Api) -> None:
    body = json.dumps(diagnosis()).encode()
    for header in ("X-Carepath-Content-SHA256", "X-Carepath-Signature"):
        headers = api.headers("POST", "/api/v1/events", body)
        headers[header] = "é" * 64
        response = api.client.post("/api/v1/events", data=body, headers=headers)
        assert response.status_code == 401, (header, response.status_code)
