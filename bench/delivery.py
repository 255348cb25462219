"""Delivery's two figures.

**Dispatcher throughput** (first): ``--messages`` due outbox rows (one per pregnancy, each with
consent and an openid) dispatched to the fake WeChat server over loopback, on PostgreSQL, by
one ``dispatch_once`` with ``--batch`` rows per claim and ``--concurrency`` provider calls at a
time; tokens through the database token store. The fake runs in a child process (a provider
is not in the dispatcher's process, and would otherwise share its GIL). The database is
``CAREPATH_BENCH_DATABASE_URL`` (default ``postgresql+psycopg://postgres@127.0.0.1:5432/test``),
in a schema of its own (``bench_<random>``) created and dropped by the bench, so that
concurrent test runs on the same database are never touched. Target: at least 500 messages/s.

**The wake-up sweep** costs what is due, not what is enrolled: 100,000 enrolled pregnancies
(SQLite in a temporary folder), the sweep timed with 1% due and with 100% due, and the peak
RSS of the process.

.venv/bin/python bench/delivery.py [pregnancies] [--sample N] [--messages M] [--batch B]
    [--concurrency C] [--only dispatch|sweep]

The 100%-due sweep evaluates every pregnancy (about a minute on SQLite); ``--sample N``
times it on N due pregnancies and scales (the per-pregnancy cost does not depend on how
many are due: batches are keyset-paged on the ``next_wakeup`` index). Target: the 1% sweep
takes at most 0.05 of the 100% one; peak RSS at most 300 MB.
"""

from __future__ import annotations

import base64
import cProfile
import multiprocessing
import os
import resource
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import create_engine, func, insert, select, text, update
from sqlalchemy.exc import OperationalError

from carepath.channels.base import Message, Receipt, make_http_client
from carepath.channels.inbox import MemoryInbox
from carepath.channels.registry import ChannelDeps, build_channels
from carepath.delivery.dispatch_settings import HospitalDelivery
from carepath.delivery.dispatcher import dispatch_once
from carepath.delivery.policy import HospitalPolicy
from carepath.delivery.token_store import DatabaseTokenStore
from carepath.store import demo, tenants
from carepath.store.crypto import FieldCipher
from carepath.store.db import Database, upgrade
from carepath.store.models import ApiKey, OutboxRow, Patient, Pregnancy
from carepath.store.wakeups import wake_due
from tests.delivery.seeding import HOSPITAL, OA_APPID, add_many
from tests.fakes.providers import FakeProviders

NOW = datetime(2026, 7, 10, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
ROOT = Path(__file__).resolve().parent.parent


def seed(db: Database, folder: Path, count: int) -> None:
    """The demo's first woman registered through the event service; her evaluated state
    copied to ``count`` pregnancies (a real pathway state: enrolments, pending actions)."""
    cipher = FieldCipher.from_config(
        "k1:" + base64.b64encode(os.urandom(32)).decode(), base64.b64encode(os.urandom(32)).decode()
    )
    demo.publish_examples(db, ROOT / "examples" / "pathways", NOW)
    key = demo.demo_key(db, cipher, folder, NOW)
    with db.reading() as session:
        api_key = session.get(ApiKey, key["key_id"])
        assert api_key is not None
        integrator = api_key.integrator_id
    demo.register_patients(db, cipher, integrator, ROOT / "examples" / "patients", NOW)
    with db.reading() as session:
        model = session.scalars(select(Pregnancy).order_by(Pregnancy.id)).first()
        assert model is not None
        hospital, state = model.hospital_id, model.state
    later = NOW + timedelta(days=30)
    for start in range(0, count, 10_000):
        stop = min(start + 10_000, count)
        with db.transaction() as session:
            session.execute(
                insert(Patient),
                [{"id": n + 1000, "hospital_id": hospital, "his_patient_id": f"p-{n}", "created_at": NOW}
                 for n in range(start, stop)],
            )  # fmt: skip
            session.execute(
                insert(Pregnancy),
                [
                    {"id": f"preg-{n:06d}", "hospital_id": hospital, "patient_id": n + 1000, "number": 1,
                     "status": "pregnant", "state": state, "created_at": NOW, "updated_at": NOW,
                     "next_wakeup": later}
                    for n in range(start, stop)
                ],
            )  # fmt: skip


def make_due(db: Database, count: int, total: int) -> None:
    """Every ``total // count``-th pregnancy becomes due (spread over the index)."""
    step = max(total // count, 1)
    ids = [f"preg-{n:06d}" for n in range(0, total, step)][:count]
    with db.transaction() as session:
        for start in range(0, len(ids), 5_000):
            chunk = ids[start : start + 5_000]
            session.execute(
                update(Pregnancy)
                .where(Pregnancy.id.in_(chunk))
                .values(next_wakeup=NOW - timedelta(minutes=1))
            )


def timed_sweep(db: Database) -> tuple[float, int]:
    started = time.perf_counter()
    woken = wake_due(db, NOW)
    return time.perf_counter() - started, len(woken)


# --- dispatcher throughput ------------------------------------------------------------------

PG_URL = os.environ.get("CAREPATH_BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def _fake_provider(conn: Any) -> None:
    """The child process: the fake providers until told to stop; then what they received."""
    with FakeProviders(client_msg_id_window=600.0) as fake:
        conn.send(fake.base_url)
        conn.recv()
        conn.send(
            (
                len(fake.delivered("wechat.template")),
                fake.count("wechat.template"),
                fake.count("wechat.token"),
            )
        )


@contextmanager
def bench_schema(url: str) -> Iterator[str]:
    """A schema of this run's own on ``url``: created, migrated, and dropped at the end."""
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    admin = create_engine(url)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    separator = "&" if "?" in url else "?"
    try:
        scoped = f"{url}{separator}options=-csearch_path%3D{schema}"
        upgrade(scoped)
        yield scoped
    finally:
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(share * len(ordered)), len(ordered) - 1)]


def dispatch_bench(messages: int, batch: int, concurrency: int) -> None:
    cipher = FieldCipher.from_config(
        "k1:" + base64.b64encode(os.urandom(32)).decode(), base64.b64encode(os.urandom(32)).decode()
    )
    parent, child = multiprocessing.get_context("spawn").Pipe()
    provider = multiprocessing.get_context("spawn").Process(target=_fake_provider, args=(child,), daemon=True)
    provider.start()
    base_url = parent.recv()
    calls: list[float] = []

    class Timed:
        """The real adapter, its calls timed (for the per-call percentiles)."""

        def __init__(self, inner: Any) -> None:
            self.inner, self.name, self.external = inner, inner.name, inner.external

        def send(self, message: Message) -> Receipt:
            started = time.perf_counter()
            try:
                return self.inner.send(message)  # type: ignore[no-any-return]
            finally:
                calls.append(time.perf_counter() - started)

    try:
        with bench_schema(PG_URL) as url, make_http_client(max_connections=concurrency) as client:
            db = Database(url, pool_size=2)
            with db.transaction() as session:
                tenants.ensure_hospital(session, HOSPITAL, "bench hospital", NOW)
            started = time.perf_counter()
            add_many(db, cipher, messages, now=NOW, channels=("wechat",))
            print(f"seeded {messages:,} due messages on PostgreSQL in {time.perf_counter() - started:.1f}s")
            config = {"inbox": {}, "wechat_template": {"appid": OA_APPID, "secret": "wx-secret",
                      "templates": {"checkup-reminder": "TPL-checkup"}, "base_url": base_url}}  # fmt: skip
            deps = ChannelDeps(client=client, token_store=DatabaseTokenStore(db), inbox=MemoryInbox())
            channels = {name: Timed(channel) for name, channel in build_channels(config, deps, {}).items()}
            setup = HospitalDelivery(
                channels=channels, policy=HospitalPolicy(), accounts={"wechat_template": OA_APPID}
            )
            cpu, started = time.process_time(), time.perf_counter()
            if os.environ.get("BENCH_PROFILE"):  # where the dispatcher's CPU goes (the main thread)
                with cProfile.Profile(time.thread_time) as profile:
                    report = dispatch_once(
                        db, NOW, lambda h: setup, batch, cipher=cipher, concurrency=concurrency
                    )
                profile.dump_stats(os.environ["BENCH_PROFILE"])
            else:
                report = dispatch_once(
                    db, NOW, lambda h: setup, batch, cipher=cipher, concurrency=concurrency
                )
            elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
            with db.reading() as session:
                sent = session.scalar(select(func.count()).where(OutboxRow.status == "sent"))
            db.dispose()
        parent.send("stop")
        delivered, requests, tokens = parent.recv()
    finally:
        provider.join(timeout=10)
        if provider.is_alive():
            provider.terminate()
    assert sent == messages == delivered == report.sent, (sent, delivered, report)
    latencies = [seconds for claimed, seconds in report.rounds for _ in range(claimed)]
    print(
        f"dispatch: {messages:,} messages in {elapsed:.2f}s = {messages / elapsed:,.0f} messages/s "
        f"(target >= 500) {'ok' if messages / elapsed >= 500 else 'MISSED'}; batch {batch}, "
        f"concurrency {concurrency}; dispatcher CPU {cpu:.2f}s ({cpu / messages * 1e6:.0f} us/message)"
    )
    ms = 1000
    print(
        f"  per message, claimed to recorded (its batch's round): "
        f"p50 {percentile(latencies, 0.5) * ms:.0f} ms, p95 {percentile(latencies, 0.95) * ms:.0f} ms"
    )
    print(
        f"  provider call: p50 {percentile(calls, 0.5) * ms:.1f} ms, "
        f"p95 {percentile(calls, 0.95) * ms:.1f} ms (mean {statistics.fmean(calls) * ms:.1f} ms)"
    )
    print(
        f"  the fake received {requests:,} template sends ({delivered:,} delivered), "
        f"{tokens} token request(s)"
    )


def _option(args: list[str], name: str, default: str | None) -> str | None:
    if name in args:
        at = args.index(name)
        value = args[at + 1]
        del args[at : at + 2]
        return value
    return default


def main() -> None:
    args = sys.argv[1:]
    sample = _option(args, "--sample", None)
    sample_size = int(sample) if sample else None
    messages = int(_option(args, "--messages", "5000") or 5000)
    batch = int(_option(args, "--batch", "100") or 100)
    concurrency = int(_option(args, "--concurrency", "8") or 8)
    only = _option(args, "--only", None)
    total = int(args[0]) if args else 100_000
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    if only != "sweep":
        probe = create_engine(PG_URL)
        try:
            probe.connect().close()
        except OperationalError as error:
            print(f"dispatch: skipped, no PostgreSQL at {PG_URL}: {error.orig}")
        else:
            dispatch_bench(messages, batch, concurrency)
        finally:
            probe.dispose()
    if only == "dispatch":
        return
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{folder}/bench.db"
        upgrade(url)
        db = Database(url)
        started = time.perf_counter()
        seed(db, Path(folder), total)
        print(f"seeded {total:,} enrolled pregnancies in {time.perf_counter() - started:.1f}s")

        one_percent = total // 100
        make_due(db, one_percent, total)
        low, woken_low = timed_sweep(db)
        assert woken_low == one_percent, woken_low
        print(f"1% due:   {woken_low:,} evaluated in {low:.2f}s ({woken_low / low:,.0f}/s)")

        sample = min(sample_size or total, total)
        make_due(db, sample, total)
        high_sample, woken_high = timed_sweep(db)
        high = high_sample * total / woken_high
        scaled = "" if woken_high == total else f"; {total:,} would take {high:.1f}s"
        print(
            f"100% due: {woken_high:,} evaluated in {high_sample:.2f}s "
            f"({woken_high / high_sample:,.0f}/s){scaled}"
        )
        empty, nobody = timed_sweep(db)
        print(
            f"nothing due: a sweep over {total:,} enrolled takes {empty * 1000:.1f} ms ({nobody} evaluated)"
        )
        ratio = low / high
        print(f"ratio 1% / 100%: {ratio:.4f} (target <= 0.05) {'ok' if ratio <= 0.05 else 'MISSED'}")
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"peak RSS: {rss:.0f} MB (target <= 300 MB) {'ok' if rss <= 300 else 'MISSED'}")
        db.dispose()


if __name__ == "__main__":
    main()
