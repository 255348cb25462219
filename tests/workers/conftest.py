"""The worker tests' fixtures: the store's (a database with one hospital, the cipher), the
API's (the examples published), and a broker with queues of the test's own, deleted after."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import pytest

from tests.delivery.conftest import cipher, db  # noqa: F401
from tests.webapi.conftest import api, app, clock  # noqa: F401

ROOT = Path(__file__).resolve().parents[2]
#: The machine's RabbitMQ; each test declares queues of its own there and deletes them after.
BROKER_URL = os.environ.get("CAREPATH_TEST_BROKER_URL", "amqp://guest:guest@127.0.0.1:5672//")


@pytest.fixture
def broker() -> Iterator[tuple[str, str]]:
    """(broker URL, queue prefix): queues ``<prefix>.sweep`` and ``<prefix>.dispatch`` of this
    test alone, deleted when it ends; skipped when no broker answers (failed when ``CI=true``)."""
    from carepath.workers.queue import TASKS, make_celery, queue_name

    prefix = f"carepath-test-{uuid.uuid4().hex[:10]}"
    celery = make_celery(BROKER_URL, prefix=prefix)
    try:
        with celery.connection_for_write() as connection:
            connection.ensure_connection(max_retries=1)
    except Exception as error:  # a fresh clone on a machine without RabbitMQ
        celery.close()
        if os.environ.get("CI") == "true":  # CI's machine runs RabbitMQ: these must run there
            pytest.fail(f"the worker tests must run in CI: no broker at {BROKER_URL}: {error}", pytrace=False)
        pytest.skip(f"no broker at {BROKER_URL}: {error}")
    yield BROKER_URL, prefix
    with celery.connection_for_write() as connection:
        channel = connection.default_channel
        for stage in TASKS:  # each queue and the exchange of its name Celery declared
            channel.queue_delete(queue_name(prefix, stage))
            channel.exchange_delete(queue_name(prefix, stage))
    celery.close()


class WorkerProcess:
    """``tests/workers/celery_worker.py`` in its own process; ``ready`` waits for its first line."""

    def __init__(self, *args: str, log: Path) -> None:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self._log = log.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.workers.celery_worker", *args],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=self._log,
        )
        self._lines: queue.Queue[str] = queue.Queue()
        assert self.process.stdout is not None
        threading.Thread(target=self._read, args=(self.process.stdout,), daemon=True).start()

    def _read(self, stream: IO[bytes]) -> None:
        for line in stream:
            self._lines.put(line.decode().strip())

    def ready(self, timeout: float = 60) -> None:
        """Wait for its ``ready`` line (Celery prints its banner before it)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self._lines.get(timeout=max(deadline - time.monotonic(), 0.01))
            except queue.Empty:
                raise AssertionError(f"the worker did not start; see {self._log.name}") from None
            if line == "ready":
                return

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        self.process.wait(timeout=60)

    def close(self) -> None:
        # a cold shutdown: its pages are done, nothing waits. A worker blocked inside a database
        # call (SQLite's busy wait) handles the signal only when the call returns: killed then,
        # since the test is over and the process must not outlive it
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGQUIT)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=60)
        assert self.process.stdout is not None
        self.process.stdout.close()
        self._log.close()


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[Any]:
    """Start worker processes (``workers(*args)``); all of them are stopped after the test."""
    started: list[WorkerProcess] = []

    def start(*args: str) -> WorkerProcess:
        worker = WorkerProcess(*args, log=tmp_path / "workers.log")
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.close()
