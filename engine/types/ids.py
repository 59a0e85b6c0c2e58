"""Cheap unique identifiers for messages, events and correlation.

``uuid4()`` costs a few microseconds; the bus creates an id per message, so ids here are a
random per-process prefix plus a counter: unique across processes, ordered within one.
"""

from __future__ import annotations

import itertools
import os
import threading

_counter = itertools.count(1)
_prefix = os.urandom(6).hex()
_pid = os.getpid()
_lock = threading.Lock()


def _reseed() -> None:
    """Give a forked child its own prefix so ids never collide with the parent's."""
    global _prefix, _pid, _counter
    with _lock:
        _prefix = os.urandom(6).hex()
        _pid = os.getpid()
        _counter = itertools.count(1)


os.register_at_fork(after_in_child=_reseed)


def new_id() -> str:
    """Return a new identifier such as ``9f1c2a7b44d0-1f``."""
    return f"{_prefix}-{next(_counter):x}"
