"""Her record's read (``store/her_record.her_record``) for a woman with a long history, on
PostgreSQL: issue 20's target is ≤ 300 ms server time.

One woman gets ``--events`` HIS events (labs, tags on and off, diagnoses: each evaluated, so
her outbox, tag log and tasks grow with them), among ``--others`` women with a short history;
then her record is read warm ``--reads`` times. Prints the history's size, the statements one
read sends, and p50/p95/max of the read.

    .venv/bin/python bench/her_record.py [--events 2000] [--others 200] [--database postgresql+psycopg://...]

Needs the local PostgreSQL (CAREPATH_BENCH_DATABASE_URL or --database); a fresh schema is
created and dropped. Never part of the pass/fail test run.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, event, text  # noqa: E402

from carepath.store import demo, events, her_record, tenants  # noqa: E402
from carepath.store.crypto import FieldCipher  # noqa: E402
from carepath.store.db import Database, upgrade  # noqa: E402
from carepath.store.models import ApiKey  # noqa: E402
from carepath.store.scope import Actor  # noqa: E402
from tests.conftest import FIELD_KEYS, LOOKUP_KEY  # noqa: E402

NOW = datetime(2026, 7, 20, 2, 0, tzinfo=UTC)


def _registration(his_id: str, n: int) -> dict[str, Any]:
    return {
        "id": f"reg-{his_id}",
        "type": "patient.registered",
        "occurred_at": "2026-07-10T14:00:00+08:00",
        "patient": {"his_id": his_id, "phone": f"139{n:08d}", "name": "测试孕妇"},
        "data": {"lmp": "2026-01-05", "birth_date": "1984-04-12", "gravida": 1, "para": 0},
    }


def _history_event(his_id: str, i: int, start: datetime) -> dict[str, Any]:
    at = (start + timedelta(minutes=10 * i)).isoformat()
    her = {"his_id": his_id}
    kind = i % 4
    if kind == 0:
        return {
            "id": f"{his_id}-lab-{i}",
            "type": "lab.result",
            "occurred_at": at,
            "patient": her,
            "data": {"code": "hb", "value": 90 + i % 30},
        }
    if kind in (1, 2):
        return {
            "id": f"{his_id}-tag-{i}",
            "type": "tag.added" if kind == 1 else "tag.removed",
            "occurred_at": at,
            "patient": her,
            "data": {"tag": "妊娠期糖尿病"},
        }
    code = "O44.1" if i % 8 == 3 else "O34.2"
    return {
        "id": f"{his_id}-dx-{i}",
        "type": "diagnosis.added",
        "occurred_at": at,
        "patient": her,
        "data": {"code": code},
    }


def run(url: str, n_events: int, others: int, reads: int) -> None:
    upgrade(url)
    database = Database(url)
    cipher = FieldCipher.from_config(FIELD_KEYS, LOOKUP_KEY)
    demo.publish_examples(database, ROOT / "examples" / "pathways", NOW)
    with database.transaction() as session:
        tenants.ensure_hospital(session, "a", "hospital a", NOW)
        key = tenants.create_api_key(session, cipher, "a", "his", NOW)
    with database.reading() as session:
        integrator = session.get(ApiKey, key.key_id).integrator_id  # type: ignore[union-attr]
    actor = Actor("a", "integrator", str(integrator))
    start = datetime(2026, 7, 10, 7, 0, tzinfo=UTC)
    began = time.perf_counter()
    for n in range(others):
        events.post_event(database, cipher, actor, _registration(f"o-{n}", n), NOW)
        for i in range(10):
            events.post_event(database, cipher, actor, _history_event(f"o-{n}", i, start), NOW)
    answer = events.post_event(database, cipher, actor, _registration("her", 99_999), NOW)
    pregnancy_id = answer.body["pregnancy"]
    for i in range(n_events):
        events.post_event(database, cipher, actor, _history_event("her", i, start), NOW + timedelta(days=12))
    print(f"seeded in {time.perf_counter() - began:.0f} s")
    staff = Actor("a", "staff", "1")
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(args[2])

    her_record.her_record(database, cipher, staff, pregnancy_id, NOW + timedelta(days=12))  # warm caches
    event.listen(database.engine, "before_cursor_execute", count)
    record = her_record.her_record(database, cipher, staff, pregnancy_id, NOW + timedelta(days=12))
    counted = len(statements)
    event.remove(database.engine, "before_cursor_execute", count)
    timings = []
    if os.environ.get("BENCH_PROFILE"):  # where one read's time goes
        profile = cProfile.Profile()
        profile.runcall(
            her_record.her_record, database, cipher, staff, pregnancy_id, NOW + timedelta(days=12)
        )
        profile.print_stats("cumtime")
    for _ in range(reads):
        t0 = time.perf_counter()
        her_record.her_record(database, cipher, staff, pregnancy_id, NOW + timedelta(days=12))
        timings.append((time.perf_counter() - t0) * 1000)
    timings.sort()
    print(f"her history: {len(record['entries'])} timeline entries ({n_events} HIS events)")
    print(f"statements per read: {counted}")
    p95 = timings[int(0.95 * (len(timings) - 1))]
    print(f"read: p50 {statistics.median(timings):.0f} ms, p95 {p95:.0f} ms, max {timings[-1]:.0f} ms")
    database.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--others", type=int, default=200)
    parser.add_argument("--reads", type=int, default=30)
    parser.add_argument(
        "--database",
        default=os.environ.get(
            "CAREPATH_BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
        ),
    )
    args = parser.parse_args()
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(args.database, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    url = f"{args.database}{'&' if '?' in args.database else '?'}options=-csearch_path%3D{schema}"
    try:
        run(url, args.events, args.others, args.reads)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


if __name__ == "__main__":
    main()
