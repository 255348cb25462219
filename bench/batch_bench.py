"""Batch actions benchmark (issue 21 item 4): a batch push of an approved content item to 20k
women enqueued on PostgreSQL. Target: ≤ 10 s from the confirmation to the last outbox row.

The hospital is ``bench/workspace_seed.py``'s (its women copied in the database with
``INSERT … SELECT``), seeded here with ``--women`` pregnancies; a reviewer approves one content
item; a doctor's batch (filter: pregnant) is checked (the confirm screen's counts), started and
run page by page by ``cohort_batches.run`` — the code the page's background thread runs. Then a
second batch of the same item runs, every woman skipped (she has that version already).

Prints each step's time and the load average before and after.

    .venv/bin/python bench/batch_bench.py [--women 20000]

Needs the local PostgreSQL (CAREPATH_BENCH_DATABASE_URL or --database); a fresh database is
created and dropped. Never part of the pass/fail test run. Figures: docs/batch-actions.md.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from sqlalchemy import create_engine, func, make_url, select, text  # noqa: E402
from workspace_seed import HOSPITAL, seed  # noqa: E402

from carepath.store import cohort_batch_runs, cohort_batches, drafting, publishing, reviewing  # noqa: E402
from carepath.store.authoring import Editor  # noqa: E402
from carepath.store.crypto import FieldCipher, new_key  # noqa: E402
from carepath.store.db import Database  # noqa: E402
from carepath.store.models import OutboxRow  # noqa: E402
from carepath.store.scope import Actor  # noqa: E402

CONTENT = "gdm-welcome"


def load() -> str:
    return Path("/proc/loadavg").read_text().strip()


def approve(db: Database, name: str, now: datetime) -> None:
    author = Editor(901, HOSPITAL, "基准作者", frozenset({"content_author"}), frozenset({"content.edit"}))
    reviewer = Editor(902, HOSPITAL, "基准审核", frozenset({"reviewer"}), frozenset({"content.review"}))
    with db.transaction() as session:
        draft, _ = drafting.start_draft(session, author, "content", name, now=now)
        drafting.submit(session, author, draft.id, now=now)
        reviewing.review(session, reviewer, draft.id, "approve", "基准", now=now)
        publishing.publish(session, reviewer, draft.id, now=now)


def timed(label: str, work: object) -> object:
    began = time.perf_counter()
    result = work()  # type: ignore[operator]
    print(f"{label}: {time.perf_counter() - began:.2f} s")
    return result


def bench(url: str, women: int) -> None:
    cipher = FieldCipher.from_config("k1:" + new_key(), new_key())
    now = datetime.now(UTC)
    seeded = seed(url, cipher, women, 100, now)
    db = Database(url)
    approve(db, CONTENT, now)
    doctor = Actor(HOSPITAL, "staff", str(seeded.members[0].staff_id), "127.0.0.1")
    query = cohort_batches.query_of({"status": "pregnant"})
    print(f"load before the batch: {load()}")
    plan = timed(
        "check (the confirm screen's counts)",
        lambda: cohort_batches.check(
            db, cipher, doctor, query, action="push", target=CONTENT, reason="基准", now=now
        ),
    )
    print(f"  {plan.total} women, {plan.already} have the item already")  # type: ignore[attr-defined]
    began = time.perf_counter()
    batch_id, _ = cohort_batches.start(
        db,
        cipher,
        doctor,
        query,
        action="push",
        target=CONTENT,
        reason="基准",
        request=uuid.uuid4().hex,
        confirmed_large=True,
        now=now,
    )
    state = cohort_batch_runs.run(db, cipher, batch_id, "bench", lambda: datetime.now(UTC))
    seconds = time.perf_counter() - began
    with db.reading() as session:
        rows = session.scalar(
            select(func.count()).select_from(OutboxRow).where(OutboxRow.dedupe_key.like("%/batch-%"))
        )
    print(
        f"batch push: {rows} women enqueued in {seconds:.2f} s (confirmation to the last page, "
        f"{cohort_batch_runs.PUSH_PAGE} a page; state {state}); load {load()}"
    )
    again, _ = cohort_batches.start(
        db,
        cipher,
        doctor,
        query,
        action="push",
        target=CONTENT,
        reason="基准",
        request=uuid.uuid4().hex,
        confirmed_large=True,
        now=now,
    )
    timed(
        "second batch of the same item (all skipped)",
        lambda: cohort_batch_runs.run(db, cipher, again, "bench", lambda: datetime.now(UTC)),
    )
    print(f"  {cohort_batches.progress(db, HOSPITAL, again)}; load {load()}")
    db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--women", type=int, default=20_000)
    parser.add_argument(
        "--database",
        default=os.environ.get(
            "CAREPATH_BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
        ),
    )
    args = parser.parse_args()
    # A database of its own, not a schema: the seed's VACUUM ANALYZE covers the whole database,
    # and on a shared one it deadlocked with other work (seen twice).
    name = f"batch_bench_{uuid.uuid4().hex[:8]}"
    base = make_url(args.database)
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
    try:
        print(f"load before seeding: {load()}")
        bench(base.set(database=name).render_as_string(hide_password=False), args.women)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE {name} WITH (FORCE)"))
        admin.dispose()


if __name__ == "__main__":
    main()
