"""Refusals answered at once and audited through the one audit writer (``store/audit.py``).

A refusal raised inside a view's open write transaction used to write its audit row in a
second transaction: on SQLite that waited 30 s for the view's own lock and ended in a 500.
"""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from carepath.store.library_files import Shipped
from tests.conftest import NOW, ROOT
from tests.store.test_tasks import add_staff, previa_task
from tests.webapi.conftest import Api, EditorStaff, registration, shipped_copy

GDM = (ROOT / "examples" / "pathways" / "gdm.yaml").read_text(encoding="utf-8")
DRAFT = "/editor/api/documents/pathway/gdm-example/draft"
#: A bound on how long a refusal may take, far above its real cost and far below SQLite's
#: 30-second lock wait: a bound, not a measurement.
ANSWER_WITHIN_SECONDS = 10


@pytest.fixture
def shipped(app: Flask, tmp_path: Path) -> Shipped:
    return shipped_copy(app, tmp_path, {"gdm-example": GDM})


@pytest.fixture
def draft(app: Flask, shipped: Shipped) -> dict[str, Any]:
    author = EditorStaff(app, "author", "content_author")
    opened = author.call("POST", DRAFT)
    assert opened.status_code == 201, opened.get_json()
    return dict(opened.get_json())


def refusals(app: Flask) -> list[tuple[str, str]]:
    from carepath.store.models import AuditEntry

    with app.extensions["carepath.db"].reading() as session:
        rows = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "refused").order_by(AuditEntry.id)
        )
        return [(row.actor, row.detail) for row in rows]


def bounded(call: Any) -> Any:
    """``call()`` in a thread; its answer, or a failure when it takes longer than the bound."""
    answers: list[Any] = []
    worker = threading.Thread(target=lambda: answers.append(call()), daemon=True)
    worker.start()
    worker.join(ANSWER_WITHIN_SECONDS)
    assert answers, f"no answer within {ANSWER_WITHIN_SECONDS} s: the refusal waited on a lock"
    return answers[0]


@pytest.mark.parametrize(
    ("method", "suffix", "payload"),
    [
        ("PUT", "source", {"source": GDM, "base_revision": 1}),
        ("POST", "submit", {}),
        ("POST", "withdraw", None),
    ],
)
def test_a_nurse_changing_a_draft_is_refused_at_once_and_audited(
    app: Flask, draft: dict[str, Any], method: str, suffix: str, payload: Any
) -> None:
    nurse = EditorStaff(app, "nurse", "nurse")
    path = f"/editor/api/versions/{draft['id']}/{suffix}"
    answer = bounded(lambda: nurse.call(method, path, payload))
    assert answer.status_code == 403, answer.get_data(as_text=True)
    assert answer.get_json()["code"] == "permission-denied"
    assert answer.get_json()["permission"] == "pathway.edit"
    [(actor, detail)] = refusals(app)
    assert actor.startswith("staff:") and detail == f"pathway.edit needed for {path}"


def test_the_database_is_free_for_the_next_writer_after_a_refusal(app: Flask, draft: dict[str, Any]) -> None:
    """The refused request holds no lock once answered: the author saves straight after."""
    nurse = EditorStaff(app, "nurse", "nurse")
    path = f"/editor/api/versions/{draft['id']}/source"
    assert bounded(lambda: nurse.call("PUT", path, {"source": GDM, "base_revision": 1})).status_code == 403
    author = EditorStaff(app, "author2", "content_author")
    saved = bounded(lambda: author.call("PUT", path, {"source": GDM, "base_revision": draft["revision"]}))
    assert saved.status_code == 200, saved.get_json()


# --- item 9: another hospital's ids are refused as missing ones, and counted ----------------


def not_found_rows(app: Flask) -> list[tuple[str, str, str, int, str]]:
    from carepath.store.models import AuditEntry

    with app.extensions["carepath.db"].reading() as session:
        rows = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "not-found").order_by(AuditEntry.id)
        )
        return [(r.hospital_id, r.actor, r.detail, r.count, r.at.isoformat()) for r in rows]


def register_in_a(api: Api) -> str:
    answer = api.post("/api/v1/events", registration())
    assert answer.status_code == 201, answer.get_json()
    return str(answer.get_json()["pregnancy"])


def test_an_integrator_asking_for_another_hospitals_pregnancy_is_counted_per_minute(
    app: Flask, api: Api, api_b: Api
) -> None:
    pregnancy = register_in_a(api)
    path = f"/api/v1/pregnancies/{pregnancy}/inbox"
    for _ in range(2):
        answer = api_b.get(path)
        assert answer.status_code == 404 and answer.get_json()["code"] == "pregnancy-not-found"
    [(hospital, actor, detail, count, at)] = not_found_rows(app)
    assert (hospital, actor, count, at) == ("b", f"integrator:{integrator_id(app, 'b')}", 2, NOW.isoformat())
    assert detail == f"no pregnancy visible: GET {path}"
    api_b.clock.now = NOW + timedelta(seconds=59)  # the same minute still
    assert api_b.get(path).status_code == 404
    assert [row[3] for row in not_found_rows(app)] == [3]
    api_b.clock.now = NOW + timedelta(minutes=1)  # the next minute: a new row
    assert api_b.get(path).status_code == 404
    assert [row[3] for row in not_found_rows(app)] == [3, 1]


def test_staff_of_another_hospital_reading_her_timeline_is_counted(app: Flask, api: Api, api_b: Api) -> None:
    pregnancy = register_in_a(api)
    nurse_b = add_staff(app, "b", role="nurse")
    path = f"/api/v1/pregnancies/{pregnancy}/timeline"
    for _ in range(2):
        answer = api_b.get(path, **{"X-Carepath-Staff": nurse_b.id})
        assert answer.status_code == 404 and answer.get_json()["code"] == "pregnancy-not-found"
    assert [(h, a, c) for h, a, _, c, _ in not_found_rows(app)] == [("b", nurse_b.label, 2)]
    api_b.clock.now = NOW + timedelta(minutes=1)
    assert api_b.get(path, **{"X-Carepath-Staff": nurse_b.id}).status_code == 404
    assert [(a, c) for _, a, _, c, _ in not_found_rows(app)] == [(nurse_b.label, 2), (nurse_b.label, 1)]


def test_another_hospitals_id_answers_exactly_as_a_missing_one(app: Flask, api: Api, api_b: Api) -> None:
    """The 404 says nothing about whether the id exists elsewhere: same status, same body
    (the asked id aside), same audit row, for each scoped read."""
    doctor_a = add_staff(app, "a")
    previa_task(api)
    [listed] = api.get("/api/v1/tasks", **{"X-Carepath-Staff": doctor_a.id}).get_json()
    task, pregnancy = listed["id"], listed["pregnancy"]
    patient = api.get("/api/v1/patients").get_json()[0]["id"]
    nurse_b = add_staff(app, "b", role="nurse")
    as_b = {"X-Carepath-Staff": nurse_b.id}
    templates = [
        ("GET", "/api/v1/pregnancies/{}/timeline", pregnancy, "zz-missing", as_b),
        ("GET", "/api/v1/pregnancies/{}/inbox", pregnancy, "zz-missing", {}),
        ("GET", "/api/v1/tasks/{}", str(task), "987654321", as_b),
        ("POST", "/api/v1/tasks/{}/claim", str(task), "987654321", as_b),
        ("GET", "/api/v1/patients/{}", str(patient), "987654321", {}),
    ]
    for method, template, theirs, missing, headers in templates:
        answers = []
        for target in (theirs, missing):
            path = template.format(target)
            answer = api_b.get(path, **headers) if method == "GET" else api_b.post(path, raw=b"", **headers)
            assert answer.status_code == 404, (path, answer.get_json())
            answers.append(answer.get_data(as_text=True).replace(target, "<id>"))
        assert answers[0] == answers[1], template
    counted = {(actor, detail.split(":")[0]): count for _, actor, detail, count, _ in not_found_rows(app)}
    assert counted == {
        (nurse_b.label, "no pregnancy visible"): 2,
        (f"integrator:{integrator_id(app, 'b')}", "no pregnancy visible"): 2,
        (nurse_b.label, "no task visible"): 4,
        (f"integrator:{integrator_id(app, 'b')}", "no patient visible"): 2,
    }


def integrator_id(app: Flask, hospital: str) -> str:
    from carepath.store.models import Integrator

    with app.extensions["carepath.db"].reading() as session:
        return str(session.scalar(select(Integrator.id).where(Integrator.hospital_id == hospital)))


def test_the_other_refusals_go_through_the_same_writer(
    app: Flask, api: Api, api_b: Api, draft: dict[str, Any]
) -> None:
    """An authoring rule's 403, a key naming another hospital's staff member, and another
    hospital's version or staff id (counted as not found) are audited like a permission."""
    both = EditorStaff(app, "both", "content_author", "reviewer")
    mine = both.call("POST", "/editor/api/documents/form/epds/draft").get_json()
    assert both.call("POST", f"/editor/api/versions/{mine['id']}/submit", {}).status_code == 200
    own = bounded(
        lambda: both.call("POST", f"/editor/api/versions/{mine['id']}/reviews", {"decision": "approve"})
    )
    assert own.status_code == 403 and own.get_json()["code"] == "own-change"
    doctor_a = add_staff(app, "a")
    impostor = api_b.get("/api/v1/tasks", **{"X-Carepath-Staff": doctor_a.id})
    assert impostor.status_code == 403 and impostor.get_json()["code"] == "unknown-staff"
    reviewer_b = EditorStaff(app, "b-admin", "reviewer", "admin", hospital="b")
    assert reviewer_b.call("GET", f"/editor/api/versions/{draft['id']}").status_code == 404
    assert reviewer_b.browser.client.get(f"/editor/review/{draft['id']}").status_code == 404
    assert reviewer_b.browser.client.get(f"/admin/staff/{doctor_a.id}").status_code == 404
    details = [detail.split(":")[0] for _, detail in refusals(app)]
    assert details == [
        "own-change for /editor/api/versions/{}/reviews".format(mine["id"]),
        "unknown-staff for /api/v1/tasks",
    ]
    assert refusals(app)[1][0] == f"integrator:{integrator_id(app, 'b')}"
    counted = [(detail.split(":")[0], count) for _, _, detail, count, _ in not_found_rows(app)]
    assert counted == [("no document visible", 2), ("no staff visible", 1)]
