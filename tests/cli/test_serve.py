"""`carepath serve` stops on SIGTERM as on Ctrl-C: the server returns and the scheduler releases
its SQLite lease, so the next start (systemd, docker) does not wait for it to expire."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from carepath.store.db import Database, upgrade
from carepath.store.models import SchedulerLease
from tests.conftest import FIELD_KEYS, LOOKUP_KEY

TIMEOUT = 60.0  # a bound on waiting, not a figure under test


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _lease_holder(database: Database) -> str | None:
    with database.reading() as session:
        lease = session.get(SchedulerLease, "scheduler")
        return lease.holder if lease else None


def test_sigterm_on_serve_releases_the_lease(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'serve.db'}"
    upgrade(url)
    env = {
        **os.environ,
        "CAREPATH_DATABASE_URL": url,
        "CAREPATH_FIELD_KEYS": FIELD_KEYS,
        "CAREPATH_LOOKUP_KEY": LOOKUP_KEY,
        "CAREPATH_INSTANCE_PATH": str(tmp_path / "instance"),
    }
    log = tmp_path / "serve.log"
    command = [
        sys.executable,
        "-c",
        "from carepath.cli import main; main()",
        "serve",
        "--port",
        str(_free_port()),
    ]
    database = Database(url)
    with log.open("wb") as stderr:
        serve = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=stderr)
    try:
        deadline = time.monotonic() + TIMEOUT
        while _lease_holder(database) != f"{socket.gethostname()}:{serve.pid}":
            if serve.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"serve did not take the lease:\n{log.read_text()}")
            time.sleep(0.1)
        serve.send_signal(signal.SIGTERM)
        returncode = serve.wait(TIMEOUT)
    finally:
        if serve.poll() is None:
            serve.kill()
            serve.wait()
    output = log.read_text()
    try:
        assert returncode == 0, output
        assert _lease_holder(database) is None, output
        assert "scheduler stopped, lock released" in output and "Traceback" not in output
    finally:
        database.dispose()
