"""One thread for every deadline of the extension manager.

A step call's timeout and the audit log's delayed flush are callbacks due at a time. Starting a
``threading.Timer`` per call costs a thread start (~0.2 ms here) on every step; this keeps one
daemon thread that sleeps until the earliest deadline instead. Callbacks must be quick: they
set events and flush buffers.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["MAX_DELAY_S", "Deadlines"]

MAX_DELAY_S = 30 * 86400.0  # longer delays are treated as "never"

log = logging.getLogger("symphony.extensions")


class Deadlines:
    """Run callbacks at given monotonic times on one lazily started daemon thread."""

    def __init__(self, name: str = "ext-deadlines") -> None:
        self._name = name
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, Callable[[], None]]] = []
        self._live: dict[int, None] = {}  # handles scheduled and not cancelled
        self._dead = 0  # cancelled entries still in the heap
        self._ids = itertools.count()
        self._thread: threading.Thread | None = None
        self._closed = False

    def call_later(self, delay: float, callback: Callable[[], None]) -> int:
        """Run ``callback`` after ``delay`` seconds (at most MAX_DELAY_S; an infinite or NaN
        delay means never); returns a handle for :meth:`cancel`."""
        handle = next(self._ids)
        if not delay < MAX_DELAY_S:  # inf and NaN included
            return handle  # never due: nothing to schedule
        with self._cond:
            if self._closed:
                return handle
            heapq.heappush(self._heap, (time.monotonic() + max(0.0, delay), handle, callback))
            self._live[handle] = None
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
                self._thread.start()
            self._cond.notify()
        return handle

    def cancel(self, handle: int) -> None:
        """Forget a callback that has not run yet (harmless if it already ran)."""
        with self._cond:
            if self._live.pop(handle, None) is not None:
                self._dead += 1
                if self._dead > 64 and self._dead > len(self._heap) // 2:
                    # Most entries are cancelled call timeouts: drop them in one pass.
                    self._heap = [e for e in self._heap if e[1] in self._live]
                    heapq.heapify(self._heap)
                    self._dead = 0

    def close(self) -> None:
        """Drop every pending callback and end the thread (idempotent)."""
        with self._cond:
            self._closed = True
            self._heap.clear()
            self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._closed and (not self._heap or self._heap[0][0] > time.monotonic()):
                    timeout = self._heap[0][0] - time.monotonic() if self._heap else None
                    self._cond.wait(None if timeout is None else min(timeout, MAX_DELAY_S))
                if self._closed:
                    return
                _, handle, callback = heapq.heappop(self._heap)
                if handle not in self._live:  # cancelled
                    self._dead = max(0, self._dead - 1)
                    continue
                del self._live[handle]
            try:
                callback()
            except Exception:
                log.exception("deadline callback failed")
