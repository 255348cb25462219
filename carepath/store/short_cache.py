"""Values reused for a few seconds, per database: for figures that cost a whole index read and
may trail the truth briefly (the register's colour counts), never for what a decision reads.

Per process (each gunicorn worker keeps its own) and per ``Database`` (tests make many); the clock
is ``time.monotonic``, not the app's clock, since a value's age is real time whatever the app's
date is. ``forget`` drops what this process holds, so what a user just changed shows at once in
the process that changed it; another process may show the old value until it expires.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

from carepath.store.db import Database

V = TypeVar("V")


class ShortCache(Generic[V]):
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._held: weakref.WeakKeyDictionary[Database, dict[Hashable, tuple[float, V]]] = (
            weakref.WeakKeyDictionary()
        )

    def get(self, db: Database, key: Hashable, seconds: float, compute: Callable[[], V]) -> V:
        """The value kept for ``key`` if younger than ``seconds``, else ``compute()`` (kept).
        ``seconds`` ≤ 0: always computed, nothing kept."""
        if seconds <= 0:
            return compute()
        now = self._clock()
        with self._lock:
            kept = self._held.get(db, {}).get(key)
        if kept is not None and now - kept[0] < seconds:
            return kept[1]
        value = compute()  # outside the lock: two threads may both compute, neither waits
        with self._lock:
            self._held.setdefault(db, {})[key] = (now, value)
        return value

    def forget(self, db: Database, match: Callable[[Hashable], bool] = lambda key: True) -> None:
        """Drop this process's values for ``db`` whose key ``match``es."""
        with self._lock:
            held = self._held.get(db)
            if held:
                for key in [key for key in held if match(key)]:
                    del held[key]
