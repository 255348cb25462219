"""``carepath delivery run`` as the process it is in production: it outlives Redis and its
database going away (a closed port, connections cut) and sends once they are back. Waits are
bounded by timeouts; nothing here measures how long anything took."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import update
from sqlalchemy.engine import make_url

from carepath.store.models import OutboxRow
from tests.conftest import FIELD_KEYS, LOOKUP_KEY
from tests.delivery.conftest import HOSPITAL, add_outbox, add_pregnancy
from tests.delivery.test_pre_send_errors import redis_or_skip, the_row
from tests.fakes.gate import Gate
from tests.fakes.providers import FakeProviders

WAIT = 120.0  # seconds: a bound on every wait, never a figure asserted


@pytest.fixture
def fake() -> Iterator[FakeProviders]:
    with FakeProviders() as fake:
        yield fake
    assert fake.errors == []


class Dispatcher:
    """``carepath delivery run`` in a process of its own; its stderr read as it comes."""

    def __init__(self, env: dict[str, str], config: Path) -> None:
        command = [str(Path(sys.executable).parent / "carepath"), "delivery", "run"]
        self.process = subprocess.Popen(
            [*command, "--config", str(config), "--interval", "0.2"],
            env={**os.environ, **env},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.lines.append(line)

    def wait_for_line(self, text: str, after: int = 0) -> int:
        """The index of the first line from ``after`` on that holds ``text``."""
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            for index in range(after, len(self.lines)):
                if text in self.lines[index]:
                    return index
            assert self.alive, f"delivery run exited {self.process.returncode}:\n{''.join(self.lines[-30:])}"
            time.sleep(0.05)
        raise AssertionError(f"no line with {text!r} within {WAIT} s:\n{''.join(self.lines[-30:])}")

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=WAIT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._reader.join(timeout=WAIT)
        if self.process.stderr is not None:
            self.process.stderr.close()


def wait_until(condition: Callable[[], bool], dispatcher: Dispatcher, what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        assert dispatcher.alive, (
            f"delivery run exited while waiting for {what}:\n{''.join(dispatcher.lines[-30:])}"
        )
        if time.monotonic() > deadline:  # a timeout, not a figure: the run is stuck
            pytest.fail(f"no {what} within {WAIT} s:\n{''.join(dispatcher.lines[-30:])}")
        time.sleep(0.1)


def channels_file(folder: Path, fake: FakeProviders, appid: str) -> Path:
    """One hospital whose WeChat account is the fake's, sending at any hour."""
    config = {
        "hospital": HOSPITAL,
        "channels": {
            "inbox": {},
            "wechat_template": {
                "appid": appid,
                "secret": "wx-secret",
                "templates": {"checkup-reminder": "TPL-checkup"},
                "base_url": fake.base_url,
            },
        },
        "delivery": {
            "window": {"timezone": "UTC", "opens": "00:00", "closes": "23:59:59"},
            "fallback_order": ["wechat_template", "inbox"],
        },
    }
    path = folder / "channels.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return path


def process_env(database_url: str, folder: Path, **more: str) -> dict[str, str]:
    return {
        "CAREPATH_DATABASE_URL": database_url,
        "CAREPATH_FIELD_KEYS": FIELD_KEYS,
        "CAREPATH_LOOKUP_KEY": LOOKUP_KEY,
        "CAREPATH_INSTANCE_PATH": str(folder / "instance"),
        **more,
    }


def due_wechat_row(db: Any, cipher: Any, fake: FakeProviders, n: int) -> str:
    """A pregnancy bound to a fresh WeChat account of the fake's (its own token keys in a
    Redis other test runs may share) and one due row; returns the account's appid."""
    appid = f"wx-{uuid.uuid4().hex[:12]}"
    fake.wechat_accounts[appid] = "wx-secret"
    _, pregnancy = add_pregnancy(db, cipher, n, openid=f"o-{n}", account=appid)
    add_outbox(db, pregnancy, f"k-{n}", due_at=datetime.now(UTC) - timedelta(minutes=1), channels=["wechat"])
    return appid


def test_delivery_run_outlives_a_lost_redis_and_sends_afterwards(
    database_url: str, db: Any, cipher: Any, fake: FakeProviders, tmp_path: Path
) -> None:
    redis_or_skip()
    appid = due_wechat_row(db, cipher, fake, 1)
    gate = Gate("127.0.0.1", 6379)  # shut: Redis's port refuses connections
    env = process_env(database_url, tmp_path, CAREPATH_REDIS_URL=f"redis://127.0.0.1:{gate.port}/0")
    dispatcher = Dispatcher(env, channels_file(tmp_path, fake, appid))
    try:
        wait_until(lambda: the_row(db, "k-1").last_error is not None, dispatcher, "a first try")
        row = the_row(db, "k-1")
        assert (row.status, row.unknown_since) == ("due", None), row.last_error  # not failed/outcome-unknown
        assert row.next_attempt_at is not None and "nothing sent" in (row.last_error or "")
        assert fake.requests == []
        gate.open()
        with db.transaction() as session:  # its backoff has passed
            session.execute(
                update(OutboxRow)
                .where(OutboxRow.dedupe_key == "k-1")
                .values(next_attempt_at=datetime.now(UTC))
            )
        wait_until(lambda: the_row(db, "k-1").status == "sent", dispatcher, "the send")
        assert dispatcher.alive
    finally:
        dispatcher.stop()
        gate.shut()
    assert [r.payload["touser"] for r in fake.delivered()] == ["o-1"]


def test_delivery_run_outlives_a_lost_database_and_sends_afterwards(
    database_url: str, db: Any, cipher: Any, fake: FakeProviders, tmp_path: Path
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite is a file: there is no connection to lose")
    gate = Gate("127.0.0.1", make_url(database_url).port or 5432).open()
    through_gate = make_url(database_url).set(port=gate.port).render_as_string(hide_password=False)
    appid = f"wx-{uuid.uuid4().hex[:12]}"
    dispatcher = Dispatcher(process_env(through_gate, tmp_path), channels_file(tmp_path, fake, appid))
    try:
        seen = dispatcher.wait_for_line("claimed 0")
        gate.shut()  # the database restarts: connections cut, the port refuses new ones
        dispatcher.wait_for_line("dispatch round failed", after=seen)
        fake.wechat_accounts[appid] = "wx-secret"
        _, pregnancy = add_pregnancy(db, cipher, 1, openid="o-1", account=appid)  # meanwhile, HIS goes on
        add_outbox(db, pregnancy, "k-1", due_at=datetime.now(UTC) - timedelta(minutes=1), channels=["wechat"])
        assert dispatcher.alive
        gate.open()
        wait_until(lambda: the_row(db, "k-1").status == "sent", dispatcher, "the send")
    finally:
        dispatcher.stop()
        gate.shut()
    assert [r.payload["touser"] for r in fake.delivered()] == ["o-1"]
