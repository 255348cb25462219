"""A real Celery worker process for the worker tests: ``python -m tests.workers.celery_worker
DATABASE_URL FAKE_BASE_URL BROKER_URL QUEUE_PREFIX NOW_ISO [STALE_SECONDS]``. It runs ``carepath worker``'s
pieces (``workers.queue.make_celery``, ``workers.tasks.register``, ``run_worker``) with the
test's clock fixed at ``NOW_ISO`` and WeChat pointed at the fake; it prints ``ready`` once it
consumes. In the tests it is the only dispatcher while it runs, so it recovers every row left
in flight (``STALE_SECONDS`` 0, the default: a killed predecessor's); ``bench/workers.py`` runs
several at once and passes the production default (120)."""

from __future__ import annotations

import os
import sys
from datetime import datetime, timedelta

from celery.signals import worker_ready

from carepath.channels.base import make_http_client
from carepath.channels.inbox import MemoryInbox
from carepath.channels.registry import ChannelDeps, build_channels
from carepath.delivery.dispatch_settings import DispatchSettings, HospitalDelivery
from carepath.delivery.token_store import DatabaseTokenStore
from carepath.store.crypto import FieldCipher
from carepath.store.db import Database
from carepath.workers.queue import make_celery, queue_name
from carepath.workers.tasks import Work, register, run_worker
from tests.conftest import FIELD_KEYS, LOOKUP_KEY

TEMPLATES = {"checkup-reminder": "TPL-checkup", "questionnaire-due": "TPL-form"}


def main(url: str, base: str, broker: str, prefix: str, now_iso: str, stale: str = "0") -> None:  # noqa: PLR0917 - argv
    now = datetime.fromisoformat(now_iso)
    config = {
        "wechat_template": {
            "appid": "wx-hospital",
            "secret": "wx-secret",
            "templates": TEMPLATES,
            "base_url": base,
        }
    }
    worker_ready.connect(lambda **_: print("ready", flush=True), weak=False)
    with make_http_client() as client:
        database = Database(url)
        deps = ChannelDeps(client=client, token_store=DatabaseTokenStore(database), inbox=MemoryInbox())
        setup = HospitalDelivery(
            channels=build_channels(config, deps, {}), accounts={"wechat_template": "wx-hospital"}
        )
        work = Work(
            db=database,
            clock=lambda: now,
            channels_for_hospital=lambda hospital: setup,
            cipher=FieldCipher.from_config(FIELD_KEYS, LOOKUP_KEY),
            holder=f"test-worker:{os.getpid()}",
            settings=DispatchSettings(dedupe_window=timedelta(minutes=5)),
            stale_after=timedelta(seconds=float(stale)),
            concurrency=4,
        )
        celery = make_celery(broker, prefix=prefix)
        register(celery, work)
        run_worker(
            celery,
            queues=[queue_name(prefix, "sweep"), queue_name(prefix, "dispatch")],
            name=f"{prefix}-{os.getpid()}@test",
            loglevel="WARNING",
        )
        database.dispose()


if __name__ == "__main__":
    main(*sys.argv[1:7])
