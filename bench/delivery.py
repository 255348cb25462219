"""The wake-up sweep costs what is due, not what is enrolled: 100,000 enrolled pregnancies
(SQLite in a temporary folder), the sweep timed with 1% due and with 100% due, and the peak
RSS of the process.

.venv/bin/python bench/delivery.py [pregnancies] [--sample N]

The 100%-due sweep evaluates every pregnancy (about a minute on SQLite); ``--sample N``
times it on N due pregnancies and scales (the per-pregnancy cost does not depend on how
many are due: batches are keyset-paged on the ``next_wakeup`` index). Target: the 1% sweep
takes at most 0.05 of the 100% one; peak RSS at most 300 MB.
"""

from __future__ import annotations

import base64
import os
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import insert, select, update

from carepath.store import demo
from carepath.store.crypto import FieldCipher
from carepath.store.db import Database, upgrade
from carepath.store.models import ApiKey, Patient, Pregnancy
from carepath.store.wakeups import wake_due

NOW = datetime(2026, 7, 10, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
ROOT = Path(__file__).resolve().parent.parent


def seed(db: Database, folder: Path, count: int) -> None:
    """The demo's first woman registered through the event service; her evaluated state
    copied to ``count`` pregnancies (a real pathway state: enrolments, pending actions)."""
    cipher = FieldCipher.from_config(
        "k1:" + base64.b64encode(os.urandom(32)).decode(), base64.b64encode(os.urandom(32)).decode()
    )
    demo.publish_examples(db, ROOT / "examples" / "pathways", NOW)
    key = demo.demo_key(db, cipher, folder, NOW)
    with db.reading() as session:
        api_key = session.get(ApiKey, key["key_id"])
        assert api_key is not None
        integrator = api_key.integrator_id
    demo.register_patients(db, cipher, integrator, ROOT / "examples" / "patients", NOW)
    with db.reading() as session:
        model = session.scalars(select(Pregnancy).order_by(Pregnancy.id)).first()
        assert model is not None
        hospital, state = model.hospital_id, model.state
    later = NOW + timedelta(days=30)
    for start in range(0, count, 10_000):
        stop = min(start + 10_000, count)
        with db.transaction() as session:
            session.execute(
                insert(Patient),
                [{"id": n + 1000, "hospital_id": hospital, "his_patient_id": f"p-{n}", "created_at": NOW}
                 for n in range(start, stop)],
            )  # fmt: skip
            session.execute(
                insert(Pregnancy),
                [
                    {"id": f"preg-{n:06d}", "hospital_id": hospital, "patient_id": n + 1000, "number": 1,
                     "status": "pregnant", "state": state, "created_at": NOW, "updated_at": NOW,
                     "next_wakeup": later}
                    for n in range(start, stop)
                ],
            )  # fmt: skip


def make_due(db: Database, count: int, total: int) -> None:
    """Every ``total // count``-th pregnancy becomes due (spread over the index)."""
    step = max(total // count, 1)
    ids = [f"preg-{n:06d}" for n in range(0, total, step)][:count]
    with db.transaction() as session:
        for start in range(0, len(ids), 5_000):
            chunk = ids[start : start + 5_000]
            session.execute(
                update(Pregnancy)
                .where(Pregnancy.id.in_(chunk))
                .values(next_wakeup=NOW - timedelta(minutes=1))
            )


def timed_sweep(db: Database) -> tuple[float, int]:
    started = time.perf_counter()
    woken = wake_due(db, NOW)
    return time.perf_counter() - started, len(woken)


def main() -> None:
    args = sys.argv[1:]
    sample_size = None
    if "--sample" in args:
        at = args.index("--sample")
        sample_size = int(args[at + 1])
        del args[at : at + 2]
    total = int(args[0]) if args else 100_000
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{folder}/bench.db"
        upgrade(url)
        db = Database(url)
        started = time.perf_counter()
        seed(db, Path(folder), total)
        print(f"seeded {total:,} enrolled pregnancies in {time.perf_counter() - started:.1f}s")

        one_percent = total // 100
        make_due(db, one_percent, total)
        low, woken_low = timed_sweep(db)
        assert woken_low == one_percent, woken_low
        print(f"1% due:   {woken_low:,} evaluated in {low:.2f}s ({woken_low / low:,.0f}/s)")

        sample = min(sample_size or total, total)
        make_due(db, sample, total)
        high_sample, woken_high = timed_sweep(db)
        high = high_sample * total / woken_high
        scaled = "" if woken_high == total else f"; {total:,} would take {high:.1f}s"
        print(
            f"100% due: {woken_high:,} evaluated in {high_sample:.2f}s "
            f"({woken_high / high_sample:,.0f}/s){scaled}"
        )
        empty, nobody = timed_sweep(db)
        print(
            f"nothing due: a sweep over {total:,} enrolled takes {empty * 1000:.1f} ms ({nobody} evaluated)"
        )
        ratio = low / high
        print(f"ratio 1% / 100%: {ratio:.4f} (target <= 0.05) {'ok' if ratio <= 0.05 else 'MISSED'}")
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"peak RSS: {rss:.0f} MB (target <= 300 MB) {'ok' if rss <= 300 else 'MISSED'}")
        db.dispose()


if __name__ == "__main__":
    main()
