"""The heartbeat thread: every half interval, each live connection sends a heartbeat if it
sent nothing else for an interval, and is dropped if it heard nothing for three.

One thread per server or client, whatever the number of peers. This module must not read
sockets; :meth:`engine.ipc.peer.Peer.tick` does the per-connection work.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from engine.ipc.peer import Peer


class Heartbeats:
    """Calls ``peer.tick(now)`` for every peer ``peers()`` returns, twice per ``interval``."""

    def __init__(self, name: str, interval: float, peers: Callable[[], Iterable[Peer]]) -> None:
        self._interval = interval
        self._peers = peers
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"{name}:heartbeat", daemon=True)

    def start(self) -> None:
        """Start the thread."""
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._interval / 2):
            now = time.monotonic()
            for peer in self._peers():
                peer.tick(now)

    def close(self, timeout: float | None = None) -> None:
        """Stop the thread and wait for it (at most ``timeout`` seconds)."""
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout)
