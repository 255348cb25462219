"""Publishing a pathway that moves every enrolled woman to it: how long the one transaction
takes for N pregnancies enrolled on the old version (state JSON rewritten under each row
lock, enrolment rows updated), and a publish where they stay pinned, for comparison.

    .venv/bin/python bench/publish.py [--pregnancies 10000] [--database postgresql+psycopg://...]

SQLite in a temp folder by default (CAREPATH_BENCH_DATABASE_URL or --database for
PostgreSQL: a fresh schema is created and dropped). Never part of the pass/fail test run.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, insert, text  # noqa: E402

from carepath.engine.facts import Facts  # noqa: E402
from carepath.engine.runtime import Enrolment, State  # noqa: E402
from carepath.store import authoring, drafting, pathways, publishing, reviewing, tenants  # noqa: E402
from carepath.store.db import Database, upgrade  # noqa: E402
from carepath.store.library_files import Shipped  # noqa: E402
from carepath.store.models import EnrolmentRecord, Patient, Pregnancy  # noqa: E402
from carepath.store.state_codec import dump_state  # noqa: E402

NOW = datetime(2026, 7, 10, 7, 0, tzinfo=UTC)
GDM = (ROOT / "examples" / "pathways" / "gdm.yaml").read_text(encoding="utf-8")
AUTHOR = authoring.Editor(1, "h", "author", frozenset({"content_author"}), frozenset({"pathway.edit"}))
REVIEWER = authoring.Editor(
    2, "h", "reviewer", frozenset({"reviewer"}), frozenset({"pathway.review", "pathway.publish"})
)


def _setup(db: Database, count: int, shipped_dir: Path) -> tuple[Shipped, str]:
    (shipped_dir / "pathways").mkdir()
    (shipped_dir / "pathways" / "gdm-example.yaml").write_text(GDM, encoding="utf-8")
    shipped = Shipped({"pathway": shipped_dir / "pathways", "content": shipped_dir, "form": shipped_dir})
    with db.transaction() as session:
        tenants.ensure_hospital(session, "h", "bench", NOW)
        old = pathways.publish(session, {"gdm.yaml": GDM}, NOW)[0].version
        session.execute(
            insert(Patient), [{"id": i + 1, "hospital_id": "h", "created_at": NOW} for i in range(count)]
        )
        rows, enrolments = [], []
        for i in range(count):
            pid = f"bench-{i}"
            enrolment = Enrolment(f"{pid}/gdm-example#1", "gdm-example", old, NOW)
            state = State(Facts(pid, NOW), (enrolment,), (), NOW)
            rows.append(
                {
                    "id": pid,
                    "hospital_id": "h",
                    "patient_id": i + 1,
                    "number": 1,
                    "status": "pregnant",
                    "state": dump_state(state),
                    "created_at": NOW,
                    "updated_at": NOW,
                }
            )
            enrolments.append(
                {
                    "id": enrolment.id,
                    "hospital_id": "h",
                    "pregnancy_id": pid,
                    "pathway_id": "gdm-example",
                    "version": old,
                    "started_at": NOW,
                    "reason": "audience",
                }
            )
        session.execute(insert(Pregnancy), rows)
        session.execute(insert(EnrolmentRecord), enrolments)
    return shipped, old


def _publish(db: Database, shipped: Shipped, source: str, migrate: bool) -> float:
    with db.transaction() as session:
        draft, _ = drafting.start_draft(session, AUTHOR, "pathway", "gdm-example", now=NOW, shipped=shipped)
        drafting.save_draft(session, AUTHOR, draft.id, source, draft.revision, now=NOW)
        drafting.submit(session, AUTHOR, draft.id, now=NOW)
        reviewing.review(session, REVIEWER, draft.id, "approve", "", now=NOW)
    started = time.perf_counter()
    with db.transaction() as session:
        publishing.publish(session, REVIEWER, draft.id, now=NOW, migrate=migrate)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pregnancies", type=int, default=10_000)
    parser.add_argument("--database", default=os.environ.get("CAREPATH_BENCH_DATABASE_URL"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url, schema, admin = args.database, None, None
        if url:
            schema = f"bench_{uuid.uuid4().hex[:8]}"
            admin = create_engine(url)
            with admin.begin() as conn:
                conn.execute(text(f"CREATE SCHEMA {schema}"))
            url = f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}"
        else:
            url = f"sqlite:///{Path(folder) / 'bench.db'}"
        upgrade(url)
        db = Database(url)
        try:
            shipped, _ = _setup(db, args.pregnancies, Path(folder))
            pinned = _publish(db, shipped, GDM.replace("due: 2d", "due: 3d"), migrate=False)
            moved = _publish(db, shipped, GDM.replace("due: 2d", "due: 4d"), migrate=True)
        finally:
            db.dispose()
            if admin is not None:
                with admin.begin() as conn:
                    conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
                admin.dispose()
    backend = "postgresql" if args.database else "sqlite"
    print(f"{backend}: publish, {args.pregnancies} enrolled women stay pinned: {pinned * 1000:.0f} ms")
    print(f"{backend}: publish, {args.pregnancies} enrolled women moved to it: {moved * 1000:.0f} ms")


if __name__ == "__main__":
    main()
