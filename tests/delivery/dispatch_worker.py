"""A dispatcher process for the SIGKILL test: ``python -m tests.delivery.dispatch_worker URL
FAKE_BASE_URL NOW_ISO``. It recovers what a killed predecessor left in flight (it is the only
dispatcher, so nothing in flight is alive), prints ``ready`` (or calls ``ready``, when the test
forks it: a forked worker starts without a second's imports), then dispatches until nothing is due and exits 0 (batches of 50, 8 provider calls at a time)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import datetime, timedelta

from carepath.channels.base import make_http_client
from carepath.channels.inbox import MemoryInbox
from carepath.channels.registry import ChannelDeps, build_channels
from carepath.delivery.dispatch_settings import DispatchSettings, HospitalDelivery
from carepath.delivery.dispatcher import dispatch_once, recover_in_flight
from carepath.delivery.token_store import DatabaseTokenStore
from carepath.store.crypto import FieldCipher
from carepath.store.db import Database
from tests.conftest import FIELD_KEYS, LOOKUP_KEY

TEMPLATES = {"checkup-reminder": "TPL-checkup", "questionnaire-due": "TPL-form"}


def main(
    url: str, base: str, now_iso: str, ready: Callable[[], None] = lambda: print("ready", flush=True)
) -> None:
    now = datetime.fromisoformat(now_iso)
    config = {
        "wechat_template": {
            "appid": "wx-hospital",
            "secret": "wx-secret",
            "templates": TEMPLATES,
            "base_url": base,
        },
        "sms_tencent": {
            "secret_id": "AKIDfake",
            "secret_key": "tencent-secret",
            "sdk_app_id": "1400006666",
            "sign_name": "市妇幼",
            "templates": TEMPLATES,
            "endpoint": f"{base}/tencent/",
        },
    }
    with make_http_client() as client:
        database = Database(url)
        deps = ChannelDeps(client=client, token_store=DatabaseTokenStore(database), inbox=MemoryInbox())
        setup = HospitalDelivery(
            channels=build_channels(config, deps, {}),
            accounts={"wechat_template": "wx-hospital"},
        )
        cipher = FieldCipher.from_config(FIELD_KEYS, LOOKUP_KEY)
        settings = DispatchSettings(dedupe_window=timedelta(minutes=5))
        recover_in_flight(database, now, settings=settings, stale_after=timedelta(0))
        ready()
        dispatch_once(database, now, lambda h: setup, 50, cipher=cipher, settings=settings, concurrency=8)
        database.dispose()


if __name__ == "__main__":
    main(*sys.argv[1:4])
