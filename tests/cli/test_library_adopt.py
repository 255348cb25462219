"""`carepath library adopt --safety`: the shipped safety release reaches the women already
enrolled (issue 17 item 14), on SQLite and PostgreSQL (the ``app`` fixture's database)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from sqlalchemy import select

from carepath.cli import cli
from carepath.engine.catalogue import PATHWAYS_DIR
from carepath.store.release import load_release
from tests.conftest import FIELD_KEYS, LOOKUP_KEY, NOW
from tests.webapi.conftest import Api, registration

SHIPPED_CHECKUPS = (PATHWAYS_DIR / "checkup-schedule.yaml").read_text(encoding="utf-8")
#: The checkup schedule as it shipped before the release: the NT reminder stopped at 13+0.
OLD_CHECKUPS = SHIPPED_CHECKUPS.replace('gestational_age: {lt: "14+0"}', 'gestational_age: {lt: "13+0"}')


@pytest.fixture
def env(app: Flask, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("CAREPATH_DATABASE_URL", database_url)
    monkeypatch.setenv("CAREPATH_FIELD_KEYS", FIELD_KEYS)
    monkeypatch.setenv("CAREPATH_LOOKUP_KEY", LOOKUP_KEY)
    monkeypatch.setenv("CAREPATH_INSTANCE_PATH", str(tmp_path / "instance"))
    return database_url


def _enrolled_on_the_old_schedule(app: Flask, api: Api) -> str:
    """The old checkup schedule is the built-in one, and a woman registers on it."""
    from carepath.store import pathways

    assert OLD_CHECKUPS != SHIPPED_CHECKUPS
    with app.extensions["carepath.db"].transaction() as session:
        (row,) = pathways.publish(session, {"checkup-schedule.yaml": OLD_CHECKUPS}, NOW)
        old = row.version
    pathways.clear_cache()
    response = api.post("/api/v1/events", registration())
    assert response.status_code in (200, 201, 202), response.get_json()
    assert _versions(app) == {old}
    return old


def _versions(app: Flask) -> set[str]:
    from carepath.store.models import EnrolmentRecord

    with app.extensions["carepath.db"].reading() as session:
        return set(
            session.scalars(
                select(EnrolmentRecord.version).where(
                    EnrolmentRecord.hospital_id == "a",
                    EnrolmentRecord.pathway_id == "checkup-schedule",
                    EnrolmentRecord.ended_at.is_(None),
                )
            )
        )


def _audit(app: Flask) -> list[Any]:
    from carepath.store.models import AuditEntry

    with app.extensions["carepath.db"].reading() as session:
        return [e.detail for e in session.scalars(select(AuditEntry)) if "release" in (e.detail or "")]


def test_adopt_prints_the_impact_then_moves_the_enrolled_women(env: str, app: Flask, api: Api) -> None:
    old = _enrolled_on_the_old_schedule(app, api)
    runner = CliRunner()

    dry = runner.invoke(cli, ["library", "adopt", "--safety", "--hospital", "a", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    shipped_release = load_release()
    assert shipped_release is not None and shipped_release.safety
    assert f"release {shipped_release.version} (safety: yes)" in dry.stdout
    assert "checkup-schedule: 1 active enrolment(s) on an older version" in dry.stdout
    assert "pregnancies in care" in dry.stdout and "move (proposed)" in dry.stdout
    assert _versions(app) == {old}  # a dry run moves no one

    result = runner.invoke(cli, ["library", "adopt", "--safety", "--hospital", "a"])
    assert result.exit_code == 0, result.output
    (moved_line,) = [
        line for line in result.stdout.splitlines() if line.startswith("published checkup-schedule@")
    ]
    new = moved_line.split("@", 1)[1].split(" ", 1)[0]
    assert moved_line.endswith("moved 1 enrolment(s)") and new != old
    assert _versions(app) == {new}
    assert any("checkup-schedule@" in detail and "moved 1" in detail for detail in _audit(app))

    again = runner.invoke(cli, ["library", "adopt", "--safety", "--hospital", "a"])
    assert again.exit_code == 0, again.output
    assert "nothing to publish" in again.stdout and "published" not in again.stdout


def test_adopt_refuses_without_safety_and_for_an_unknown_hospital(env: str, app: Flask) -> None:
    runner = CliRunner()
    usage = runner.invoke(cli, ["library", "adopt", "--hospital", "a"])
    assert usage.exit_code == 2 and "--safety is required" in usage.output
    unknown = runner.invoke(cli, ["library", "adopt", "--safety", "--hospital", "nowhere"])
    assert unknown.exit_code == 1
    assert "error: unknown-hospital: no hospital 'nowhere'" in unknown.stderr


def test_a_hospital_copy_in_the_release_is_left_to_its_review(env: str, app: Flask) -> None:
    """The hospital has its own published checkup schedule: adopting never replaces it; the
    command says it waits for review and exits 3."""
    from carepath.store import drafting, publishing, reviewing
    from carepath.store.authoring import Editor
    from carepath.store.library_files import text_hash

    author = Editor(901, "a", "作者", frozenset({"content_author"}), frozenset({"pathway.edit"}))
    chief = Editor(
        902, "a", "审核", frozenset({"reviewer"}), frozenset({"pathway.review", "pathway.publish"})
    )
    with app.extensions["carepath.db"].transaction() as session:
        draft, _ = drafting.start_draft(session, author, "pathway", "checkup-schedule", now=NOW)
        drafting.save_draft(session, author, draft.id, OLD_CHECKUPS, draft.revision, now=NOW)
        drafting.submit(session, author, draft.id, now=NOW)
        reviewing.review(session, chief, draft.id, "approve", "ok", now=NOW)
        publishing.publish(session, chief, draft.id, now=NOW)
        # the hospital copied the text shipped before this release
        authoring_document = publishing.document_of(session, draft)
        authoring_document.upstream_hash = text_hash(OLD_CHECKUPS)
    result = CliRunner().invoke(cli, ["library", "adopt", "--safety", "--hospital", "a"])
    assert result.exit_code == 3, result.output
    assert "review needed: pathway checkup-schedule" in result.stderr
    assert "published checkup-schedule@" not in result.stdout
