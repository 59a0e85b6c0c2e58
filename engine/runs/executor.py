"""Where step work runs: the executor seam of the scheduler.

The scheduler hands an executor a callable per step and gets the result back through a
callback; it never touches threads itself. The embedded default is :class:`ThreadExecutor`, a
fixed pool of daemon threads (daemon, so a step stuck in code that ignores cancellation cannot
keep the process from exiting). A distributed executor (Dask) implements the same two methods.
"""

from __future__ import annotations

import queue
import threading
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["Executor", "ThreadExecutor"]


class Executor(Protocol):
    """Runs step work somewhere and reports back."""

    def submit(
        self, fn: Callable[[], Any], done: Callable[[Any, BaseException | None], None]
    ) -> None:
        """Run ``fn``; then call ``done(result, None)`` or ``done(None, error)``."""

    def shutdown(self) -> None:
        """Stop taking work; running work may finish on its own."""


_STOP = object()


class ThreadExecutor:
    """``workers`` daemon threads taking work from one queue."""

    def __init__(self, workers: int, *, name: str = "melody-worker") -> None:
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._threads = [
            threading.Thread(target=self._work, name=f"{name}-{i}", daemon=True)
            for i in range(max(1, workers))
        ]
        for t in self._threads:
            t.start()

    def submit(
        self, fn: Callable[[], Any], done: Callable[[Any, BaseException | None], None]
    ) -> None:
        self._queue.put((fn, done))

    def shutdown(self) -> None:
        for _ in self._threads:
            self._queue.put(_STOP)

    def _work(self) -> None:
        while (item := self._queue.get()) is not _STOP:
            fn, done = item
            try:
                result = fn()
            except BaseException as e:
                done(None, e)
            else:
                done(result, None)
