"""The high-risk register's benchmark (高危专案, issue 21 item 1): ``/staff/register`` and its queue
on gunicorn (2 workers) and PostgreSQL, with ``bench/workspace_seed.py``'s hospital (100k
pregnancies), warm, 20 staff at once, each logged in with her own session.

Target: the register's p95 ≤ 300 ms server time.

Each client is a different staff member (``workspace_seed``'s doctors and nurses); a round is the
register's first page (every colour, highest first), the 2017 规范 filters — orange/red/purple
not confirmed, orange/red/purple without a contact in 30 days, orange/red/purple with overdue
tasks — the queue of suggested colours, and the register's second page (the keyset link of the
first). No think time (the worst case), then 3 s (``--think``). The client, the login, the
percentiles and the free port are ``bench/workspace.py``'s.

Prints, for each page: p50/p95/p99 of the server's own time (gunicorn's access log, %(D)s) and
of what each client waited; the statements one request sends and the slowest of them (in this
process, Flask's test client, same database), and the load average around the run.

    .venv/bin/python bench/register_bench.py [--women 100000] [--clients 20] [--rounds 10] [--keep]

Needs the local PostgreSQL (CAREPATH_BENCH_DATABASE_URL or --database); a fresh schema is
created and dropped. Figures: docs/risk-register.md.
"""

from __future__ import annotations

import argparse
import html
import os
import random
import re
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from sqlalchemy import create_engine, event, text  # noqa: E402
from workspace import StaffClient, figures, free_port  # noqa: E402
from workspace_seed import PASSWORD, Seeded, seed  # noqa: E402

from carepath.store.crypto import FieldCipher, new_key  # noqa: E402
from carepath.webapi import create_app  # noqa: E402

#: The pages measured: name -> path (the second page is found on the first).
PAGES = {
    "register": "/staff/register",
    "unconfirmed": "/staff/register?colour=high&confirmation=unconfirmed",
    "no contact 30d": "/staff/register?colour=high&quiet=1&days=30",
    "overdue": "/staff/register?colour=high&overdue=1",
    "queue": "/staff/register/queue",
}
NEXT = re.compile(r'id="next-page" href="([^"]+)"')


def _next_page(page: str) -> str | None:
    found = NEXT.search(page)
    return html.unescape(found.group(1)) if found else None


def page_of(path: str) -> str | None:
    """Which page an access-log line is (its path and query as gunicorn logs them)."""
    path = path.rstrip("?")
    if "after=" in path:
        return "second page"
    for name, known in PAGES.items():
        if path == known:
            return name
    return None


def clients(
    port: int, seeded: Seeded, count: int, rounds: int, think: float = 0.0
) -> tuple[dict[str, list[float]], list[str]]:
    waited: dict[str, list[float]] = defaultdict(list)
    errors: list[str] = []
    lock = threading.Lock()
    members = seeded.members[:count]
    logged_in = []
    for member in members:
        client = StaffClient(port)
        client.login(member.username)
        logged_in.append(client)

    def work(client: StaffClient) -> None:
        pause = random.Random(id(client))
        for _ in range(rounds):
            second = None
            for name, listed in [*PAGES.items(), ("second page", None)]:
                path = listed or second
                if path is None:
                    continue
                if think:  # a nurse reads a page before the next: 0.5 to 1.5 times ``think``
                    time.sleep(think * pause.uniform(0.5, 1.5))
                began = time.perf_counter()
                status, body = client.request("GET", path)
                elapsed = (time.perf_counter() - began) * 1000
                if name == "register":
                    second = _next_page(body)
                with lock:
                    (waited[name].append(elapsed) if status == 200 else errors.append(f"{name} {status}"))

    threads = [threading.Thread(target=work, args=(client,)) for client in logged_in]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return waited, errors


def server_times(access_log: Path, skip: int) -> dict[str, list[float]]:
    times: dict[str, list[float]] = defaultdict(list)
    for line in access_log.read_text().splitlines()[skip:]:
        method, path, status, micros = line.split()
        page = page_of(path)
        if method == "GET" and status == "200" and page:
            times[page].append(int(micros) / 1000)
    return times


def in_process(config: dict[str, str], seeded: Seeded) -> None:
    """Each page once in this process (a nurse): statements, time in the database, the slowest."""
    os.environ.update(config)
    app = create_app({"TESTING": False})
    engine = app.extensions["carepath.db"].engine
    member = next(m for m in seeded.members if "nurse" in m.username)
    client = app.test_client()
    token = re.search(
        r'<meta name="csrf-token" content="([^"]+)"', client.get("/login").get_data(as_text=True)
    )
    assert token
    client.post(
        "/login", data={"csrf_token": token.group(1), "username": member.username, "password": PASSWORD}
    )
    run: list[tuple[str, float]] = []
    started: dict[int, float] = {}

    def before(*args: Any) -> None:
        started[id(args[1])] = time.perf_counter()

    def after(*args: Any) -> None:
        run.append((args[2], (time.perf_counter() - started.pop(id(args[1]), 0)) * 1000))

    first = client.get(PAGES["register"]).get_data(as_text=True)
    second = _next_page(first)
    for name, path in [*PAGES.items(), ("second page", second)]:
        if path is None:
            continue
        client.get(path)  # warm
        event.listen(engine, "before_cursor_execute", before)
        event.listen(engine, "after_cursor_execute", after)
        run.clear()
        began = time.perf_counter()
        response = client.get(path)
        whole = (time.perf_counter() - began) * 1000
        event.remove(engine, "before_cursor_execute", before)
        event.remove(engine, "after_cursor_execute", after)
        rows = response.get_data(as_text=True).count('class="woman"') + response.get_data(as_text=True).count(
            'class="queue-item"'
        )
        in_db = sum(ms for _, ms in run)
        print(
            f"{name:15} {response.status_code}: {rows} women, {len(run)} statements, "
            f"{in_db:.0f} ms of {whole:.0f} ms in the database"
        )
        for statement, ms in sorted(run, key=lambda r: -r[1])[:3]:
            print(f"    {ms:6.1f} ms  {' '.join(statement.split())[:140]}")
    app.extensions["carepath.db"].dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--women", type=int, default=100_000)
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--think",
        type=float,
        nargs="+",
        default=[0.0, 3.0],
        help="seconds a nurse reads a page (each value one run; 0: none, the worst case)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the schema (to EXPLAIN by hand)")
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
    config = {
        "CAREPATH_DATABASE_URL": url,
        "CAREPATH_FIELD_KEYS": "k1:" + new_key(),
        "CAREPATH_LOOKUP_KEY": new_key(),
        "CAREPATH_SECRET_KEY": new_key(),
    }
    server = None
    try:
        cipher = FieldCipher.from_config(config["CAREPATH_FIELD_KEYS"], config["CAREPATH_LOOKUP_KEY"])
        print(f"load before seeding: {Path('/proc/loadavg').read_text().strip()}")
        seeded = seed(url, cipher, args.women, args.tasks, datetime.now(UTC))
        print(f"seeded in {seeded.seconds:.0f} s; the schema holds {seeded.size}")
        with admin.connect() as conn:
            colours = conn.execute(
                text(
                    f"SELECT coalesce(risk_colour, 'none'), count(*) FROM {schema}.pregnancies "
                    "GROUP BY 1 ORDER BY 1"
                )
            ).all()
            waiting = conn.execute(
                text(
                    f"SELECT count(*) FROM {schema}.pregnancies WHERE risk_colour IS NOT NULL AND "
                    "coalesce((state -> 'facts') ->> 'risk_colour_status', 'suggested') = 'suggested'"
                )
            ).scalar_one()
        print(
            "colours: " + ", ".join(f"{c} {n}" for c, n in colours) + f"; waiting for a clinician: {waiting}"
        )
        print("one request alone, in this process (a nurse):")
        in_process(config, seeded)
        if args.keep:
            print(f"kept: the schema {schema} (drop it by hand: DROP SCHEMA {schema} CASCADE)")
            return
        port = free_port()
        access_log = Path(tempfile.mkdtemp()) / "access.log"
        server = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "gunicorn"),
                "--workers", str(args.workers), "--bind", f"127.0.0.1:{port}",
                "--log-level", "warning", "--timeout", "300", "--access-logfile", str(access_log),
                "--access-logformat", "%(m)s %(U)s?%(q)s %(s)s %(D)s", "carepath.webapi:create_app()",
            ],
            env={**os.environ, **config},
        )  # fmt: skip
        for _ in range(100):
            try:
                StaffClient(port).request("GET", "/healthz")
                break
            except OSError:
                time.sleep(0.1)
        clients(port, seeded, args.clients, 1)  # warm up: every worker's caches, PostgreSQL's pages
        for think in args.think:
            skip = len(access_log.read_text().splitlines())
            load = Path("/proc/loadavg").read_text().strip()
            began = time.perf_counter()
            rounds = args.rounds if not think else max(1, args.rounds // 2)
            waited, errors = clients(port, seeded, args.clients, rounds, think)
            seconds = time.perf_counter() - began
            load_after = Path("/proc/loadavg").read_text().strip()
            served = server_times(access_log, skip)
            print(
                f"gunicorn {args.workers} sync workers, PostgreSQL; {args.clients} staff at once, "
                f"{rounds} rounds each, "
                + (f"think time {think:g} s (0.5-1.5x); " if think else "no think time; ")
                + f"{sum(map(len, served.values())) / seconds:.1f} requests/s; "
                f"errors {len(errors)} {sorted(set(errors))}"
            )
            print(f"load average before: {load}; after: {load_after}")
            for page in [*PAGES, "second page"]:
                print(f"{page:15} server time:  {figures(served[page])}")
                print(f"{'':15} client waited: {figures(waited[page])}")
    finally:
        if server is not None:
            server.terminate()
            server.wait()
        if not args.keep:
            with admin.connect() as conn:
                conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


if __name__ == "__main__":
    main()
