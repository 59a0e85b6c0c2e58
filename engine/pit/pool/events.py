"""Delivery of pool events to one callback: in the order they happened, outside the pool's lock.

Events are queued while the pool's lock is held (so the queue order is the order of the changes)
and delivered after it is released, by whichever thread gets there first; one thread delivers at
a time. A callback may call back into the pool. A callback that raises is logged and skipped; it
never breaks the pool.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

    from engine.pit.pool.lifecycle import PoolEvent

__all__ = ["EventRelay"]

log = logging.getLogger("symphony.pool")


class EventRelay:
    """An ordered hand-off of :class:`PoolEvent` to ``callback`` (None: events are dropped)."""

    def __init__(self, callback: Callable[[PoolEvent], None] | None) -> None:
        self._callback = callback
        self._queue: deque[PoolEvent] = deque()
        self._delivering = threading.Lock()

    @property
    def wanted(self) -> bool:
        """Whether anybody listens (the pool skips building events otherwise)."""
        return self._callback is not None

    def add(self, event: PoolEvent) -> None:
        """Queue one event; called with the pool's lock held."""
        if self._callback is not None:
            self._queue.append(event)

    def flush(self) -> None:
        """Deliver queued events; called without the pool's lock."""
        callback = self._callback
        if callback is None:
            return
        # Whoever holds the delivery lock drains the queue; re-checking after releasing it
        # catches events queued by a thread that found the lock taken and went on.
        while self._queue:
            if not self._delivering.acquire(blocking=False):
                return
            try:
                while self._queue:
                    event = self._queue.popleft()
                    try:
                        callback(event)
                    except Exception:
                        log.exception("pool event handler failed on %s", event)
            finally:
                self._delivering.release()
