"""Where the bus puts messages it could not deliver, and who gets told.

A bounded deque keeps the most recent :class:`DeadLetter` records (older ones fall off, but the
per-reason totals keep counting); observers registered with :meth:`DeadLetterBox.observe` are
called on the thread that dead-lettered the message. An observer that raises is logged and kept —
it must never break delivery. This module must not retry or re-route anything.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable

import msgspec

from engine.types.messages import Envelope

logger = logging.getLogger(__name__)


class DeadLetter(msgspec.Struct, frozen=True, kw_only=True):
    """A message the bus gave up on.

    Attributes:
        envelope: the message itself.
        reason: why — ``backpressure``, ``dropped_oldest``, ``dropped_new``, ``handler_error``,
            ``expired``, ``no_handler``, ``cancelled``, ``closed`` or ``subscriber_died``.
        error: details (the exception text for ``handler_error``), if any.
        at: wall-clock time it was dead-lettered (``time.time()``).
    """

    envelope: Envelope
    reason: str
    error: str | None = None
    at: float = msgspec.field(default_factory=time.time)


DeadLetterObserver = Callable[[DeadLetter], object]


class DeadLetterBox:
    """The bounded record of dead letters with totals per reason."""

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError(f"dead_letter_limit must be at least 1, got {limit}")
        self._lock = threading.Lock()
        self._letters: deque[DeadLetter] = deque(maxlen=limit)
        self._totals: dict[str, int] = {}
        self._observers: tuple[DeadLetterObserver, ...] = ()

    def add(self, letter: DeadLetter) -> None:
        """Record ``letter`` and tell every observer."""
        with self._lock:
            self._letters.append(letter)
            self._totals[letter.reason] = self._totals.get(letter.reason, 0) + 1
            observers = self._observers
        for observer in observers:
            try:
                observer(letter)
            except Exception:
                logger.exception("dead-letter observer %r raised; ignoring it", observer)

    def letters(self) -> list[DeadLetter]:
        """The retained dead letters, oldest first."""
        with self._lock:
            return list(self._letters)

    def totals(self) -> dict[str, int]:
        """How many messages were dead-lettered for each reason since the bus started."""
        with self._lock:
            return dict(self._totals)

    def recent(self, window: float) -> dict[str, int]:
        """Retained dead letters of the last ``window`` seconds, counted by reason."""
        since = time.time() - window
        counts: dict[str, int] = {}
        with self._lock:
            for letter in reversed(self._letters):
                if letter.at < since:
                    break
                counts[letter.reason] = counts.get(letter.reason, 0) + 1
        return counts

    def observe(self, observer: DeadLetterObserver) -> Callable[[], None]:
        """Call ``observer`` for every future dead letter; returns a function that stops it."""
        with self._lock:
            self._observers = (*self._observers, observer)

        def stop() -> None:
            with self._lock:
                self._observers = tuple(o for o in self._observers if o is not observer)

        return stop
