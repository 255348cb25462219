"""A form named by the event, through the API (issue 16 item 3): a course's own exam is sent;
one that is not published opens a task for the school; the hospital's own published form counts."""

from __future__ import annotations

from typing import Any

from flask import Flask
from sqlalchemy import select

from carepath.store import pathways
from carepath.store.approvals import go_live
from carepath.store.models import DocumentVersion, LibraryDocument, OutboxRow, StaffTask
from tests.conftest import NOW
from tests.webapi.conftest import Api, registration

EXAMS = """
pathway: course-exams
title: 课程结业考试
rules:
  - id: exam
    on: {event: course.completed}
    do:
      - questionnaire: {form: {event_field: exam_form}, due: 7d}
"""


def _publish(app: Flask) -> None:
    with app.extensions["carepath.db"].transaction() as session:
        pathways.publish(session, {"course-exams.yaml": EXAMS}, NOW, hospital_id="a")
    pathways.clear_cache()


def completed(event_id: str, exam_form: str) -> dict[str, Any]:
    return {
        "id": event_id,
        "type": "course.completed",
        "occurred_at": "2026-07-10T14:40:00+08:00",
        "patient": {"his_id": "p-001"},
        "data": {"course_id": "birth-prep", "title": "分娩准备", "exam_form": exam_form},
    }


def _own_form(app: Flask, name: str) -> None:
    """A form the hospital wrote and published itself (only its name matters here)."""
    with app.extensions["carepath.db"].transaction() as session:
        document = LibraryDocument(hospital_id="a", kind="form", name=name, created_at=NOW)
        session.add(document)
        session.flush()
        session.add(
            DocumentVersion(
                hospital_id="a",
                document_id=document.id,
                number=1,
                status="published",
                origin="edit",
                source="form: " + name,
                source_hash="0" * 64,
                revision=1,
                author_id=1,
                author_name="school",
                saved_by_id=1,
                saved_by_name="school",
                saved_at=NOW,
                published_at=NOW,
                created_at=NOW,
            )
        )


def test_the_exam_the_event_names_is_sent_and_an_unknown_one_is_a_task_for_the_school(
    api: Api, app: Flask
) -> None:
    _publish(app)
    assert api.post("/api/v1/events", registration()).status_code == 201
    assert api.post("/api/v1/events", completed("c-1", "course-exam")).status_code == 201
    assert api.post("/api/v1/events", completed("c-2", "prep-exam")).status_code == 201
    _own_form(app, "prep-exam")
    assert api.post("/api/v1/events", completed("c-3", "prep-exam")).status_code == 201
    with app.extensions["carepath.db"].reading() as session:
        rows = {
            row.dedupe_key.split("/")[3]: row
            for row in session.scalars(select(OutboxRow).where(OutboxRow.rule_id == "exam"))
        }
        tasks = list(session.scalars(select(StaffTask)))
        unapproved = go_live(session, "a")  # the rule names no form of its own to approve
    assert all("event_field" not in item.name for item in unapproved), unapproved
    assert (rows["c-1"].kind, rows["c-1"].params["form"]) == ("questionnaire", "course-exam")
    assert (rows["c-3"].kind, rows["c-3"].params["form"]) == ("questionnaire", "prep-exam")
    assert rows["c-2"].kind == "task"
    (task,) = [t for t in tasks if t.dedupe_key == rows["c-2"].dedupe_key]
    assert (task.assign, task.priority) == ("school", "high")
    assert task.script is not None and "prep-exam" in task.script and "unknown-form" in task.script
