"""Her inbox copies filed at registration use the hospital's published content through a
per-process cache (``store/recent.py``): a publish in another process is filed within
``pathways.RECHECK_SECONDS``, one in this process at once. The cache's clock is the test's."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from carepath.store import pathways, recent, registration
from carepath.store.models import InboxItem, OutboxRow
from tests.conftest import NOW, approve_item
from tests.store.test_registration import checked, register, tools


@pytest.fixture(autouse=True)
def shipped_library(app: Flask) -> None:
    from carepath.engine.catalogue import PATHWAYS_DIR
    from carepath.store import demo

    demo.publish_examples(app.extensions["carepath.db"], PATHWAYS_DIR, NOW)
    pathways.clear_cache()


class Seconds:
    """The cache's monotonic clock, moved by the test."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def seconds(monkeypatch: pytest.MonkeyPatch) -> Seconds:
    clock = Seconds()
    monkeypatch.setattr(recent.PUBLISHED, "clock", clock)
    return clock


def lesson(app: Flask, done: registration.Outcome) -> tuple[OutboxRow, InboxItem | None]:
    """Her week's lesson (week-18 for every test form) and its inbox copy, if filed."""
    assert isinstance(done, registration.Registered)
    db, _ = tools(app)
    with db.reading() as session:
        row = session.scalar(
            select(OutboxRow).where(
                OutboxRow.pregnancy_id == done.pregnancy_id, OutboxRow.pathway_id == "school-weekly"
            )
        )
        assert row is not None and row.params["content"] == "week-18"
        return row, session.get(InboxItem, row.inbox_item_id) if row.inbox_item_id else None


def approve_elsewhere(app: Flask, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A reviewer approves week-18 in another process: its publish cannot reach this one's cache."""
    with monkeypatch.context() as patched:
        patched.setattr(recent.PUBLISHED, "forget", lambda hospital_id=None: None)
        return approve_item(app.extensions["carepath.db"], "a", "content", "week-18")


def test_a_publish_in_another_process_is_filed_within_the_recheck_bound(
    app: Flask, seconds: Seconds, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = register(app, "tok-1", checked(1))  # drafts not allowed: week-18 is a shipped draft
    assert lesson(app, first)[1] is None  # the dispatcher holds it
    published = approve_elsewhere(app, monkeypatch)

    seconds.now += pathways.RECHECK_SECONDS - 1
    second = register(app, "tok-2", checked(2))
    assert lesson(app, second)[1] is None  # this process has not looked again yet

    seconds.now += 1  # RECHECK_SECONDS after it last looked
    third = register(app, "tok-3", checked(3))
    row, item = lesson(app, third)
    assert item is not None and row.content_version == published.source_hash  # the approved text


def test_a_publish_in_this_process_is_filed_at_once(app: Flask, seconds: Seconds) -> None:
    first = register(app, "tok-1", checked(1))
    assert lesson(app, first)[1] is None
    published = approve_item(app.extensions["carepath.db"], "a", "content", "week-18")
    second = register(app, "tok-2", checked(2))  # the cache's clock has not moved
    row, item = lesson(app, second)
    assert item is not None and row.content_version == published.source_hash


def test_a_retire_in_this_process_is_seen_at_once(app: Flask, seconds: Seconds) -> None:
    """Retiring the approved version makes week-18 the shipped draft again: held, not filed."""
    from carepath.store import publishing
    from carepath.store.authoring import Editor

    published = approve_item(app.extensions["carepath.db"], "a", "content", "week-18")
    first = register(app, "tok-1", checked(1))
    assert lesson(app, first)[1] is not None
    publisher = Editor(902, "a", "测试审核", frozenset({"reviewer"}), frozenset({"content.review"}))
    db, _ = tools(app)
    with db.transaction() as session:
        publishing.retire(session, publisher, published.id, now=NOW)
    second = register(app, "tok-2", checked(2))
    assert lesson(app, second)[1] is None
