"""The clinician's workspace benchmark (issue 20): the task list (工作台, /staff/work) and her record
(/staff/patients/<pregnancy_id>) on gunicorn (2 workers) and PostgreSQL, with 100k pregnancies
and 10k open tasks, warm, 20 staff at once, each logged in with her own session.

Target: p95 ≤ 300 ms server time for the task list and for her record.

The hospital is ``bench/workspace_seed.py``'s: 20 staff (doctors and nurses) in 3 obstetric
teams, each woman in one team with a responsible doctor and nurse, the tasks routed to them or
to the team's queue; every hundredth woman has a long history (a few hundred outbox rows,
events, tag changes, tasks and inbox items). Each client is a different staff member; a round
is: the task list's first page (all: mine and my teams'), the list narrowed to my teams' queue
(``?view=team``), the poll's stamp, her record for a woman of my team with a long history and
for one with a short one. No think time: the two workers are kept busy.

Prints, for each page: p50/p95/p99 of the server's own time (gunicorn's access log, %(D)s:
queueing in front of the workers excluded) and of what each client waited; the statements one
request sends (counted in this process on the same database, Flask's test client); the
slowest statements of each page with their time, and EXPLAIN ANALYZE of the slowest one.

    .venv/bin/python bench/workspace.py [--women 100000] [--tasks 10000] [--clients 20] [--rounds 10]

Needs the local PostgreSQL (CAREPATH_BENCH_DATABASE_URL or --database); a fresh schema is
created and dropped. Never part of the pass/fail test run. Figures: docs/workspace-performance.md.
"""

from __future__ import annotations

import argparse
import cProfile
import http.client
import os
import random
import re
import socket
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
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from sqlalchemy import create_engine, event, text  # noqa: E402
from workspace_seed import PASSWORD, Member, Seeded, seed  # noqa: E402

from carepath.store.crypto import FieldCipher, new_key  # noqa: E402
from carepath.webapi import create_app  # noqa: E402

#: The pages measured: name -> how a request line of the access log is recognised.
PAGES = ("list", "list team", "stamp", "record long", "record short")
#: The tables whose size the report gives.
TABLES = ("pregnancies", "staff_tasks", "outbox", "events", "tag_log", "enrolments", "inbox_items")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))] if ordered else float("nan")


def figures(values: list[float]) -> str:
    return (
        f"p50 {percentile(values, 50):4.0f} ms, p95 {percentile(values, 95):4.0f} ms, "
        f"p99 {percentile(values, 99):4.0f} ms ({len(values)})"
    )


class StaffClient:
    """One staff member's browser: a keep-alive connection and her cookies; logs in with CSRF as
    tests/webapi/conftest.py's StaffBrowser does."""

    def __init__(self, port: int) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, body: str | None = None) -> tuple[int, str]:
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())} if self.cookies else {}
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        self.conn.request(method, path, body=body, headers=headers)
        response = self.conn.getresponse()
        for header, value in response.getheaders():
            if header.lower() == "set-cookie":
                name, _, rest = value.partition("=")
                self.cookies[name.strip()] = rest.split(";", 1)[0]
        return response.status, response.read().decode("utf-8")

    def login(self, username: str) -> None:
        _, page = self.request("GET", "/login")
        token = re.search(r'<meta name="csrf-token" content="([^"]+)"', page)
        assert token, "no CSRF token on /login"
        body = urlencode({"csrf_token": token.group(1), "username": username, "password": PASSWORD})
        status, _ = self.request("POST", "/login", body)
        assert status == 302, f"login of {username}: {status}"


def paths(seeded: Seeded, member: Member, rng: random.Random) -> dict[str, str]:
    return {
        "list": "/staff/work",
        "list team": "/staff/work?view=team",
        "stamp": "/staff/work/stamp",
        "record long": f"/staff/patients/{rng.choice(seeded.rich_by_team[member.team])}",
        "record short": f"/staff/patients/{rng.choice(seeded.plain_by_team[member.team])}",
    }


def clients(port: int, seeded: Seeded, count: int, rounds: int) -> tuple[dict[str, list[float]], list[str]]:
    """``count`` staff at once, each doing ``rounds`` rounds of every page; what each waited."""
    waited: dict[str, list[float]] = defaultdict(list)
    errors: list[str] = []
    lock = threading.Lock()
    members = seeded.members[:count]
    logged_in: list[StaffClient] = []
    for member in members:
        client = StaffClient(port)
        client.login(member.username)
        logged_in.append(client)

    def work(client: StaffClient, member: Member, seed: int) -> None:
        rng = random.Random(seed)
        for _ in range(rounds):
            for page, path in paths(seeded, member, rng).items():
                began = time.perf_counter()
                status, _ = client.request("GET", path)
                elapsed = (time.perf_counter() - began) * 1000
                with lock:
                    if status == 200:
                        waited[page].append(elapsed)
                    else:
                        errors.append(f"{page} {status}")

    threads = [
        threading.Thread(target=work, args=(client, member, n))
        for n, (client, member) in enumerate(zip(logged_in, members, strict=True))
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return waited, errors


def page_of(path: str, rich: set[str]) -> str | None:
    if path == "/staff/work?":
        return "list"
    if path == "/staff/work?view=team":
        return "list team"
    if path.startswith("/staff/work/stamp"):
        return "stamp"
    if path.startswith("/staff/patients/"):
        return "record long" if path.rstrip("?").rsplit("/", 1)[1] in rich else "record short"
    return None


def server_times(access_log: Path, skip: int, rich: set[str]) -> dict[str, list[float]]:
    times: dict[str, list[float]] = defaultdict(list)
    for line in access_log.read_text().splitlines()[skip:]:
        method, path, status, micros = line.split()
        page = page_of(path, rich)
        if method == "GET" and status == "200" and page:
            times[page].append(int(micros) / 1000)
    return times


def in_process(url: str, config: dict[str, str], seeded: Seeded) -> None:
    """Each page once, in this process on the same database: the statements it sends, the
    slowest of them, and EXPLAIN ANALYZE of the slowest."""
    os.environ.update(config)
    app = create_app({"TESTING": False})
    engine = app.extensions["carepath.db"].engine
    member = next(m for m in seeded.members if "nurse" in m.username)
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'<meta name="csrf-token" content="([^"]+)"', page)
    assert token
    form = {"csrf_token": token.group(1), "username": member.username, "password": PASSWORD}
    client.post("/login", data=form)
    rng = random.Random(7)
    run: list[tuple[str, Any, float]] = []
    started: dict[int, float] = {}

    def before(*args: Any) -> None:  # conn, cursor, statement, parameters, context, executemany
        started[id(args[1])] = time.perf_counter()

    def after(*args: Any) -> None:
        run.append((args[2], args[3], (time.perf_counter() - started.pop(id(args[1]), 0)) * 1000))

    for name, path in paths(seeded, member, rng).items():
        client.get(path)  # warm
        event.listen(engine, "before_cursor_execute", before)
        event.listen(engine, "after_cursor_execute", after)
        run.clear()
        began = time.perf_counter()
        response = client.get(path)
        whole = (time.perf_counter() - began) * 1000
        event.remove(engine, "before_cursor_execute", before)
        event.remove(engine, "after_cursor_execute", after)
        in_db = sum(t for *_, t in run)
        if os.environ.get("BENCH_PROFILE") == name:  # where the time of one request goes
            cProfile.runctx("client.get(path)", globals(), {"client": client, "path": path}, sort="cumtime")
        print(
            f"{name:13} {response.status_code}: {len(run)} statements, {in_db:.0f} ms of {whole:.0f} ms in "
            f"the database (one request alone, in this process)"
        )
        slowest = sorted(run, key=lambda r: -r[2])[:3]
        for statement, _, ms in slowest:
            print(f"    {ms:6.1f} ms  {' '.join(statement.split())[:150]}")
        statement, parameters, ms = slowest[0]
        if ms >= 5 and statement.lstrip().upper().startswith("SELECT"):
            with engine.connect() as conn:
                plan = conn.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters).scalars()
                print("    EXPLAIN ANALYZE of the slowest:")
                for line in plan:
                    print("      " + line)
    app.extensions["carepath.db"].dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--women", type=int, default=100_000)
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--keep", action="store_true", help="keep the schema (to EXPLAIN by hand); no load")
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
    folder = Path(tempfile.mkdtemp())
    try:
        cipher = FieldCipher.from_config(config["CAREPATH_FIELD_KEYS"], config["CAREPATH_LOOKUP_KEY"])
        print(f"load before seeding: {Path('/proc/loadavg').read_text().strip()}")
        seeded = seed(url, cipher, args.women, args.tasks, datetime.now(UTC))
        with admin.connect() as conn:
            counts = {
                table: conn.execute(text(f"SELECT count(*) FROM {schema}.{table}")).scalar_one()
                for table in TABLES
            }
            open_tasks = conn.execute(
                text(f"SELECT count(*) FROM {schema}.staff_tasks WHERE status = 'open'")
            ).scalar()
        print(
            f"seeded in {seeded.seconds:.0f} s; the schema holds {seeded.size}: "
            + ", ".join(f"{n} {t}" for t, n in counts.items())
            + f" ({open_tasks} open tasks)"
        )
        print("one request alone, in this process (a nurse):")
        in_process(url, config, seeded)
        if args.keep:
            print(f"kept: the schema {schema} (drop it by hand: DROP SCHEMA {schema} CASCADE)")
            return
        port = free_port()
        access_log = folder / "access.log"
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
                http.client.HTTPConnection("127.0.0.1", port, timeout=1).request("GET", "/healthz")
                break
            except OSError:
                time.sleep(0.1)
        rich = {p for ids in seeded.rich_by_team.values() for p in ids}
        clients(port, seeded, args.clients, 1)  # warm up: every worker's caches, PostgreSQL's pages
        skip = len(access_log.read_text().splitlines())
        load = Path("/proc/loadavg").read_text().strip()
        began = time.perf_counter()
        waited, errors = clients(port, seeded, args.clients, args.rounds)
        seconds = time.perf_counter() - began
        load_after = Path("/proc/loadavg").read_text().strip()
        served = server_times(access_log, skip, rich)
        print(
            f"gunicorn {args.workers} sync workers, PostgreSQL; {args.clients} staff at once, "
            f"{args.rounds} rounds each, no think time; "
            f"{sum(map(len, served.values())) / seconds:.1f} requests/s; "
            f"errors {len(errors)} {sorted(set(errors))}"
        )
        print(f"load average before: {load}; after: {load_after}")
        for page in PAGES:
            print(f"{page:13} server time:  {figures(served[page])}")
            print(f"{'':13} client waited: {figures(waited[page])}")
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
