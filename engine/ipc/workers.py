"""A small pool of daemon threads running request handlers, and each peer's share of it.

:class:`WorkerPool` is lighter than :class:`concurrent.futures.ThreadPoolExecutor` (no futures:
handlers answer over the wire themselves); its threads start as they are needed. Its queue is
unbounded because every connection submits through a :class:`Share`, which lets one peer occupy
only a few workers at once and queue a bounded number of calls, so a peer whose calls hang
cannot take the workers every other peer needs. This module must not know about frames or
sockets.
"""

from __future__ import annotations

import collections
import logging
import queue
import threading
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
        """Stop the workers after the calls already queued; wait up to ``timeout`` for them."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            threads = list(self._threads)
        for _ in threads:
            self._queue.put(_STOP)
        current = threading.current_thread()
        for thread in threads:
            if thread is not current:
                thread.join(timeout)


class Share:
    """One peer's share of a :class:`WorkerPool`.

    At most ``running`` of the peer's calls run at once; up to ``waiting`` more wait in order;
    beyond that :meth:`submit` refuses.
    """

    def __init__(self, pool: WorkerPool, running: int, waiting: int) -> None:
        self._pool = pool
        self._max_running = running
        self._max_waiting = waiting
        self._lock = threading.Lock()
        self._running = 0
        self._waiting: collections.deque[tuple[Callable[..., Any], tuple[Any, ...]]] = (
            collections.deque()
        )

    def submit(self, fn: Callable[..., Any], *args: Any) -> bool:
        """Run ``fn(*args)`` within the share; ``False`` if too many calls are waiting."""
        with self._lock:
            if self._running >= self._max_running:
                if len(self._waiting) >= self._max_waiting:
                    return False
                self._waiting.append((fn, args))
                return True
            self._running += 1
        self._pool.submit(self._run, fn, args)
        return True

    def clear(self) -> None:
        """Forget the calls still waiting (their connection is gone)."""
        with self._lock:
            self._waiting.clear()

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
                fn, args = self._waiting.popleft()


def call_safely(callback: Callable[..., object] | None, *args: Any) -> None:
    """Run a user callback (connect, disconnect); its failure is logged, never raised."""
    if callback is None:
        return
    try:
        callback(*args)
    except Exception:
        logger.exception("IPC callback %r failed", callback)
