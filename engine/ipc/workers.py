"""A small pool of daemon threads running request handlers, and each peer's share of it.

:class:`WorkerPool` is lighter than :class:`concurrent.futures.ThreadPoolExecutor` (no futures:
handlers answer over the wire themselves); its threads start as they are needed. Its queue is
unbounded because every connection submits through a :class:`Share`, which lets one peer occupy
only a few workers at once and queue a bounded number of calls holding a bounded number of
bytes, so a peer whose calls hang cannot take the workers every other peer needs, nor pin
gigabytes of queued requests. This module must not know about frames or sockets.
"""

from __future__ import annotations

import collections
import logging
import queue
import threading
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

logger = logging.getLogger(__name__)

_STOP = None


class WorkerPool:
    """Runs submitted calls on at most ``size`` threads named ``<name>:worker-<n>``."""

    def __init__(self, name: str, size: int) -> None:
        if size < 1:
            raise ValueError(f"a worker pool needs at least one thread, got {size}")
        self.name = name
        self.size = size
        self._queue: queue.SimpleQueue[tuple[Callable[..., Any], tuple[Any, ...]] | None] = (
            queue.SimpleQueue()
        )
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._idle = 0
        self._closed = False

    def submit(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run ``fn(*args)`` on a worker; exceptions are logged, never raised here."""
        with self._lock:
            if self._closed:
                return
            if self._idle == 0 and len(self._threads) < self.size:
                self._start_thread()
            else:
                self._idle -= 1  # this call will wake one idle worker
        self._queue.put((fn, args))

    def _start_thread(self) -> None:
        thread = threading.Thread(
            target=self._work, name=f"{self.name}:worker-{len(self._threads) + 1}", daemon=True
        )
        self._threads.append(thread)
        thread.start()

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            fn, args = item
            try:
                fn(*args)
            except Exception:
                logger.exception("IPC worker call %r failed", fn)
            with self._lock:
                self._idle += 1

    def close(self, timeout: float = 2.0) -> None:
        """Stop the workers after the calls already queued; wait up to ``timeout`` in all.

        May be called again (say with a longer timeout) to wait for the workers once more.
        """
        deadline = time.monotonic() + timeout
        with self._lock:
            stop = not self._closed
            self._closed = True
            threads = list(self._threads)
        if stop:
            for _ in threads:
                self._queue.put(_STOP)
        current = threading.current_thread()
        for thread in threads:
            if thread is not current:
                thread.join(max(0.0, deadline - time.monotonic()))


class Share:
    """One peer's share of a :class:`WorkerPool`.

    At most ``running`` of the peer's calls run at once; up to ``waiting`` more wait in order,
    holding at most ``waiting_bytes`` between them (as the caller sizes them; a call waiting
    alone may be bigger); beyond that :meth:`submit` refuses.
    """

    def __init__(self, pool: WorkerPool, running: int, waiting: int, waiting_bytes: int) -> None:
        self._pool = pool
        self._max_running = running
        self._max_waiting = waiting
        self._max_bytes = waiting_bytes
        self._lock = threading.Lock()
        self._running = 0
        self._bytes = 0
        self._waiting: collections.deque[tuple[Callable[..., Any], tuple[Any, ...], int]] = (
            collections.deque()
        )

    def submit(self, fn: Callable[..., Any], *args: Any, size: int = 0) -> str | None:
        """Run ``fn(*args)`` within the share, counting it as ``size`` bytes while it waits.

        Returns ``None`` once accepted, else which limit refused it: ``"calls"`` (too many
        waiting) or ``"bytes"`` (the waiting calls would hold too much).
        """
        with self._lock:
            if self._running >= self._max_running:
                if len(self._waiting) >= self._max_waiting:
                    return "calls"
                if self._bytes and self._bytes + size > self._max_bytes:
                    return "bytes"
                self._waiting.append((fn, args, size))
                self._bytes += size
                return None
            self._running += 1
        self._pool.submit(self._run, fn, args)
        return None

    def clear(self) -> None:
        """Forget the calls still waiting (their connection is gone)."""
        with self._lock:
            self._waiting.clear()
            self._bytes = 0

    def _run(self, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
        while True:
            try:
                fn(*args)
            except Exception:
                logger.exception("IPC worker call %r failed", fn)
            with self._lock:
                if not self._waiting:
                    self._running -= 1
                    return
                fn, args, size = self._waiting.popleft()
                self._bytes -= size


def call_safely(callback: Callable[..., object] | None, *args: Any) -> None:
    """Run a user callback (connect, disconnect); its failure is logged, never raised."""
    if callback is None:
        return
    try:
        callback(*args)
    except Exception:
        logger.exception("IPC callback %r failed", callback)
