"""HIS event API benchmark: gunicorn (2 workers) on PostgreSQL, driven from this process.

Prints the SQL statements one event sends (counted in-process by a ``before_cursor_execute``
listener over the bench's own mix; the nonce, audit row and BEGIN/COMMIT apart: issue 22 item
3's bound is 5 besides them), p50/p95/p99 latency at 200 events/s (open loop: latency counts
from the scheduled send time, so a stall is not hidden; target p99 <= 50 ms), the highest
sustained single-event rate (closed loop at rising concurrency; sustained = no errors and p99
under 250 ms; target >= 500/s), and batch events/s (target >= 5,000/s).

    .venv/bin/python bench/api.py [--seconds 10] [--database postgresql+psycopg://...]

Needs the local PostgreSQL (CAREPATH_BENCH_DATABASE_URL or --database); a fresh schema is
created and dropped. Never part of the pass/fail test run.
"""

from __future__ import annotations

import argparse
import cProfile
import http.client
import json
import os
import pstats
import queue
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy import event as sa_event  # noqa: E402

from carepath.engine.catalogue import PATHWAYS_DIR  # noqa: E402
from carepath.store import batch, demo, events, tenants  # noqa: E402
from carepath.store.crypto import FieldCipher, new_key  # noqa: E402
from carepath.store.db import Database, upgrade  # noqa: E402
from carepath.store.models import ApiKey  # noqa: E402
from carepath.store.scope import Actor  # noqa: E402
from carepath.webapi import create_app  # noqa: E402
from carepath.webapi.auth import sign  # noqa: E402

SHANGHAI = timezone(timedelta(hours=8))
PATIENTS = 200


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Client:
    """One keep-alive connection that signs each request."""

    def __init__(self, port: int, key: dict[str, str]) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.key = key

    def post(self, path: str, payload: Any) -> tuple[int, Any]:
        body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        headers = sign(
            self.key["secret"],
            "POST",
            path,
            timestamp=str(int(time.time())),
            key_id=self.key["key_id"],
            body=body,
        )
        headers["Content-Type"] = "application/json"
        self.conn.request("POST", path, body=body, headers=headers)
        response = self.conn.getresponse()
        return response.status, json.loads(response.read())


def event(n: int, patient: int | None = None) -> dict[str, Any]:
    """A mix of what the HIS posts most: labs, visits, a few diagnoses."""
    his_id = f"bench-{(n if patient is None else patient) % PATIENTS:04d}"
    now = datetime.now(SHANGHAI).isoformat(timespec="seconds")
    kind = n % 10
    if kind < 6:
        body = {"type": "lab.result", "data": {"code": "hb", "value": 100 + n % 30, "unit": "g/L"}}
    elif kind < 9:
        body = {"type": "encounter.completed", "data": {"kind": "anc-contact"}}
    else:
        body = {"type": "diagnosis.added", "data": {"code": "O24.401", "name": "妊娠期糖尿病"}}
    return {"id": f"b-{uuid.uuid4().hex}", "occurred_at": now, "patient": {"his_id": his_id}, **body}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))] if ordered else float("nan")


def open_loop(port: int, key: dict[str, str], rate: float, seconds: float) -> tuple[list[float], int]:
    """Send at a fixed rate; latency from the scheduled time. Returns (latencies ms, errors)."""
    schedule: queue.Queue[float | None] = queue.Queue()
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    counter = iter(range(10**9))

    def worker() -> None:
        client = Client(port, key)
        while (due := schedule.get()) is not None:
            delay = due - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            status, _ = client.post("/api/v1/events", event(next(counter)))
            elapsed = (time.perf_counter() - due) * 1000
            with lock:
                latencies.append(elapsed)
                if status != 201:
                    errors[0] += 1

    threads = [threading.Thread(target=worker) for _ in range(16)]
    for t in threads:
        t.start()
    start = time.perf_counter() + 0.2
    for i in range(int(rate * seconds)):
        schedule.put(start + i / rate)
    for _ in threads:
        schedule.put(None)
    for t in threads:
        t.join()
    return latencies, errors[0]


def closed_loop(
    port: int, key: dict[str, str], concurrency: int, seconds: float
) -> tuple[float, list[float], int]:
    """As fast as ``concurrency`` connections go. Returns (events/s, latencies ms, errors)."""
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    stop = time.perf_counter() + seconds
    counter = iter(range(10**9))

    def worker() -> None:
        client = Client(port, key)
        while time.perf_counter() < stop:
            began = time.perf_counter()
            status, _ = client.post("/api/v1/events", event(next(counter)))
            with lock:
                latencies.append((time.perf_counter() - began) * 1000)
                if status != 201:
                    errors[0] += 1

    started = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return len(latencies) / (time.perf_counter() - started), latencies, errors[0]


def batches(port: int, key: dict[str, str], concurrency: int, count: int, size: int) -> tuple[float, int]:
    """``count`` batches of ``size`` events from ``concurrency`` connections: (events/s, errors)."""
    errors = [0]
    todo: queue.Queue[int | None] = queue.Queue()
    for i in range(count):
        todo.put(i)
    counter = iter(range(10**9))

    def worker(feed: int) -> None:
        # Each connection is one feed (a ward's HIS) with its own women, as in a hospital.
        client = Client(port, key)
        while True:
            try:
                item = todo.get_nowait()
            except queue.Empty:
                return
            if item is None:
                return
            events = []
            for _ in range(size):
                n = next(counter)
                events.append(event(n, patient=(n % (PATIENTS // concurrency)) * concurrency + feed))
            status, body = client.post("/api/v1/events:batch", {"events": events})
            if status != 200:
                errors[0] += size
            else:
                errors[0] += sum(1 for r in body["results"] if r["status"] != 201)

    started = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(feed,)) for feed in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return count * size / (time.perf_counter() - started), errors[0]


def statements_per_event(config: dict[str, str], key: dict[str, str], count: int = 200) -> None:
    """Post ``count`` of the bench's events in-process (the app gunicorn runs, through Flask's
    test client) and print the statements each sent, by what they were for."""
    os.environ.update(config)
    app = create_app()
    engine = app.extensions["carepath.db"].engine
    seen: list[str] = []

    def listener(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement.lstrip().split(None, 1)[0].upper() + " " + statement)

    client = app.test_client()

    by_type: dict[str, list[int]] = {}

    def post(n: int) -> None:
        sent = event(n)
        body = json.dumps(sent, ensure_ascii=False).encode("utf-8")
        before = len(seen)
        headers = sign(
            key["secret"], "POST", "/api/v1/events", timestamp=str(int(time.time())),
            key_id=key["key_id"], body=body,
        )  # fmt: skip
        headers["Content-Type"] = "application/json"
        response = client.post("/api/v1/events", data=body, headers=headers)
        assert response.status_code == 201, response.get_data(as_text=True)
        mine = [s for s in seen[before:] if not _apart(s)]
        by_type.setdefault(sent["type"], []).append(len(mine))

    post(10**6)  # warm: the key, the library and the settings are read once per process
    by_type.clear()
    sa_event.listen(engine, "before_cursor_execute", listener)
    for n in range(count):
        post(n)
    sa_event.remove(engine, "before_cursor_execute", listener)
    app.extensions["carepath.db"].dispose()
    for kind, counts in sorted(by_type.items()):
        mean = statistics.mean(counts)
        print(f"  {kind}: {mean:.2f} besides nonce and audit (max {max(counts)}, {len(counts)} events)")
    control = sum(1 for s in seen if s.split(" ", 1)[0] in ("BEGIN", "COMMIT", "SAVEPOINT", "RELEASE"))
    nonce = sum(1 for s in seen if "request_nonces" in s)
    audited = sum(1 for s in seen if "audit_log" in s)
    others = len(seen) - control - nonce - audited
    print(
        f"SQL statements per event (in-process, the bench's mix, {count} events): {len(seen) / count:.2f} "
        f"in all; {others / count:.2f} besides the nonce ({nonce / count:.2f}), the audit row "
        f"({audited / count:.2f}) and BEGIN/COMMIT ({control / count:.2f}); target <= 5"
    )


def profile_batch(config: dict[str, str], key: dict[str, str], size: int = 1000, rows: int = 25) -> None:
    """One batch of ``size`` in-process through ``batch.post_batch`` (the code the endpoint runs,
    without HTTP) under cProfile: its events/s, statements and where the time goes."""

    database = Database(config["CAREPATH_DATABASE_URL"])
    cipher = FieldCipher.from_config(config["CAREPATH_FIELD_KEYS"], config["CAREPATH_LOOKUP_KEY"])
    with database.reading() as session:
        integrator = session.get(ApiKey, key["key_id"]).integrator_id  # type: ignore[union-attr]
    actor = Actor("bench", "integrator", str(integrator))
    now = datetime.now(UTC)
    batch.post_batch(database, cipher, actor, [event(n) for n in range(10**6, 10**6 + 50)], now)  # warm
    items = [event(n) for n in range(size)]
    seen = [0]

    def listener(*args: Any) -> None:
        seen[0] += 1

    sa_event.listen(database.engine, "before_cursor_execute", listener)
    started = time.perf_counter()
    batch.post_batch(database, cipher, actor, items, now)
    plain = time.perf_counter() - started
    sa_event.remove(database.engine, "before_cursor_execute", listener)
    items = [event(n) for n in range(size)]
    profiler = cProfile.Profile()
    profiler.enable()
    batch.post_batch(database, cipher, actor, items, now)
    profiler.disable()
    database.dispose()
    print(
        f"a batch of {size} in-process (no HTTP): {size / plain:.0f} events/s, {seen[0]} statements "
        f"({seen[0] / size:.2f} per event); the profile of a second one:"
    )
    pstats.Stats(profiler).sort_stats("cumulative").print_stats(rows)
    pstats.Stats(profiler).sort_stats("tottime").print_stats(rows)


def profile_single(config: dict[str, str], key: dict[str, str], count: int = 500, rows: int = 30) -> None:
    """``count`` single events in-process (the app gunicorn runs, through Flask's test client,
    signatures included) under cProfile: the application's own CPU per event and where it goes."""
    os.environ.update(config)
    app = create_app()
    client = app.test_client()

    def post(n: int) -> None:
        body = json.dumps(event(n), ensure_ascii=False).encode("utf-8")
        headers = sign(
            key["secret"], "POST", "/api/v1/events", timestamp=str(int(time.time())),
            key_id=key["key_id"], body=body,
        )  # fmt: skip
        headers["Content-Type"] = "application/json"
        response = client.post("/api/v1/events", data=body, headers=headers)
        assert response.status_code == 201, response.get_data(as_text=True)

    for n in range(10**6, 10**6 + 20):
        post(n)  # warm: the key, the library and the settings
    started, cpu = time.perf_counter(), time.process_time()
    for n in range(count):
        post(n)
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    profiler = cProfile.Profile()
    profiler.enable()
    for n in range(count, 2 * count):
        post(n)
    profiler.disable()
    app.extensions["carepath.db"].dispose()
    print(
        f"{count} single events in-process: {1000 * cpu / count:.2f} ms of this process's CPU an event, "
        f"{1000 * wall / count:.2f} ms wall (PostgreSQL's share is the difference); "
        f"the profile of the next {count}:"
    )
    pstats.Stats(profiler).sort_stats("cumulative").print_stats("carepath", rows)
    pstats.Stats(profiler).sort_stats("tottime").print_stats(rows)
    profiler.dump_stats(os.environ.get("CAREPATH_BENCH_PROFILE", "/tmp/carepath-single-events.prof"))


def _apart(statement: str) -> bool:
    """The nonce claim, the audit row, the transaction's own statements: counted apart."""
    if statement.split(" ", 1)[0] in ("BEGIN", "COMMIT", "SAVEPOINT", "RELEASE"):
        return True
    return "request_nonces" in statement or "audit_log" in statement


def prepare(url: str, config: dict[str, str]) -> dict[str, str]:
    upgrade(url)
    database = Database(url)
    cipher = FieldCipher.from_config(config["CAREPATH_FIELD_KEYS"], config["CAREPATH_LOOKUP_KEY"])
    now = datetime.now(UTC)
    demo.publish_examples(database, PATHWAYS_DIR, now)
    with database.transaction() as session:
        tenants.ensure_hospital(session, "bench", "bench hospital", now)
        key = tenants.create_api_key(session, cipher, "bench", "his", now)
    with database.reading() as session:
        integrator = session.get(ApiKey, key.key_id).integrator_id  # type: ignore[union-attr]
    actor = Actor("bench", "integrator", str(integrator))
    for n in range(PATIENTS):
        registration = {
            "id": f"reg-{n}",
            "type": "patient.registered",
            "occurred_at": now.isoformat(),
            "patient": {"his_id": f"bench-{n:04d}", "id_number": demo.demo_id_number(n, "1990-04-12")},
            "data": {
                "lmp": (now - timedelta(days=70 + n % 150)).date().isoformat(),
                "birth_date": "1990-04-12",
            },
        }
        events.post_event(database, cipher, actor, registration, now)
    database.dispose()
    return {"key_id": key.key_id, "secret": key.secret}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument(
        "--database",
        default=os.environ.get(
            "CAREPATH_BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
        ),
    )
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rate", type=float, default=200.0, help="the open-loop rate (events/s)")
    parser.add_argument("--only-statements", action="store_true", help="count statements, no server")
    parser.add_argument("--profile-batch", action="store_true", help="profile a batch in-process, no server")
    parser.add_argument(
        "--profile-single", action="store_true", help="profile single events in-process, no server"
    )
    args = parser.parse_args()

    schema = f"bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(args.database)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    url = f"{args.database}{'&' if '?' in args.database else '?'}options=-csearch_path%3D{schema}"
    config = {
        "CAREPATH_DATABASE_URL": url,
        "CAREPATH_FIELD_KEYS": "k1:" + new_key(),
        "CAREPATH_LOOKUP_KEY": new_key(),
    }
    server = None
    try:
        key = prepare(url, config)
        statements_per_event(config, key)
        if args.profile_batch:
            profile_batch(config, key)
        if args.profile_single:
            profile_single(config, key)
        if args.only_statements or args.profile_batch or args.profile_single:
            return
        port = free_port()
        server = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "gunicorn"),
                "--workers", str(args.workers), "--bind", f"127.0.0.1:{port}",
                "--log-level", "warning", "--timeout", "300", "carepath.webapi:create_app()",
            ],
            env={**os.environ, **config},
        )  # fmt: skip
        for _ in range(100):
            try:
                http.client.HTTPConnection("127.0.0.1", port, timeout=1).request("GET", "/healthz")
                break
            except OSError:
                time.sleep(0.1)
        closed_loop(port, key, 4, 2.0)  # warm up: compile the library in each worker

        print(
            f"load average at the start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}; "
            f"gunicorn {args.workers} sync workers, PostgreSQL, built-in library, {PATIENTS} pregnancies, "
            f"{args.seconds:g} s per run"
        )
        latencies, errors = open_loop(port, key, args.rate, args.seconds)
        print(
            f"{args.rate:g} events/s: p50 {percentile(latencies, 50):.1f} ms, "
            f"p95 {percentile(latencies, 95):.1f} ms, "
            f"p99 {percentile(latencies, 99):.1f} ms ({len(latencies)} events, {errors} errors)"
        )
        best = 0.0
        for concurrency in (1, 2, 4, 8, 16):
            rate, lat, errors = closed_loop(port, key, concurrency, args.seconds)
            sustained = errors == 0 and percentile(lat, 99) < 250
            print(
                f"single events, {concurrency:2d} connections: {rate:7.0f} events/s, "
                f"p50 {percentile(lat, 50):.1f} ms, p99 {percentile(lat, 99):.1f} ms, {errors} errors"
            )
            if sustained:
                best = max(best, rate)
        print(f"highest sustained single-event rate: {best:.0f} events/s")
        rate, errors = batches(port, key, 2, 4, 1000)
        print(f"batches of 1,000 from 2 connections (one feed each): {rate:.0f} events/s ({errors} errors)")
        print(f"(median of the {args.rate:g}/s run {statistics.median(latencies):.1f} ms)")
        print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=10)
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


if __name__ == "__main__":
    main()
