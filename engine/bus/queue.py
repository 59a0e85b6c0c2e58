"""The bounded priority queue between publishers and one subscription's delivery thread.

One FIFO deque per priority level (lower level first), a hard ``maxsize`` over all levels and an
overflow policy applied by the publisher when the queue is full. There is exactly one consumer
(the subscription's thread), so it sleeps on a pre-acquired lock that a publisher releases —
cheaper than a :class:`threading.Condition`, which allocates a lock per wait. Blocked publishers
(policy ``BLOCK``) wait on a condition that the consumer notifies only while someone waits.

This module must not know about envelopes, topics or dead letters: it hands back whatever it
could not keep and lets the bus decide what that means.
"""

from __future__ import annotations

import enum
import threading
import time
from collections import deque
from typing import Generic, TypeVar

from engine.types.errors import BusError

T = TypeVar("T")


class Overflow(enum.StrEnum):
    """What a publisher does when a subscription's queue is full."""

    BLOCK = "block"
    """Wait up to ``block_timeout`` for room, then dead-letter the message and raise."""
    DROP_OLDEST = "drop_oldest"
    """Evict the oldest message of the lowest queued priority and accept the new one."""
    DROP_NEW = "drop_new"
    """Dead-letter the new message; the publisher is not told."""


class QueueFull(BusError):
    """A ``BLOCK`` put found no room in time (internal: the bus raises Backpressure)."""


class QueueClosed(BusError):
    """The queue no longer accepts messages (internal: its subscription is gone)."""


class BoundedPriorityQueue(Generic[T]):
    """A bounded multi-producer, single-consumer priority queue.

    Attributes:
        maxsize: the most items the queue ever holds.
        high_water: the most items it has held so far.
        dropped: items refused or evicted by the overflow policy.
    """

    __slots__ = (
        "_blocked",
        "_closed",
        "_levels",
        "_mutex",
        "_not_full",
        "_notify_pending",
        "_size",
        "_waiting",
        "_wake",
        "dropped",
        "high_water",
        "maxsize",
    )

    def __init__(self, maxsize: int, levels: int = 4) -> None:
        if maxsize < 1:
            raise ValueError(f"maxsize must be at least 1, got {maxsize}")
        self.maxsize = maxsize
        self.high_water = 0
        self.dropped = 0
        self._levels: tuple[deque[T], ...] = tuple(deque() for _ in range(levels))
        self._size = 0
        self._mutex = threading.Lock()
        self._not_full = threading.Condition(self._mutex)
        self._blocked = 0
        # A notify is in flight to a blocked publisher that has not woken yet; without this the
        # consumer would call notify() (about a microsecond) on every get while one waits.
        self._notify_pending = False
        self._wake = threading.Lock()
        self._wake.acquire()  # released by a publisher (or close) while the consumer waits
        self._waiting = False
        self._closed = False

    def __len__(self) -> int:
        return self._size

    @property
    def closed(self) -> bool:
        """Whether the queue refuses new items."""
        return self._closed

    def put(self, item: T, priority: int, overflow: Overflow, timeout: float) -> T | None:
        """Enqueue ``item`` at ``priority``, applying ``overflow`` if the queue is full.

        Returns:
            ``None`` if nothing was lost, otherwise the item that did not make it: the evicted
            one (``DROP_OLDEST``) or ``item`` itself (``DROP_NEW``).

        Raises:
            QueueFull: ``BLOCK`` waited ``timeout`` seconds without room.
            QueueClosed: the queue is closed.
        """
        lost: T | None = None
        with self._mutex:
            if self._closed:
                raise QueueClosed("queue is closed")
            if self._size >= self.maxsize:
                if overflow is Overflow.DROP_NEW:
                    self.dropped += 1
                    return item
                if overflow is Overflow.DROP_OLDEST:
                    lost = self._evict_lowest()
                else:
                    self._wait_for_room(timeout)
            self._levels[priority].append(item)
            self._size += 1
            if self._size > self.high_water:
                self.high_water = self._size
            if self._waiting:
                self._waiting = False
                self._wake.release()
            if self._blocked and not self._notify_pending and self._size < self.maxsize:
                self._notify_blocked()  # pass the wake-up on: there is room for another
        return lost

    def _evict_lowest(self) -> T:
        """Remove the oldest item of the lowest non-empty priority (mutex held)."""
        for level in reversed(self._levels):
            if level:
                self._size -= 1
                self.dropped += 1
                return level.popleft()
        raise AssertionError("a full queue has no items")  # unreachable: maxsize >= 1

    def _wait_for_room(self, timeout: float) -> None:
        """Wait (mutex held) until there is room, the queue closes or ``timeout`` passes."""
        deadline = time.monotonic() + timeout
        self._blocked += 1
        try:
            while self._size >= self.maxsize and not self._closed:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise QueueFull(f"queue stayed full ({self.maxsize}) for {timeout:g} s")
                self._not_full.wait(remaining)
                self._notify_pending = False
        finally:
            self._blocked -= 1
        if self._closed:
            raise QueueClosed("queue closed while waiting for room")

    def _notify_blocked(self) -> None:
        """Wake one blocked publisher (mutex held)."""
        self._notify_pending = True
        self._not_full.notify()

    def get(self) -> T | None:
        """Remove and return the next item, waiting for one; ``None`` once closed and empty."""
        levels = self._levels
        while True:
            with self._mutex:
                if self._size:
                    for level in levels:
                        if level:
                            item = level.popleft()
                            break
                    self._size -= 1
                    if self._blocked and not self._notify_pending:
                        self._notify_blocked()
                    return item
                if self._closed:
                    return None
                self._waiting = True
            self._wake.acquire()

    def close(self, *, discard: bool) -> list[T]:
        """Refuse new items and wake everyone waiting.

        Args:
            discard: also remove the queued items (returned, highest priority first);
                otherwise the consumer still receives them before ``get`` returns ``None``.
        """
        with self._mutex:
            self._closed = True
            removed: list[T] = []
            if discard:
                for level in self._levels:
                    removed.extend(level)
                    level.clear()
                self._size = 0
            if self._waiting:
                self._waiting = False
                self._wake.release()
            self._not_full.notify_all()
        return removed
