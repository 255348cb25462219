"""ICD-10 catalogue benchmark: parse and import a synthetic hospital catalogue, then re-import.

A national clinical edition has some tens of thousands of codes; this builds ``--codes``
synthetic ones (extensions of the built-in WHO codes, a few unmapped), and prints the time to
parse the CSV, the first import, an unchanged re-import and a re-import with every name
changed, and the cost of one ``describe`` (what each diagnosis event pays).

    .venv/bin/python bench/icd10.py [--codes 30000] [--database URL]

Default database: a fresh SQLite file; a PostgreSQL URL gets a fresh schema, dropped after.
Never part of the pass/fail test run.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import create_engine, text

from carepath.engine.icd10 import who_catalogue
from carepath.store import icd10, tenants
from carepath.store.db import Database, upgrade

NOW = datetime(2026, 7, 10, 7, 0, tzinfo=UTC)


def synthetic_csv(count: int) -> bytes:
    bases = [c if "." in c else f"{c}.9" for c in who_catalogue()]
    lines = ["code,name"]
    for n in range(count):
        base = bases[n % len(bases)] if n % 50 else "X99.9"  # one code in 50 extends no WHO code
        lines.append(f"{base}{n // len(bases):03d}x{n % 1000:03d},合成名称{n}")
    return ("\n".join(lines) + "\n").encode("utf-8")


def timed(label: str, work: object) -> object:
    start = time.perf_counter()
    result = work()  # type: ignore[operator]
    print(f"{label:<34} {time.perf_counter() - start:8.3f} s")
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--codes", type=int, default=30_000)
    parser.add_argument("--database", default=None)
    args = parser.parse_args()
    schema = None
    if args.database:
        schema = f"b_{uuid.uuid4().hex[:10]}"
        admin = create_engine(args.database)
        with admin.begin() as conn:
            conn.execute(text(f"CREATE SCHEMA {schema}"))
        url = f"{args.database}{'&' if '?' in args.database else '?'}options=-csearch_path%3D{schema}"
    else:
        url = f"sqlite:///{Path(tempfile.mkdtemp()) / 'bench.db'}"
    try:
        upgrade(url)
        db = Database(url)
        with db.transaction() as session:
            tenants.ensure_hospital(session, "h1", "bench", NOW)
        data = synthetic_csv(args.codes)
        print(f"{args.codes} codes, {len(data) / 1e6:.1f} MB, on {url.split(':')[0]}")
        parsed = timed("parse (UTF-8)", lambda: icd10.parse_file(data))
        timed("parse (GBK)", lambda: icd10.parse_file(data.decode().encode("gbk")))
        report = timed("first import", lambda: icd10.import_catalogue(db, "h1", parsed.rows, NOW))
        print(f"  mapped {report.mapped}, unmapped {len(report.unmapped)}")  # type: ignore[attr-defined]
        timed("re-import, unchanged", lambda: icd10.import_catalogue(db, "h1", parsed.rows, NOW))
        renamed = [icd10.CatalogueRow(r.line, r.code, r.name + "2") for r in parsed.rows]
        timed("re-import, every name changed", lambda: icd10.import_catalogue(db, "h1", renamed, NOW))
        codes = [r.code for r in parsed.rows[:2000]]
        with db.reading() as session:
            start = time.perf_counter()
            for code in codes:
                icd10.describe(session, "h1", code)
            per = (time.perf_counter() - start) / len(codes)
        print(f"{'describe, per code':<34} {per * 1e6:8.0f} µs")
        db.dispose()
    finally:
        if schema is not None:
            with admin.begin() as conn:
                conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
            admin.dispose()


if __name__ == "__main__":
    main()
