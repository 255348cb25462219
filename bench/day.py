"""A province's day (issue 22): one command that seeds a province's pregnancies on PostgreSQL and
runs one day of the pipeline against the fake WeChat, counting at the provider.

    .venv/bin/python bench/day.py [--pregnancies 1000000] [--sweepers 2] [--dispatchers 2]
        [--posters 4] [--one-by-one] [--keep] [--runs 3] [--database postgresql+psycopg://postgres@127.0.0.1:5432/postgres]

``--runs 3`` (the issue's median of three): one seed, each run on a copy of it made by PostgreSQL
(``CREATE DATABASE … TEMPLATE``) after waiting for the load average to fall under ``--quiet-below``
(1.0; at most ``--quiet-wait`` s, and it says if it did not); each copy is dropped after its run.

**The seed** (``bench/day_seed.py``, not timed as part of the day): a database of its own
(``carepath_day_<random>``, created here and dropped at the end: never a table of anyone else's
on the shared server), migrated; 36 template women registered through the event service at
5 to 40 weeks, then copied in SQL to ``--pregnancies`` women (``INSERT … SELECT`` over
``generate_series``: no row crosses to Python), each with her consents and her WeChat openid;
one in five due to wake during the day; one due WeChat reminder for each woman who wakes (the
day's messages). Its size and bytes per pregnancy are printed.

**The day**, all at once, timed from the first process's start to the last message recorded:

- ``--sweepers`` processes call ``store.wakeups.wake_due`` (pages of 200, ``SKIP LOCKED``, so
  they share the due women) until nothing is due: every woken pregnancy evaluated over the
  built-in library and written;
- ``--posters`` threads post ``--events`` signed HIS events (labs, visits, diagnoses for random
  women) to ``carepath.webapi`` under gunicorn (2 sync workers), each latency recorded;
- ``--dispatchers`` processes call ``delivery.dispatcher.dispatch_once`` (batch 100, 8 provider
  calls at a time) until the sweep has ended and nothing is due: the messages go to the fake
  WeChat (``tests/fakes/providers.py``) in a process of its own, over loopback.

Production runs PostgreSQL with autovacuum; this machine's server has it off. When it is off,
the day runs ``VACUUM ANALYZE`` of the tables it writes every ``--vacuum-every`` seconds (60) on
its own database, as autovacuum would (``Vacuum``; its CPU counted with the day's): without it the
planner keeps the seed's statistics all day and the claim walks the entries of rows long claimed.

``--one-by-one`` runs the stages in turn instead (the sweep, then the events, then the
dispatch), each with the machine to itself: each stage's own rate.

The bench's hospital sends at any hour (its send window 00:00–23:59; it allows draft content, as
no clinician has approved the library) so the day runs whenever
the machine is quiet; its daily cap stays 3. Printed: the day's wall time and the load average
at its start and end; per stage its count, rate and CPU seconds (each process's own, and
PostgreSQL's for its connections, read from ``/proc`` by ``application_name``: ``BackendCpu``);
the HIS events' latency; and the
count at the fake provider against the outbox: lost (recorded sent, never received; or due and
never sent) and duplicated (one message received more than once). Nothing here is asserted in
``make test``: it is a benchmark. Then, unless ``--day-only``, the issue's other figures, each
measured apart by its own benchmark (``APART``). Target (issue 22): 1M pregnancies, 200k woken, 50k events,
200k messages in ≤ 10 min, the median of 3 runs on a quiet machine.

Figures: docs/scale.md (*The day*).
"""

from __future__ import annotations

import argparse
import http.client
import multiprocessing
import os
import queue
import random
import resource
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from api import Client, free_port, percentile  # noqa: E402
from day_seed import OA_APPID, Seeded, seed  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402

from carepath.channels.base import make_http_client  # noqa: E402
from carepath.channels.inbox import MemoryInbox  # noqa: E402
from carepath.channels.registry import ChannelDeps, build_channels  # noqa: E402
from carepath.delivery.dispatch_settings import HospitalDelivery  # noqa: E402
from carepath.delivery.dispatcher import dispatch_once  # noqa: E402
from carepath.delivery.policy import HospitalPolicy  # noqa: E402
from carepath.delivery.token_store import DatabaseTokenStore  # noqa: E402
from carepath.store.crypto import FieldCipher, new_key  # noqa: E402
from carepath.store.db import Database  # noqa: E402
from carepath.store.wakeups import wake_due  # noqa: E402
from tests.fakes.providers import FakeProviders  # noqa: E402

SPAWN = multiprocessing.get_context("spawn")


def _load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def _machine_cpu() -> float:
    """CPU seconds the whole machine has spent (user + nice + system), from /proc/stat."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    return (int(fields[0]) + int(fields[1]) + int(fields[2])) / os.sysconf("SC_CLK_TCK")


def _process_cpu(pid: int) -> float:
    """CPU seconds of process ``pid`` so far (utime + stime), 0 if it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _children(pid: int) -> list[int]:
    found = subprocess.run(["pgrep", "-P", str(pid)], check=False, capture_output=True, text=True)
    return [int(p) for p in found.stdout.split()]


# --- the stages' processes ---------------------------------------------------------------------


def _sweeper(url: str, reports: Any) -> None:

    db = Database(url, pool_size=2, connect_args={"application_name": "carepath-day-sweep"})
    woken = 0
    began = time.perf_counter()
    empty = 0
    # a page skips women locked by the other sweeper or by an HIS event's evaluation (SKIP LOCKED):
    # ask again a few times once nothing comes, as the scheduler's next sweep would
    while empty < 3:
        page = wake_due(db, datetime.now(UTC), batch=200, limit=2_000)
        woken += len(page)
        if not page:
            empty += 1
            time.sleep(0.3)
    db.dispose()
    cpu = resource.getrusage(resource.RUSAGE_SELF)
    reports.put(("sweep", woken, time.perf_counter() - began, cpu.ru_utime + cpu.ru_stime))


def _dispatcher(url: str, base_url: str, sweep_done: Any, reports: Any) -> None:

    db = Database(url, pool_size=2, connect_args={"application_name": "carepath-day-dispatch"})
    cipher = FieldCipher.from_config(os.environ["CAREPATH_FIELD_KEYS"], os.environ["CAREPATH_LOOKUP_KEY"])
    config = {
        "inbox": {},
        "wechat_template": {
            "appid": OA_APPID,
            "secret": "wx-secret",
            "templates": {
                "checkup-reminder": "TPL-checkup",
                "questionnaire-due": "TPL-questionnaire",
                "follow-up": "TPL-follow-up",
                "inbox-digest": "TPL-digest",
            },
            "base_url": base_url,
        },
    }
    sent = 0
    began = time.perf_counter()
    with make_http_client(max_connections=8) as client:
        deps = ChannelDeps(client=client, token_store=DatabaseTokenStore(db), inbox=MemoryInbox())
        channels = build_channels(config, deps, {})
        # the window and the cap are the hospital's settings (any hour: day_seed)
        setup = HospitalDelivery(
            channels=channels, policy=HospitalPolicy(), accounts={"wechat_template": OA_APPID}
        )
        idle_after_sweep = 0
        while idle_after_sweep < 2:
            done_before = sweep_done.is_set()
            report = dispatch_once(db, datetime.now(UTC), lambda h: setup, 100, cipher=cipher, concurrency=8)
            sent += report.sent
            if report.sent == 0 and not report.rounds:
                if done_before:
                    idle_after_sweep += 1
                time.sleep(0.2)
    db.dispose()
    cpu = resource.getrusage(resource.RUSAGE_SELF)
    reports.put(("dispatch", sent, time.perf_counter() - began, cpu.ru_utime + cpu.ru_stime))


def _fake_provider(conn: Any) -> None:
    """The fake WeChat until told to stop; then what it received, by client_msg_id."""
    # as WeChat does, a repeated client_msg_id within its window is answered but not delivered
    # again: the delivery guarantee's retry of an unknown outcome (docs/delivery.md)
    with FakeProviders(wechat_accounts={OA_APPID: "wx-secret"}, client_msg_id_window=600.0) as fake:
        conn.send(fake.base_url)
        conn.recv()
        calls = Counter(
            str(r.payload.get("client_msg_id") or r.payload.get("touser"))
            for r in fake.requests
            if r.route == "wechat.template"
        )
        delivered = Counter(
            str(r.payload.get("client_msg_id") or r.payload.get("touser"))
            for r in fake.delivered("wechat.template")
        )
        conn.send(
            (
                sum(calls.values()),
                len(delivered),
                sum(1 for n in calls.values() if n > 1),
                sum(1 for n in delivered.values() if n > 1),
            )
        )


# --- the HIS ------------------------------------------------------------------------------------


def _event(n: int, women: int) -> dict[str, Any]:
    """A mix of what the HIS posts most, for a random woman of the seed."""
    his_id = f"d-{random.randint(1, women)}"
    now = datetime.now(UTC).isoformat(timespec="seconds")
    kind = n % 10
    if kind < 6:
        body: dict[str, Any] = {
            "type": "lab.result",
            "data": {"code": "hb", "value": 100 + n % 30, "unit": "g/L"},
        }
    elif kind < 9:
        body = {"type": "encounter.completed", "data": {"kind": "anc-contact"}}
    else:
        body = {"type": "diagnosis.added", "data": {"code": "O24.401", "name": "妊娠期糖尿病"}}
    return {"id": f"day-{uuid.uuid4().hex}", "occurred_at": now, "patient": {"his_id": his_id}, **body}


def _post_events(port: int, key: dict[str, str], count: int, posters: int, women: int) -> dict[str, Any]:
    feed: queue.Queue[int] = queue.Queue()
    for n in range(count):
        feed.put(n)
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    lock = threading.Lock()

    def work() -> None:
        client = Client(port, key)
        while True:
            try:
                n = feed.get_nowait()
            except queue.Empty:
                return
            began = time.perf_counter()
            try:
                status, _ = client.post("/api/v1/events", _event(n, women))
            except (OSError, http.client.HTTPException):
                client = Client(port, key)
                status = 599
            with lock:
                latencies.append((time.perf_counter() - began) * 1000)
                statuses[status] += 1

    began = time.perf_counter()
    threads = [threading.Thread(target=work) for _ in range(posters)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {"seconds": time.perf_counter() - began, "latencies": latencies, "statuses": statuses}


# --- the day ------------------------------------------------------------------------------------


class Periodic:
    """A thread of the bench's own that calls ``tick`` every ``every`` seconds on its own
    connection (``application_name`` says whose CPU it is) from ``__enter__`` to ``__exit__``."""

    def __init__(self, url: str, every: float, name: str, **engine_options: Any) -> None:
        self.engine = create_engine(url, connect_args={"application_name": name}, **engine_options)
        self.every = every
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)

    def tick(self) -> None:
        raise NotImplementedError

    def _loop(self) -> None:
        while not self.stop.wait(self.every):
            self.tick()

    def __enter__(self) -> Self:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()
        self.engine.dispose()


class BackendCpu(Periodic):
    """PostgreSQL's CPU per stage: every second, each backend of this run's database is read
    from ``/proc`` (the server runs on this machine; a backend's CPU is its process's) and kept
    by its ``application_name``; a backend's last reading counts, so at most a second of each
    connection's work is missed when it closes. The database is the run's own, so no other
    user's backend is counted."""

    def __init__(self, url: str, database: str) -> None:
        super().__init__(url, 1.0, "carepath-day-watch")
        self.database = database
        self.last: dict[int, tuple[str, float]] = {}
        self.started: dict[int, float] = {}

    def tick(self) -> None:
        with self.engine.connect() as conn:
            rows = conn.execute(
                text("SELECT pid, application_name FROM pg_stat_activity WHERE datname = :d"),
                {"d": self.database},
            ).all()
        for pid, name in rows:
            cpu = _process_cpu(pid)
            self.started.setdefault(pid, cpu)
            self.last[pid] = (name or "?", cpu)

    def __enter__(self) -> Self:
        self.tick()  # what each open connection had spent before the day
        return super().__enter__()

    def by_name(self) -> dict[str, float]:
        found: Counter[str] = Counter()
        for pid, (name, cpu) in self.last.items():
            found[name] += cpu - self.started.get(pid, 0.0)
        return dict(found)


class Vacuum(Periodic):
    """What autovacuum does in production, on the run's own database, when this server has it
    off (this machine's CI configuration does): ``VACUUM ANALYZE`` of the tables the day writes
    every ``every`` seconds. Without it the planner keeps the seed's statistics all day (the
    daily cap's count picked a plan that read every message ever sent) and the claim walks the
    index entries of every row already claimed. Its PostgreSQL CPU is counted with the day's,
    as ``carepath-day-vacuum``."""

    TABLES = ("outbox", "pregnancies", "inbox_items", "events", "staff_tasks", "enrolments")

    def __init__(self, url: str, every: float) -> None:
        super().__init__(url, every, "carepath-day-vacuum", isolation_level="AUTOCOMMIT")
        self.runs = 0

    def tick(self) -> None:
        with self.engine.connect() as conn:
            for table in self.TABLES:
                conn.execute(text(f"VACUUM ANALYZE {table}"))  # our own tables' names
        self.runs += 1


def autovacuum_is_on(url: str) -> bool:
    engine = create_engine(url)
    with engine.connect() as conn:
        on = conn.execute(text("SHOW autovacuum")).scalar_one() == "on"
    engine.dispose()
    return on


def day(args: argparse.Namespace, url: str, config: dict[str, str], seeded: Seeded) -> float:
    """One day on the database at ``url``; prints its figures, returns its wall seconds."""
    env = {**os.environ, **config, "CAREPATH_DATABASE_URL": url + "?application_name=carepath-day-api"}
    os.environ.update(config)  # the spawned stages read the keys from their environment
    parent, child = SPAWN.Pipe()
    provider = SPAWN.Process(target=_fake_provider, args=(child,), daemon=True)
    provider.start()
    base_url = parent.recv()
    port = free_port()
    server = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "--workers", "2", "--bind", f"127.0.0.1:{port}", "--log-level", "warning",
            "--timeout", "300", "carepath.webapi:create_app()",
        ],
        env=env,
    )  # fmt: skip
    for _ in range(300):
        try:
            http.client.HTTPConnection("127.0.0.1", port, timeout=1).request("GET", "/healthz")
            break
        except OSError:
            time.sleep(0.1)
    _post_events(port, seeded.key, 20, 2, seeded.women)  # warm: each worker compiles the library
    reports: Any = SPAWN.Queue()
    sweep_done = SPAWN.Event()
    watch = BackendCpu(url, url.rsplit("/", 1)[1]).__enter__()
    vacuum = None
    if args.vacuum_every > 0 and not autovacuum_is_on(url):
        vacuum = Vacuum(url, args.vacuum_every).__enter__()
    load_start, machine_start = _load(), _machine_cpu()
    fake_cpu_start = _process_cpu(provider.pid or 0)
    own = resource.getrusage(resource.RUSAGE_SELF)
    poster_cpu_start = own.ru_utime + own.ru_stime
    began = time.perf_counter()
    sweepers = [SPAWN.Process(target=_sweeper, args=(url, reports)) for _ in range(args.sweepers)]
    dispatchers = [
        SPAWN.Process(target=_dispatcher, args=(url, base_url, sweep_done, reports))
        for _ in range(args.dispatchers)
    ]
    server_pids = [server.pid, *_children(server.pid)]
    server_cpu_start = sum(_process_cpu(pid) for pid in server_pids)
    walls: dict[str, float] = {}
    if args.one_by_one:  # each stage alone: its own rate, with the machine to itself
        for p in sweepers:
            p.start()
        for p in sweepers:
            p.join()
        walls["sweep"] = time.perf_counter() - began
        sweep_done.set()
        posted = _post_events(port, seeded.key, args.events, args.posters, seeded.women)
        walls["events"] = posted["seconds"]
        started = time.perf_counter()
        for p in dispatchers:
            p.start()
        for p in dispatchers:
            p.join()
        walls["dispatch"] = time.perf_counter() - started
    else:  # the day: every stage at once
        for p in sweepers + dispatchers:
            p.start()
        posted = _post_events(port, seeded.key, args.events, args.posters, seeded.women)
        walls["events"] = posted["seconds"]
        for p in sweepers:
            p.join()
        walls["sweep"] = time.perf_counter() - began
        sweep_done.set()
        for p in dispatchers:
            p.join()
        walls["dispatch"] = time.perf_counter() - began
    server_cpu = sum(_process_cpu(pid) for pid in server_pids) - server_cpu_start
    stages: dict[str, list[tuple[int, float, float]]] = {"sweep": [], "dispatch": []}
    seconds = time.perf_counter() - began
    machine_cpu = _machine_cpu() - machine_start
    load_end = _load()
    fake_cpu = _process_cpu(provider.pid or 0) - fake_cpu_start
    own = resource.getrusage(resource.RUSAGE_SELF)
    poster_cpu = own.ru_utime + own.ru_stime - poster_cpu_start
    if vacuum is not None:
        vacuum.__exit__()
    watch.__exit__()
    database_cpu = watch.by_name()
    while True:
        try:
            stage, count, elapsed, cpu = reports.get(timeout=1)
        except queue.Empty:
            break
        stages[stage].append((count, elapsed, cpu))
    server.terminate()
    server.wait(timeout=30)
    parent.send("stop")
    received, distinct, called_again, repeated = parent.recv()
    provider.join(timeout=30)

    engine = create_engine(url)
    with engine.connect() as conn:
        by_status = dict(conn.execute(text("SELECT status, count(*) FROM outbox GROUP BY status")).all())
        sent_rows = int(
            conn.execute(
                text("SELECT count(*) FROM outbox WHERE status = 'sent' AND channel = 'wechat_template'")
            ).scalar_one()
        )
        asleep = int(
            conn.execute(text("SELECT count(*) FROM pregnancies WHERE next_wakeup <= now()")).scalar_one()
        )
        still_due = int(
            conn.execute(
                text("SELECT count(*) FROM outbox WHERE status = 'due' AND due_at <= now()")
            ).scalar_one()
        )
    engine.dispose()

    woken = sum(c for c, _, _ in stages["sweep"])
    sent = sum(c for c, _, _ in stages["dispatch"])
    sweep_cpu = sum(cpu for _, _, cpu in stages["sweep"])
    dispatch_cpu = sum(cpu for _, _, cpu in stages["dispatch"])
    events_ok = posted["statuses"].get(200, 0) + posted["statuses"].get(201, 0)
    latencies = posted["latencies"]
    mode = "one stage at a time" if args.one_by_one else "every stage at once"
    print(f"the day ({mode}): {seconds:.1f} s wall; load average at the start {load_start}, end {load_end}")
    if vacuum is not None:
        print(
            f"  autovacuum is off on this server: the day ran VACUUM ANALYZE of its tables every "
            f"{args.vacuum_every:g} s on its own database, as autovacuum would ({vacuum.runs} times)"
        )
    print(
        f"  sweep: {woken:,} pregnancies woken in {walls['sweep']:.1f} s by {args.sweepers} processes "
        f"= {woken / walls['sweep']:,.0f}/s; "
        f"CPU {sweep_cpu:.1f} s ({sweep_cpu / max(woken, 1) * 1e3:.2f} ms each)"
    )
    print(
        f"  dispatch: {sent:,} messages by {args.dispatchers} processes in {walls['dispatch']:.1f} s "
        f"= {sent / walls['dispatch']:,.0f} msg/s; "
        f"CPU {dispatch_cpu:.1f} s ({dispatch_cpu / max(sent, 1) * 1e3:.2f} ms each)"
    )
    print(
        f"  HIS events: {len(latencies):,} posted in {posted['seconds']:.1f} s = "
        f"{len(latencies) / posted['seconds']:,.0f}/s from {args.posters} connections; "
        f"p50 {percentile(latencies, 50):.0f} ms, p99 {percentile(latencies, 99):.0f} ms; "
        f"answers {dict(posted['statuses'])} ({events_ok:,} accepted); gunicorn CPU {server_cpu:.1f} s"
    )
    accounted = sweep_cpu + dispatch_cpu + server_cpu + sum(database_cpu.values()) + fake_cpu + poster_cpu
    print(
        f"  the machine's CPU in the day: {machine_cpu:.1f} s of {seconds * (os.cpu_count() or 1):.1f} s "
        f"(the stages' own processes {sweep_cpu + dispatch_cpu + server_cpu:.1f} s, PostgreSQL's for "
        f"this run {sum(database_cpu.values()):.1f} s, the fake WeChat's {fake_cpu:.1f} s, the HIS "
        f"posters' {poster_cpu:.1f} s; anything else the machine ran: "
        f"{machine_cpu - accounted:.1f} s)"
    )
    print(
        "  PostgreSQL's CPU by connection: "
        + ", ".join(f"{name} {cpu:.1f} s" for name, cpu in sorted(database_cpu.items()))
        + f" (all: {sum(database_cpu.values()):.1f} s)"
    )
    print(f"  the outbox after the day: {by_status}; due and not sent: {still_due}")
    print(f"  pregnancies still due to wake after the day: {asleep}")
    lost = max(sent_rows - distinct, 0) + still_due
    print(
        f"  at the fake WeChat: {received:,} template calls, {distinct:,} messages delivered; "
        f"lost {lost} (recorded sent {sent_rows:,}), delivered twice {repeated}; "
        f"calls repeated with the same client_msg_id {called_again} (retries of an unknown outcome, "
        f"dropped as WeChat drops them)"
    )
    return seconds


def wait_for_quiet(below: float, most: float) -> str:
    """Wait until the 1-minute load average is under ``below`` (at most ``most`` seconds): the
    issue's runs start on a quiet machine. Says what it found either way."""
    waited = 0.0
    while os.getloadavg()[0] >= below and waited < most:
        time.sleep(10)
        waited += 10
    quiet = os.getloadavg()[0] < below
    return f"load average {_load()} after waiting {waited:.0f} s" + (
        "" if quiet else f" (NOT below {below:g})"
    )


def clone(admin: Any, template: str, name: str) -> None:
    """A run's own copy of the seeded database (PostgreSQL copies its files: ~1 min at 1M, far
    less than seeding again), so three runs share one seed."""
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name} TEMPLATE {template}"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pregnancies", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--sweepers", type=int, default=2)
    parser.add_argument("--dispatchers", type=int, default=2)
    parser.add_argument("--posters", type=int, default=4)
    parser.add_argument(
        "--one-by-one",
        action="store_true",
        help="the sweep, then the HIS events, then the dispatch, each alone (each stage's own rate)",
    )
    parser.add_argument(
        "--day-only",
        action="store_true",
        help="skip the figures measured apart after the day (HIS events, matcher, cohort, dispatcher)",
    )
    parser.add_argument(
        "--log-slow",
        type=int,
        metavar="MS",
        help="log this run's statements slower than MS to the server's log (this database only)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the database (drop it by hand)")
    parser.add_argument(
        "--runs",
        type=int,
        default=1,
        help="days run on copies of one seed (the issue asks for the median of 3)",
    )
    parser.add_argument(
        "--vacuum-every",
        type=float,
        default=60.0,
        help="when the server's autovacuum is off: VACUUM ANALYZE the run's tables this often (0: never)",
    )
    parser.add_argument("--quiet-below", type=float, default=1.0, help="a run waits for this load average")
    parser.add_argument("--quiet-wait", type=float, default=600.0, help="seconds a run waits for it at most")
    parser.add_argument(
        "--database",
        default=os.environ.get(
            "CAREPATH_BENCH_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
        ),
        help="a database to connect to while creating this run's own",
    )
    args = parser.parse_args()
    name = f"carepath_day_{uuid.uuid4().hex[:8]}"
    admin = create_engine(args.database, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
        if args.log_slow is not None:  # the run's own database: no other user's statements logged
            conn.execute(text(f"ALTER DATABASE {name} SET log_min_duration_statement = {int(args.log_slow)}"))
    url = args.database.rsplit("/", 1)[0] + f"/{name}"
    config = {
        "CAREPATH_DATABASE_URL": url,
        "CAREPATH_FIELD_KEYS": "k1:" + new_key(),
        "CAREPATH_LOOKUP_KEY": new_key(),
        "CAREPATH_SECRET_KEY": new_key(),
    }
    try:
        print(f"load average before seeding: {_load()}; database {name}")
        seeded = seed(url, config, args.pregnancies)
        print(
            f"seeded {seeded.women:,} pregnancies ({seeded.due:,} due to wake, "
            f"{seeded.messages:,} due messages) "
            f"in {seeded.seconds:.0f} s; the database holds {seeded.bytes / 1e9:.2f} GB, "
            f"{seeded.bytes / seeded.women:,.0f} bytes a pregnancy"
        )
        if args.runs == 1:
            day(args, url, config, seeded)
        else:
            walls = []
            for run in range(1, args.runs + 1):
                copy = f"{name}_run{run}"
                started = time.perf_counter()
                clone(admin, name, copy)
                cloned = time.perf_counter() - started
                quiet = wait_for_quiet(args.quiet_below, args.quiet_wait)
                print(f"== run {run} of {args.runs}: {copy}, cloned in {cloned:.0f} s; {quiet}", flush=True)
                walls.append(day(args, url.rsplit("/", 1)[0] + f"/{copy}", config, seeded))
                _drop(admin, copy)
            print(
                f"the day, median of {args.runs} runs: {statistics.median(walls):.1f} s "
                f"({', '.join(f'{w:.1f}' for w in walls)})"
            )
        if not args.keep:
            _drop(admin, name)
        if not args.day_only:
            apart()
    finally:
        if args.keep:
            print(f"kept: the database {name} (DROP DATABASE {name} WITH (FORCE))")
        else:
            _drop(admin, name)
        admin.dispose()


def _drop(admin: Any, name: str) -> None:
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))


#: The issue's other figures, each its own benchmark, run after the day (``--day-only`` skips them).
APART = (
    ("single and batched HIS events, p99 at 200/s, statements per event", ["bench/api.py"]),
    ("the matcher against durable-rules and zen-engine, 50 rules", ["bench/matcher.py"]),
    (
        "a 10k-woman cohort over the library",
        ["bench/simulate.py", "--patients", "10000", "--jobs", "2", "--pathways", "library"],
    ),
    ("the dispatcher alone", ["bench/delivery.py", "--only", "dispatch", "--messages", "5000"]),
)


def apart() -> None:
    for title, command in APART:
        print(f"== {title}: {' '.join(command)} (load average {_load()})", flush=True)
        subprocess.run([sys.executable, *command], cwd=ROOT, check=False)


if __name__ == "__main__":
    main()
