"""A per-process cache of what a hospital publishes, for the paths that read it on every
request: her registration files her inbox copies at once (``delivery/inbox_now.py``) and
without this read the hospital's published content twice and hashed every text, per woman.

An entry is used for at most ``ttl`` seconds of ``clock`` (a monotonic clock; tests hand in
their own), then loaded again: a version published in another process is seen within
``pathways.RECHECK_SECONDS``, the bound pathway versions already have; in the process that
published it, at once (``publishing`` forgets the hospital's entry). Entries are per database,
so two databases in one process never share one. The dispatcher does not use it: it reads the
published versions for every batch it claims.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

from sqlalchemy.orm import Session

from carepath.engine.content import ContentItem
from carepath.store.approvals import Approvals
from carepath.store.pathways import RECHECK_SECONDS

T = TypeVar("T")


class Recent(Generic[T]):
    """A hospital's value, loaded again once older than ``ttl`` seconds of ``clock``."""

    def __init__(self, ttl: float = RECHECK_SECONDS, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self.clock = clock
        self._entries: dict[tuple[str, str], tuple[float, T]] = {}
        self._lock = threading.Lock()

    def get(self, session: Session, hospital_id: str, load: Callable[[Session, str], T]) -> T:
        """The hospital's value from memory when loaded less than ``ttl`` ago, else ``load``ed
        in the caller's session."""
        key = (str(session.get_bind().engine.url), hospital_id)
        now = self.clock()
        with self._lock:
            entry = self._entries.get(key)
        if entry is not None and 0 <= now - entry[0] < self.ttl:
            return entry[1]
        value = load(session, hospital_id)
        with self._lock:
            self._entries[key] = (now, value)
        return value

    def forget(self, hospital_id: str | None = None) -> None:
        """Drop one hospital's entries (it published here), or all of them (tests)."""
        with self._lock:
            for key in [k for k in self._entries if hospital_id is None or k[1] == hospital_id]:
                del self._entries[key]


@dataclass(frozen=True)
class Published:
    """A hospital's content as it sends it: which items are approved (and their versions), and
    its education library (``approvals.approvals``, ``publishing.content_items``)."""

    approvals: Approvals
    content: Mapping[str, ContentItem]


#: Each hospital's published content, as her pages file her inbox copies.
PUBLISHED: Recent[Published] = Recent()
