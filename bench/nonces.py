"""The replay check's cost: one nonce claim per signed request, per store, one thread after
another (what a request adds to its latency), and the purge of a window's worth of rows.

.venv/bin/python bench/nonces.py [claims] [postgresql+psycopg://user@host/db]

SQLite in a temporary folder; PostgreSQL in a fresh schema (dropped at the end) when a URL is
given; Redis on 127.0.0.1:6379 when it answers.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import redis
from sqlalchemy import create_engine, text

from carepath.store.db import Database, upgrade
from carepath.store.nonces import DatabaseNonceStore, NonceStore, RedisNonceStore

NOW = datetime(2026, 7, 10, 7, 0, tzinfo=UTC)
WINDOW = timedelta(minutes=5)


def claims(name: str, store: NonceStore, count: int) -> None:
    latencies = []
    for _ in range(count):
        nonce = uuid.uuid4().hex
        t0 = time.perf_counter()
        assert store.claim("ck_bench", nonce, expires_at=NOW + WINDOW, now=NOW)
        latencies.append((time.perf_counter() - t0) * 1000)
    latencies.sort()
    print(
        f"{name}: {count} claims, median {statistics.median(latencies):.2f} ms, "
        f"p95 {latencies[int(count * 0.95)]:.2f} ms, p99 {latencies[int(count * 0.99)]:.2f} ms"
    )


def purge(name: str, db: Database) -> None:
    store = DatabaseNonceStore(db)
    t0 = time.perf_counter()
    pages = purged = 0
    while True:
        page = store.purge(NOW + WINDOW + timedelta(seconds=1), limit=1000)
        if page == 0:
            break
        pages, purged = pages + 1, purged + page
    print(f"{name}: purged {purged} expired rows in {pages} pages of 1,000, {time.perf_counter() - t0:.2f} s")


def main(count: int, pg_url: str | None) -> None:
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{folder}/bench.db"
        upgrade(url)
        db = Database(url)
        claims("sqlite", DatabaseNonceStore(db), count)
        purge("sqlite", db)
        db.dispose()
    if pg_url:
        schema = f"bench_{uuid.uuid4().hex[:8]}"
        admin = create_engine(pg_url)
        with admin.begin() as conn:
            conn.execute(text(f"CREATE SCHEMA {schema}"))
        separator = "&" if "?" in pg_url else "?"
        url = f"{pg_url}{separator}options=-csearch_path%3D{schema}"
        try:
            upgrade(url)
            db = Database(url)
            claims("postgresql", DatabaseNonceStore(db), count)
            purge("postgresql", db)
            db.dispose()
        finally:
            with admin.begin() as conn:
                conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
            admin.dispose()
    client = redis.Redis(host="127.0.0.1", port=6379, socket_connect_timeout=0.5)
    try:
        client.ping()
    except redis.exceptions.ConnectionError:
        print("redis: not running on 127.0.0.1:6379, skipped")
        return
    prefix = f"carepath-bench-{uuid.uuid4().hex}:nonce:"
    try:
        claims("redis", RedisNonceStore(client, prefix=prefix), count)
    finally:
        for key in client.scan_iter(f"{prefix}*"):
            client.delete(key)
        client.close()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 2000, sys.argv[2] if len(sys.argv) > 2 else None)
