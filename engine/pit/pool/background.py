"""The threads a pool owns: the ticker and the prewarm workers.

Both are started on first use and stopped by the pool's ``close``; nothing else starts threads
for the pool. The ticker calls one function at a fixed interval and logs (never propagates) what
it raises. The prewarmer runs at most ``workers`` jobs at once, at most one per key at a time;
the pool decides what a job does.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["Prewarmer", "Ticker"]

log = logging.getLogger("symphony.pool")


class Ticker:
    """Call ``tick`` every ``interval_s`` on a daemon thread until stopped."""

    def __init__(self, tick: Callable[[], None], interval_s: float, name: str) -> None:
        self._tick = tick
        self._interval_s = interval_s
        self._name = name
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self.thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the thread (once; later calls do nothing)."""
        with self._lock:
            if self.thread is not None or self._stop.is_set():
                return
            self.thread = threading.Thread(target=self._run, name=self._name, daemon=True)
            self.thread.start()

    def stop(self) -> None:
        """Stop the thread and wait for a tick under way (unless called from the tick itself)."""
        self._stop.set()
        with self._lock:
            thread = self.thread
        if thread is not None and thread is not threading.current_thread():
            thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self._interval_s):
            try:
                self._tick()
            except Exception:
                log.exception("pool: tick failed")


class Prewarmer:
    """Run one job per key in the background, at most ``workers`` at once."""

    def __init__(self, job: Callable[[str], None], workers: int, name: str) -> None:
        self._job = job
        self._workers = workers
        self._name = name
        self._cond = threading.Condition()
        self._pending: dict[str, Future[None]] = {}
        self._executor: ThreadPoolExecutor | None = None
        self._stopped = False

    def submit(self, key: str) -> bool:
        """Queue the job for ``key`` unless one is queued or running, or the prewarmer stopped."""
        with self._cond:
            if self._stopped or key in self._pending:
                return False
            if self._executor is None:
                self._executor = ThreadPoolExecutor(self._workers, thread_name_prefix=self._name)
            self._pending[key] = self._executor.submit(self._run, key)
            return True

    def settle(self, timeout: float | None = None) -> bool:
        """Wait until no job is queued or running; False when ``timeout`` passed first."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while self._pending:
                left_s = None if deadline is None else deadline - time.monotonic()
                if left_s is not None and left_s <= 0:
                    return False
                self._cond.wait(left_s)
            return True

    def stop(self) -> None:
        """Drop queued jobs; running ones finish on their own (the pool makes them stop early)."""
        with self._cond:
            self._stopped = True
            executor = self._executor
        if executor is None:
            return
        # Not waiting here: a job may be the one calling close() from an event callback.
        executor.shutdown(wait=False, cancel_futures=True)
        with self._cond:
            for key, future in list(self._pending.items()):
                if future.cancelled():
                    del self._pending[key]
            self._cond.notify_all()

    def _run(self, key: str) -> None:
        try:
            self._job(key)
        except Exception:
            log.exception("pool: prewarm of %s crashed", key)
        finally:
            with self._cond:
                self._pending.pop(key, None)
                self._cond.notify_all()
