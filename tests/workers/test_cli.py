"""``carepath scheduler --enqueue`` and ``carepath worker`` as an operator runs them (the CLI
wiring: the app, the channels, the broker options), against queues of the test's own on the
machine's RabbitMQ: the scheduler enqueues, the worker runs the pages and beats, SIGTERM stops
both cleanly. SQLite: the store's side is the other tests' (both databases)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from carepath.store.db import Database, upgrade
from carepath.store.models import PipelineHeartbeat
from tests.conftest import FIELD_KEYS, LOOKUP_KEY
from tests.workers.conftest import ROOT

TIMEOUT = 60


def _holders(database: Database) -> dict[str, str]:
    with database.reading() as session:
        return {row.job: row.holder for row in session.query(PipelineHeartbeat)}


def test_the_scheduler_enqueues_and_the_worker_runs_the_pages(tmp_path: Path, broker: Any) -> None:
    url = f"sqlite:///{tmp_path / 'cluster.db'}"
    upgrade(url)
    queue_url, prefix = broker
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "CAREPATH_DATABASE_URL": url,
        "CAREPATH_FIELD_KEYS": FIELD_KEYS,
        "CAREPATH_LOOKUP_KEY": LOOKUP_KEY,
        "CAREPATH_INSTANCE_PATH": str(tmp_path / "instance"),
        "CAREPATH_QUEUE_URL": queue_url,
        "CAREPATH_QUEUE_PREFIX": prefix,
    }
    carepath = [sys.executable, "-c", "from carepath.cli import main; main()"]
    commands = {
        "worker": [*carepath, "worker"],
        "scheduler": [*carepath, "scheduler", "--enqueue", "--sweep-every", "1", "--dispatch-every", "1"],
    }
    logs = {name: tmp_path / f"{name}.log" for name in commands}
    processes: dict[str, subprocess.Popen[bytes]] = {}
    database = Database(url)
    try:
        for name, command in commands.items():
            with logs[name].open("wb") as stderr:
                processes[name] = subprocess.Popen(
                    command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=stderr
                )
        host = socket.gethostname()
        expected = {
            "enqueue": f"{host}:{processes['scheduler'].pid}",
            "sweep": f"{host}:{processes['worker'].pid}",
            "dispatch": f"{host}:{processes['worker'].pid}",
        }
        deadline = time.monotonic() + TIMEOUT
        while {job: _holders(database).get(job) for job in expected} != expected:
            if time.monotonic() > deadline or any(p.poll() is not None for p in processes.values()):
                raise TimeoutError("\n".join(f"{n}:\n{log.read_text()}" for n, log in logs.items()))
            time.sleep(0.1)
        for process in processes.values():
            process.send_signal(signal.SIGTERM)
        codes = {name: process.wait(TIMEOUT) for name, process in processes.items()}
    finally:
        for process in processes.values():
            if process.poll() is None:
                process.kill()
                process.wait()
        database.dispose()
    output = {name: log.read_text() for name, log in logs.items()}
    assert codes == {"worker": 0, "scheduler": 0}, output
    assert "cluster mode: pages go to" in output["scheduler"] and "Traceback" not in output["scheduler"]
    assert f"taking pages from {prefix}.sweep, {prefix}.dispatch" in output["worker"]
    assert "Traceback" not in output["worker"]
