"""The audit log viewer's pages on a large log (issue 21 item 6): keyset pages of 50 on
PostgreSQL with millions of rows, in this process (the store's ``audit_read.page``, its words and
its own audit row included; no HTTP).

Seeds ``--rows`` audit rows (default 2,000,000) over 400 days for one hospital: 200 staff, 50,000
women, a few integrators and the system, with the usual mix of actions; then times, ``--repeat``
times each: the first page, a page deep in the log (by the cursor of a row a year back), one
woman's entries, one member of staff's, a 7-day range, an action filter, and an export of
10,000 rows. Prints p50 and p95 in ms and the plan of the first page.

    .venv/bin/python bench/audit_log.py [--rows 2000000] [--repeat 20]

Needs the local PostgreSQL (CAREPATH_BENCH_DATABASE_URL or --database); a fresh schema is
created and dropped. Never part of the pass/fail test run. Figures: docs/audit-log.md.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import create_engine, text

from carepath.store import audit_read
from carepath.store.crypto import FieldCipher
from carepath.store.db import Database, upgrade
from carepath.store.scope import Actor
from tests.conftest import FIELD_KEYS, LOOKUP_KEY

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def seed(url: str, rows: int) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO hospitals (id, name, created_at) VALUES ('a', 'bench', now())"))
        conn.execute(
            text(
                "INSERT INTO staff (hospital_id, name, role, session_generation) "
                "SELECT 'a', '员工' || g, 'nurse', 0 FROM generate_series(1, 200) g"
            )
        )
        conn.execute(
            text(
                "INSERT INTO patients (hospital_id, his_patient_id, created_at) "
                "SELECT 'a', 'p-' || g, now() FROM generate_series(1, 50000) g"
            )
        )
        conn.execute(
            text(
                "INSERT INTO audit_log "
                "(hospital_id, actor, action, patient_id, detail, remote_addr, at, count) "
                "SELECT 'a', "
                "CASE WHEN g % 10 < 7 THEN 'staff:' || (1 + g % 200) "
                "WHEN g % 10 < 9 THEN 'integrator:' || (g % 3) "
                "ELSE 'scheduler:on-call' END, "
                "(ARRAY['read','list','change','read','export','login'])[1 + g % 6], "
                "CASE WHEN g % 10 = 9 THEN NULL ELSE 1 + (g::bigint * 7919) % 50000 END, "
                "'event e' || g || ' tag.added', '10.0.0.1', "
                "TIMESTAMPTZ '2026-12-07 12:00+00' - (g * (400 * 86400.0 / :rows)) * INTERVAL '1 second', 1 "
                "FROM generate_series(1, :rows) g"
            ),
            {"rows": rows},
        )
        conn.execute(text("ANALYZE audit_log"))
    engine.dispose()


def timed(work: Callable[[], object], repeat: int) -> tuple[float, float]:
    work()  # warm
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        work()
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    return statistics.median(samples), samples[max(0, int(len(samples) * 0.95) - 1)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--database", default=os.environ.get("CAREPATH_BENCH_DATABASE_URL", DEFAULT_URL))
    args = parser.parse_args()

    schema = f"bench_audit_{uuid.uuid4().hex[:8]}"
    admin = create_engine(args.database)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    url = f"{args.database}{'&' if '?' in args.database else '?'}options=-csearch_path%3D{schema}"
    try:
        upgrade(url)
        started = time.perf_counter()
        seed(url, args.rows)
        print(f"seeded {args.rows:,} rows in {time.perf_counter() - started:.0f} s")
        db = Database(url)
        cipher = FieldCipher.from_config(FIELD_KEYS, LOOKUP_KEY)
        me = Actor("a", "staff", "1")
        with db.reading() as session:
            deep = session.execute(
                text("SELECT at, id FROM audit_log WHERE at < :t ORDER BY at DESC, id DESC LIMIT 1"),
                {"t": NOW - timedelta(days=365)},
            ).one()
        cursor = f"{int(deep.at.timestamp() * 1_000_000)}-{deep.id}"
        cases: dict[str, Callable[[], object]] = {
            "first page": lambda: audit_read.page(db, cipher, me, audit_read.AuditFilter(), NOW),
            "a page a year back": lambda: audit_read.page(
                db, cipher, me, audit_read.AuditFilter(), NOW, cursor=cursor
            ),
            "one woman": lambda: audit_read.page(
                db, cipher, me, audit_read.AuditFilter(target="p-4242"), NOW
            ),
            "one member of staff": lambda: audit_read.page(
                db, cipher, me, audit_read.AuditFilter(who="staff:17"), NOW
            ),
            "7 days": lambda: audit_read.page(
                db, cipher, me, audit_read.AuditFilter(since=date(2026, 6, 1), until=date(2026, 6, 7)), NOW
            ),
            "action export": lambda: audit_read.page(
                db, cipher, me, audit_read.AuditFilter(action="export"), NOW
            ),
            "export 10,000 rows": lambda: sum(
                1
                for _ in zip(
                    range(10_001),
                    audit_read.export(db, cipher, me, audit_read.AuditFilter(), NOW),
                    strict=False,
                )
            ),
        }
        for name, work in cases.items():
            p50, p95 = timed(work, args.repeat if "export" not in name or "action" in name else 3)
            print(f"{name:>22}: p50 {p50:7.1f} ms  p95 {p95:7.1f} ms")
        with db.reading() as session:
            plan = session.execute(
                text(
                    "EXPLAIN ANALYZE SELECT * FROM audit_log WHERE hospital_id = 'a' "
                    "ORDER BY at DESC, id DESC LIMIT 51"
                )
            ).scalars()
            print("\n".join(plan))
        db.dispose()
    finally:
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


if __name__ == "__main__":
    main()
