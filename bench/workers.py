"""Celery workers' dispatch throughput (issue 22 item 5): ``--messages`` due outbox rows (one per
pregnancy, each with consent and an openid) sent to the fake WeChat over loopback by
``--workers`` real Celery worker processes (``tests/workers/celery_worker.py``: ``carepath
worker``'s pieces with the fake's address) taking ``--batch``-row pages from the machine's
RabbitMQ, on PostgreSQL. The queues (``carepath-bench-<random>.*``) and the schema
(``bench_<random>``) are the run's own, deleted at the end. Counted at the fake: delivered
once each, nothing lost. Prints messages/s, the workers' CPU seconds and the load average.

.venv/bin/python bench/workers.py [--messages 5000] [--workers 2] [--batch 100]
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from delivery import bench_schema  # a schema of the run's own, as the dispatcher's bench makes it
from sqlalchemy import func, select

from carepath.store import tenants
from carepath.store.crypto import FieldCipher
from carepath.store.db import Database
from carepath.store.models import OutboxRow
from carepath.workers.queue import TASKS, Enqueuer, make_celery, queue_name
from tests.conftest import FIELD_KEYS, LOOKUP_KEY
from tests.delivery.seeding import HOSPITAL, add_many
from tests.fakes.providers import FakeProviders
from tests.workers.conftest import WorkerProcess

NOW = datetime(2026, 7, 10, 7, 0, tzinfo=UTC)  # 15:00 in Shanghai, inside the send window
PG_URL = os.environ.get("CAREPATH_BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
BROKER = os.environ.get("CAREPATH_BENCH_BROKER_URL", "amqp://guest:guest@127.0.0.1:5672//")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _option(name: str, default: int) -> int:
    args = sys.argv[1:]
    return int(args[args.index(name) + 1]) if name in args else default


def main() -> None:
    messages, count, batch = _option("--messages", 5000), _option("--workers", 2), _option("--batch", 100)
    prefix = f"carepath-bench-{uuid.uuid4().hex[:10]}"
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs at the start")
    celery = make_celery(BROKER, prefix=prefix)
    with bench_schema(PG_URL) as url, FakeProviders(client_msg_id_window=600.0) as fake:
        db = Database(url)
        cipher = FieldCipher.from_config(FIELD_KEYS, LOOKUP_KEY)
        with db.transaction() as session:
            tenants.ensure_hospital(session, HOSPITAL, "hospital one", NOW)
        add_many(db, cipher, messages, now=NOW, channels=("wechat",))
        workers: list[WorkerProcess] = []
        log = Path(tempfile.mkdtemp(prefix="bench-workers-")) / "workers.log"
        try:
            args = (url, fake.base_url, BROKER, prefix, NOW.isoformat(), "120")  # stale after 120 s
            workers += [WorkerProcess(*args, log=log) for _ in range(count)]
            for worker in workers:
                worker.ready()
            cpu_before = sum(cpu_seconds(w.process.pid) for w in workers)
            started = time.perf_counter()
            pages = Enqueuer(celery, prefix=prefix, max_pages=100_000).pages("dispatch", messages, batch, NOW)
            while True:
                with db.reading() as session:
                    left = session.scalar(select(func.count()).where(OutboxRow.status != "sent"))
                if not left:
                    break
                time.sleep(0.05)
            elapsed = time.perf_counter() - started
            cpu = sum(cpu_seconds(w.process.pid) for w in workers) - cpu_before
        finally:
            for worker in workers:
                worker.close()
            with celery.connection_for_write() as connection:
                for stage in TASKS:  # each queue and the exchange of its name Celery declared
                    connection.default_channel.queue_delete(queue_name(prefix, stage))
                    connection.default_channel.exchange_delete(queue_name(prefix, stage))
            celery.close()
            db.dispose()
        delivered = Counter(r.payload["touser"] for r in fake.delivered("wechat.template"))
    lost = messages - len(delivered)
    duplicated = sum(n - 1 for n in delivered.values())
    print(
        f"{messages} messages, {count} Celery workers, {pages} pages of {batch}: {elapsed:.2f} s, "
        f"{messages / elapsed:.0f} msg/s; workers' CPU {cpu:.1f} s ({cpu / messages * 1000:.2f} ms a message)"
    )
    print(f"at the fake WeChat: {lost} lost, {duplicated} duplicated")
    print(f"load average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
