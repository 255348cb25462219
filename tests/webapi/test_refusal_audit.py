"""Refusals answered at once and audited through the one audit writer (``store/audit.py``).

A refusal raised inside a view's open write transaction used to write its audit row in a
second transaction: on SQLite that waited 30 s for the view's own lock and ended in a 500.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from carepath.store.library_files import Shipped
from tests.conftest import ROOT
from tests.webapi.conftest import EditorStaff, shipped_copy

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
