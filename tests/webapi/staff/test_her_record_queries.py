"""Her record reads in a fixed number of queries, however long her history (no query per
timeline row: issue 20's ≤ 300 ms for a woman with a long history; timings are in bench/)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import Flask
from sqlalchemy import event

from carepath.store import her_record
from carepath.store.scope import Actor
from tests.conftest import NOW
from tests.webapi.conftest import Api
from tests.webapi.staff.record_seed import register


@contextmanager
def counted(app: Flask) -> Iterator[list[str]]:
    engine = app.extensions["carepath.db"].engine
    statements: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)


def _history(api: Api, n: int, start: int) -> None:
    for i in range(start, start + n):
        answer = api.post(
            "/api/v1/events",
            {
                "id": f"lab-{i}",
                "type": "lab.result",
                "occurred_at": "2026-07-10T15:00:00+08:00",
                "patient": {"his_id": "p-001"},
                "data": {"code": "hb", "value": 100 + i % 20},
            },
        )
        assert answer.status_code == 201
        tag = api.post(
            "/api/v1/events",
            {
                "id": f"tag-{i}",
                "type": "tag.added" if i % 2 == 0 else "tag.removed",
                "occurred_at": "2026-07-10T15:00:00+08:00",
                "patient": {"his_id": "p-001"},
                "data": {"tag": "重点随访"},
            },
        )
        assert tag.status_code == 201


def _read(app: Flask, pregnancy_id: str) -> tuple[int, dict[str, Any]]:
    actor = Actor("a", "staff", "1")
    with counted(app) as statements:
        record = her_record.her_record(
            app.extensions["carepath.db"], app.extensions["carepath.cipher"], actor, pregnancy_id, NOW
        )
    return len(statements), record


def test_her_record_takes_the_same_queries_for_a_short_and_a_long_history(app: Flask, api: Api) -> None:
    pregnancy_id = register(api)
    _history(api, 2, 0)
    _read(app, pregnancy_id)  # warm: the library's caches are per process
    short, record = _read(app, pregnancy_id)
    _history(api, 30, 2)
    long, longer = _read(app, pregnancy_id)
    assert len(longer["entries"]) > len(record["entries"]) + 50
    assert len(longer["labs"]) == 32 and len(longer["tag_log"]) >= 32
    assert long == short, f"{short} queries for a short history, {long} for a long one"
