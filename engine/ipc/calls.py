"""Outstanding requests: one reply slot per correlation id, completed exactly once.

A :class:`Slot` is a lock acquired at creation and released by whoever completes it, the
cheapest rendezvous CPython offers. Only the thread that *removes* a slot from the table (the
reader delivering the reply, the caller timing out, or the connection closing) completes it, so
a late reply can never overwrite a timeout. This module must not send anything.
"""

from __future__ import annotations

import threading
from typing import Any

import msgspec

from engine.types.errors import IpcError, IpcTimeout


class Slot:
    """Where one reply (or failure) is delivered."""

    __slots__ = ("_lock", "error", "value")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._lock.acquire()
        self.value: Any = None
        self.error: BaseException | None = None

    def complete(self, value: Any, error: BaseException | None) -> None:
        """Deliver; only the remover of the table entry may call this."""
        self.value = value
        self.error = error
        self._lock.release()

    def wait(self, timeout: float | None) -> bool:
        """Wait until completed; ``False`` if ``timeout`` seconds passed first."""
        if timeout is None:
            return self._lock.acquire()
        return self._lock.acquire(timeout=max(timeout, 0.0))


class Calls:
    """The correlation id → :class:`Slot` table of one connection."""

    def __init__(self) -> None:
        self._slots: dict[int, Slot] = {}
        self._failure: BaseException | None = None

    def __len__(self) -> int:
        return len(self._slots)

    def open(self, call_id: int) -> Slot:
        """Register a slot for ``call_id``; raises the connection's failure if it is closed."""
        slot = Slot()
        self._slots[call_id] = slot
        failure = self._failure
        # Checked after inserting: fail_all sets _failure before draining, so either it drains
        # this slot or we see the failure here.
        if failure is not None and self._slots.pop(call_id, None) is not None:
            raise failure
        return slot

    def complete(self, call_id: int, value: Any, error: BaseException | None = None) -> bool:
        """Complete the slot of ``call_id``; ``False`` if nobody waits for it any more."""
        slot = self._slots.pop(call_id, None)
        if slot is None:
            return False
        slot.complete(value, error)
        return True

    def wait(self, call_id: int, slot: Slot, timeout: float, method: str, peer: str) -> Any:
        """Wait for the reply to ``call_id`` (a call of ``method`` on ``peer``); return its value.

        Raises:
            IpcTimeout: no reply within ``timeout`` seconds (the call is abandoned).
            IpcError: the connection closed, or the peer answered with an error.
        """
        if not slot.wait(timeout):
            if self._slots.pop(call_id, None) is not None:
                raise IpcTimeout(f"no reply to {method!r} from {peer!r} within {timeout:g} s")
            slot.wait(None)  # completed by someone else just now
        if slot.error is not None:
            raise slot.error
        return slot.value

    def fail_all(self, error: BaseException) -> None:
        """Fail every open call (and any opened later) with ``error``."""
        self._failure = error
        for call_id in list(self._slots):
            self.complete(call_id, None, error)


def milliseconds(seconds: float) -> int:
    """A timeout in whole milliseconds, at least 1 (``timeout_ms`` on the wire)."""
    return max(1, int(seconds * 1000))


def convert(result: Any, result_type: Any, method: str) -> Any:
    """Validate the result of ``method`` into ``result_type``.

    Raises:
        IpcError: it does not fit.
    """
    try:
        return msgspec.convert(result, result_type)
    except msgspec.ValidationError as e:
        raise IpcError(f"the result of {method!r} does not fit {result_type!r}: {e}") from e
