"""The in-app inbox: always available, the home of every item's full text (behind her login).

The adapter writes nothing itself: it files the message with an ``InboxSink`` (the store's
table in production, ``MemoryInbox`` in tests and development) and returns the entry's id.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime

from carepath.channels.base import Clock, InboxSink, Message, Receipt, utc_now


@dataclass(frozen=True)
class InboxEntry:
    id: str
    recipient: str
    dedupe_key: str
    kind: str
    title: str
    summary: str
    body: str
    link: str | None
    filed_at: datetime


class MemoryInbox:
    """An ``InboxSink`` in memory; idempotent on the dedupe key like the store's table."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self.entries: dict[str, InboxEntry] = {}

    def file(self, message: Message, at: datetime) -> str:
        with self._guard:
            entry = self.entries.get(message.dedupe_key)
            if entry is None:
                entry = InboxEntry(
                    id=f"inbox-{len(self.entries) + 1}",
                    recipient=message.recipient,
                    dedupe_key=message.dedupe_key,
                    kind=message.kind,
                    title=message.title,
                    summary=message.summary,
                    body=message.body,
                    link=message.link,
                    filed_at=at,
                )
                self.entries[message.dedupe_key] = entry
            return entry.id


class InboxChannel:
    name = "inbox"
    external = False

    def __init__(self, sink: InboxSink, *, clock: Clock = utc_now) -> None:
        self._sink = sink
        self._clock = clock

    def send(self, message: Message) -> Receipt:
        at = self._clock()
        return Receipt(self.name, self._sink.file(message, at), at, "filed")
