"""Adapter throughput to the local fake providers over loopback, one pooled client shared by
a pool of sender threads (as a dispatcher would share it). Prints messages per second.

The fake is a threaded ``http.server`` in this same process, so the figure is a lower bound
for the adapters and mostly measures the fake and the GIL.

    .venv/bin/python bench/channels.py [messages] [threads]
"""

from __future__ import annotations

import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx

from carepath.channels.base import InMemoryTokenStore, make_http_client
from carepath.channels.inbox import MemoryInbox
from carepath.channels.registry import ChannelDeps, build_channel
from tests.channels.conftest import ROUTE, message_for, settings_for
from tests.fakes.providers import FakeProviders


def run(name: str, messages: int, threads: int) -> None:
    with FakeProviders() as fake:
        client = make_http_client(httpx.Timeout(5.0), max_connections=threads)
        try:
            deps = ChannelDeps(client=client, token_store=InMemoryTokenStore(), inbox=MemoryInbox())
            channel = build_channel(name, settings_for(name, fake), deps)
            batch = [message_for(name, key=f"bench/{i}") for i in range(messages)]
            started = time.perf_counter()
            with ThreadPoolExecutor(threads) as pool:
                list(pool.map(channel.send, batch))
            elapsed = time.perf_counter() - started
        finally:
            client.close()
        delivered = len(fake.delivered(ROUTE[name]))
    rate = messages / elapsed
    print(f"{name:18} {messages} messages, {threads} threads: {rate:7.0f} msg/s ({delivered} delivered)")


def main() -> None:
    messages = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    threads = int(sys.argv[2]) if len(sys.argv) > 2 else 16
    for name in ("wechat_template", "wechat_subscribe", "sms_tencent", "sms_aliyun", "webhook"):
        run(name, messages, threads)


if __name__ == "__main__":
    main()
