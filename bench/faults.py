"""Fault runs (issue 22, "Fault runs"): one command that seeds a day on the local cluster
(``scripts/cluster``: a PostgreSQL database and a RabbitMQ node of its own, 2 API processes,
2 workers, an active and a standby scheduler), sends the day's messages to the fake WeChat, and
injects four faults in turn while the pipeline is busy:

1. ``worker``: SIGKILL a worker mid-page — once the phase's sweep is done and messages are in
   flight, so that the page killed is a dispatch batch (a killed sweep page only rolls back);
   then ``scripts/cluster start`` brings it back;
2. ``broker``: stop the cluster's own RabbitMQ node, wait ``--broker-down`` s, start it again
   (``scripts/cluster broker-stop`` / ``broker-start``; the machine's node is never touched);
3. ``database``: terminate the cluster's own PostgreSQL connections, chosen by their
   ``application_name`` and database (never another user's: the server is shared);
4. ``scheduler``: SIGKILL the active scheduler (the one whose pid the ``enqueue`` heartbeat
   names); the standby takes over;
5. ``none``: no fault, the baseline: the lag and the alert that the phase's backlog alone gives.

    .venv/bin/python bench/faults.py [--pregnancies 20000] [--broker-down 20] [--limit 30]

**The seed** is the day's (``bench/day_seed.py``) in the cluster's own database
``carepath_cluster_faults`` (dropped at the start and by ``scripts/cluster drop`` at the end):
then nothing due while the cluster starts (``_quiet``). Before each fault a fifth of the women
is made due with one WeChat reminder each (``_make_due``, as the seed does), so each fault
meets a busy pipeline: its own women to wake and its own messages to send. The fault is
injected once the fake has received a tenth of that phase's reminders (mid-flow).

**After each fault** it waits until the phase is drained (nothing due to wake, nothing due to
send, nothing in flight), polling ``/healthz/pipeline`` every second: the largest stage lag
seen, whether the alert was raised while it was behind (a 503, or a stage's lag over
``PIPELINE_MAX_LAG_SECONDS``, set to ``--limit`` for the cluster so that a minutes-long run can
raise it), and the seconds from the fault until drained with every lag back under 2 minutes.
Then the count at the fake WeChat against the outbox: lost (a row recorded ``sent`` whose
message never arrived, or still due), duplicated (a message she received twice: a
``client_msg_id`` delivered more than once; the fake drops a repeat within 600 s as WeChat
does), and the rows the delivery guarantee leaves to staff (``failed``/``outcome-unknown``).

Prints a table (docs/scale.md, "Fault runs") and the load average. Stops and drops the cluster
at the end, also on failure. A benchmark: nothing here is asserted in ``make test``
(``tests/workers/test_faults.py`` and its neighbours are the small versions).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from day_seed import DUE_EVERY, HOSPITAL, OA_APPID, seed  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402

from carepath.store.crypto import new_key  # noqa: E402
from tests.fakes.providers import FakeProviders  # noqa: E402

SERVER = os.environ.get("CLUSTER_PG", "postgresql://postgres@127.0.0.1:5432")
DB = "carepath_cluster_faults"  # scripts/cluster drops only names starting carepath_cluster
APP_NAME = "carepath-cluster-faults"  # the cluster's connections; the only ones terminated
PORTS = {"CLUSTER_API_PORT": "8110", "CLUSTER_AMQP_PORT": "5692", "CLUSTER_DIST_PORT": "25692"}
CLUSTER_DIR = ROOT / "instance" / "faults"
FAULTS = ("worker", "broker", "database", "scheduler", "none")  # "none": the baseline, no fault
RECOVERED_LAG = 120.0  # "the lag back under 2 minutes"
TEMPLATES = {
    "checkup-reminder": "TPL-checkup",
    "questionnaire-due": "TPL-questionnaire",
    "follow-up": "TPL-follow-up",
    "inbox-digest": "TPL-digest",
}


def _load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


@dataclass
class Result:
    fault: str
    messages: int  # the phase's reminders
    detail: str
    max_lag: float
    max_in_flight: float  # the oldest row in flight, seconds (not part of the stage lags)
    alert: bool
    recovered: float | None  # seconds from the fault until drained and lag < 2 min
    lost: int
    duplicated: int
    outcome_unknown: int
    load: str


class Cluster:
    """``scripts/cluster`` with this run's settings; its connections named ``APP_NAME``."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.api = f"http://127.0.0.1:{PORTS['CLUSTER_API_PORT']}"

    def run(self, command: str) -> None:
        subprocess.run([str(ROOT / "scripts" / "cluster"), command], env=self.env, check=True, cwd=ROOT)

    def pid(self, name: str) -> int:
        return int((CLUSTER_DIR / "pids" / f"{name}.pid").read_text())

    def pipeline(self) -> tuple[int, dict[str, Any]]:
        try:
            with urllib.request.urlopen(f"{self.api}/healthz/pipeline", timeout=10) as answer:
                return answer.status, json.loads(answer.read())
        except urllib.error.HTTPError as error:  # the 503 carries the body too
            return error.code, json.loads(error.read() or b"{}")
        except (OSError, ValueError):
            return 0, {}


def _make_due(engine: Any, phase: int) -> int:
    """Another fifth of the women (``g % 5 == phase``) due now, each with one WeChat reminder,
    as the seed made the first fifth (``day_seed._copies``)."""
    now = datetime.now(UTC)
    with engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE pregnancies SET next_wakeup = :now WHERE hospital_id = :h "
                "AND his_pregnancy_id LIKE 'd-%' "
                "AND CAST(substr(his_pregnancy_id, 3) AS bigint) % :every = :phase"
            ),
            {"now": now, "h": HOSPITAL, "every": DUE_EVERY, "phase": phase},
        )
        return int(
            conn.execute(
                text(
                    "INSERT INTO outbox (hospital_id, pregnancy_id, dedupe_key, pathway_id, version, "
                    "rule_id, kind, params, due_at, channels, enrolment_id, why, status, attempts, "
                    "created_at, updated_at) SELECT p.hospital_id, p.id, :prefix || p.his_pregnancy_id, "
                    "'anc', '1', 'r', 'remind', CAST(:params AS json), :now, CAST(:channels AS json), 'e', "
                    "'fault run', 'due', 0, :now, :now FROM pregnancies p WHERE p.hospital_id = :h "
                    "AND p.his_pregnancy_id LIKE 'd-%' "
                    "AND CAST(substr(p.his_pregnancy_id, 3) AS bigint) % :every = :phase"
                ),
                {
                    "h": HOSPITAL,
                    "phase": phase,
                    "prefix": f"fault-{phase}-",
                    "every": DUE_EVERY,
                    "now": now,
                    "params": '{"visit": "anc-2"}',
                    "channels": '["wechat"]',
                },
            ).rowcount
        )


def _quiet(engine: Any) -> None:
    """Nothing due when the cluster starts: each phase makes its own fifth due (``_make_due``),
    so that its lag is the fault's and the backlog's, not the time the seed and start took."""
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM outbox WHERE dedupe_key LIKE 'day-%'"))
        conn.execute(
            text("UPDATE pregnancies SET next_wakeup = now() + interval '2 days' WHERE next_wakeup <= now()")
        )


def _backlog(engine: Any) -> tuple[tuple[int, int, int], float]:
    """(pregnancies due to wake, messages due to send, messages in flight) now, and the age of
    the oldest row in flight (which ``/healthz/pipeline``'s stage lags do not count)."""
    with engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT (SELECT count(*) FROM pregnancies WHERE next_wakeup <= now()), "
                "(SELECT count(*) FROM outbox WHERE status = 'due' AND due_at <= now()), "
                "(SELECT count(*) FROM outbox WHERE status = 'in_flight'), "
                "(SELECT extract(epoch FROM now() - min(in_flight_at)) FROM outbox "
                "WHERE status = 'in_flight')"
            )
        ).one()
    return (int(row[0]), int(row[1]), int(row[2])), float(row[3] or 0)


def _delivered_count(fake: FakeProviders) -> int:
    return len(fake.delivered("wechat.template"))


def _count(engine: Any, fake: FakeProviders) -> tuple[int, int, int]:
    """(lost, duplicated, failed: outcome-unknown for staff) so far, at the fake against the outbox."""
    by_id = Counter(str(r.payload.get("client_msg_id")) for r in fake.delivered("wechat.template"))
    with engine.connect() as conn:
        sent = int(
            conn.execute(
                text("SELECT count(*) FROM outbox WHERE status = 'sent' AND channel = 'wechat_template'")
            ).scalar_one()
        )
        due = int(
            conn.execute(
                text("SELECT count(*) FROM outbox WHERE status = 'due' AND due_at <= now()")
            ).scalar_one()
        )
        unknown = int(conn.execute(text("SELECT count(*) FROM outbox WHERE status = 'failed'")).scalar_one())
    return max(sent - len(by_id), 0) + due, sum(n - 1 for n in by_id.values()), unknown


def _inject(fault: str, cluster: Cluster, engine: Any, broker_down: float) -> str:
    if fault == "worker":
        pid = cluster.pid("worker-1")
        os.kill(pid, signal.SIGKILL)
        with engine.connect() as conn:
            flight = conn.execute(text("SELECT count(*) FROM outbox WHERE status = 'in_flight'")).scalar_one()
        cluster.run("start")  # launches what is not running: the killed worker
        return f"SIGKILL worker-1 (pid {pid}); {flight} rows in flight then; restarted"
    if fault == "broker":
        cluster.run("broker-stop")
        time.sleep(broker_down)
        cluster.run("broker-start")
        return f"node stopped {broker_down:.0f} s, started again"
    if fault == "database":
        with engine.connect() as conn:
            killed = conn.execute(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE application_name = :name AND datname = :db AND pid <> pg_backend_pid()"
                ),
                {"name": APP_NAME, "db": DB},
            ).scalar_one()
        return f"{killed} connections named {APP_NAME} terminated"
    if fault == "none":
        return "no fault: the baseline (the backlog alone)"
    with engine.connect() as conn:  # the scheduler: the active one beats ``enqueue``
        holder = str(
            conn.execute(text("SELECT holder FROM pipeline_heartbeats WHERE job = 'enqueue'")).scalar_one()
        )
    pid = int(holder.rsplit(":", 1)[1])
    os.kill(pid, signal.SIGKILL)
    return f"SIGKILL the active scheduler (pid {pid}); the standby takes over"


def _phase(  # noqa: PLR0917 - the run's parts
    fault: str, phase: int, cluster: Cluster, engine: Any, fake: FakeProviders, args: argparse.Namespace
) -> Result:
    before = _delivered_count(fake)
    messages = _make_due(engine, phase)
    deadline = time.monotonic() + 600
    while _delivered_count(fake) - before < max(messages // 10, 1):  # mid-flow
        if time.monotonic() > deadline:
            raise TimeoutError(f"{fault}: the phase's messages never started to flow")
        time.sleep(0.1)
    while fault == "worker":  # kill a dispatching worker: the sweep done, messages in flight
        backlog, _ = _backlog(engine)
        if backlog[0] == 0 and backlog[2] > 0:
            break
        if time.monotonic() > deadline:
            raise TimeoutError("worker: no dispatch page in flight after the sweep")
        time.sleep(0.05)
    injected = time.monotonic()
    detail = _inject(fault, cluster, engine, args.broker_down)
    max_lag, max_in_flight, alert, recovered = 0.0, 0.0, False, None
    while time.monotonic() - injected < 900:
        status, body = cluster.pipeline()
        lags = [float(s.get("lag_seconds") or 0) for s in (body.get("stages") or {}).values()]
        lag = max(lags, default=0.0)
        max_lag = max(max_lag, lag)
        alert = alert or status == 503 or lag > args.limit
        backlog, in_flight = _backlog(engine)
        max_in_flight = max(max_in_flight, in_flight)
        if status and lag < RECOVERED_LAG and backlog == (0, 0, 0):
            recovered = time.monotonic() - injected
            break
        time.sleep(1)
    time.sleep(2)  # late answers from the fake's threads
    lost, duplicated, unknown = _count(engine, fake)
    return Result(
        fault, messages, detail, max_lag, max_in_flight, alert, recovered, lost, duplicated, unknown, _load()
    )


def _channels_file(folder: Path, base_url: str) -> Path:
    path = folder / "channels.yaml"
    config = {
        "hospital": HOSPITAL,
        "channels": {
            "inbox": {},
            "wechat_template": {
                "appid": OA_APPID,
                "secret_env": "FAULTS_WECHAT_SECRET",
                "base_url": base_url,
                "templates": TEMPLATES,
            },
        },
        "delivery": {
            "window": {"timezone": "Asia/Shanghai", "opens": "00:00", "closes": "23:59"},
            "daily_cap": 3,
            "fallback_order": ["wechat_template", "inbox"],
        },
    }
    path.write_text(json.dumps(config))  # JSON is YAML
    return path


def _table(results: list[Result], limit: float) -> str:
    lines = [
        "| fault | messages | what was done | max stage lag | oldest in flight | "
        f"alert (>{limit:.0f} s or 503) | drained, lag < 2 min after | lost | duplicated | "
        "failed/outcome-unknown | load average |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        recovered = f"{r.recovered:.0f} s" if r.recovered is not None else "not within 15 min"
        lines.append(
            f"| {r.fault} | {r.messages:,} | {r.detail} | {r.max_lag:.0f} s | {r.max_in_flight:.0f} s | "
            f"{'yes' if r.alert else 'no'} | "
            f"{recovered} | {r.lost} | {r.duplicated} | {r.outcome_unknown} | {r.load} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--pregnancies", type=int, default=20_000, help="the day's women (the issue: 100,000)"
    )
    parser.add_argument(
        "--broker-down", type=float, default=20.0, help="seconds the RabbitMQ node stays down"
    )
    parser.add_argument("--limit", type=float, default=30.0, help="PIPELINE_MAX_LAG_SECONDS for the cluster")
    parser.add_argument("--only", choices=FAULTS, action="append", help="only these faults (repeatable)")
    args = parser.parse_args()
    config = {
        "CAREPATH_FIELD_KEYS": "k1:" + new_key(),
        "CAREPATH_LOOKUP_KEY": new_key(),
        "CAREPATH_SECRET_KEY": new_key(),
    }
    admin = create_engine(f"postgresql+psycopg://{SERVER.removeprefix('postgresql://')}/postgres")
    url = f"postgresql+psycopg://{SERVER.removeprefix('postgresql://')}/{DB}"
    folder = Path(tempfile.mkdtemp(prefix="bench-faults-"))
    print(f"load average at the start: {_load()}; {os.cpu_count()} CPUs")
    with FakeProviders(wechat_accounts={OA_APPID: "wx-secret"}, client_msg_id_window=600.0) as fake:
        env = {
            **os.environ,
            **config,
            **PORTS,
            "CLUSTER_DIR": str(CLUSTER_DIR),
            "CLUSTER_DB": DB,
            "CLUSTER_NODE": "carepath-faults",
            "CLUSTER_APP_NAME": APP_NAME,
            "CLUSTER_SEEDED": "1",
            "CLUSTER_CHANNELS": str(_channels_file(folder, fake.base_url)),
            "CLUSTER_SCHEDULER_ARGS": "--sweep-every 5 --dispatch-every 2",
            "CAREPATH_PIPELINE_MAX_LAG_SECONDS": str(int(args.limit)),
            "FAULTS_WECHAT_SECRET": "wx-secret",
        }
        cluster = Cluster(env)
        cluster.run("drop")  # a previous run's database and processes, if any
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text(f"CREATE DATABASE {DB}"))
        engine = create_engine(url, connect_args={"application_name": "carepath-faults-bench"})
        results: list[Result] = []
        try:
            seeded = seed(f"{url}?application_name=carepath-faults-seed", {**config}, args.pregnancies)
            print(f"seeded {seeded.women:,} pregnancies ({seeded.due:,} due, {seeded.messages:,} messages)")
            _quiet(engine)
            cluster.run("start")
            for phase, fault in enumerate(FAULTS):
                if args.only and fault not in args.only:
                    continue
                print(f"== {fault} (load average {_load()})", flush=True)
                result = _phase(fault, phase, cluster, engine, fake, args)
                print(f"   {_table([result], args.limit).splitlines()[-1]}", flush=True)
                results.append(result)
        finally:
            engine.dispose()
            cluster.run("drop")
            admin.dispose()
    print(_table(results, args.limit))
    print(f"load average at the end: {_load()}")


if __name__ == "__main__":
    main()
