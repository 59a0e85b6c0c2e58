"""A token bucket: ``rate`` tokens per second, at most ``burst`` saved up; and a log throttle.

Each connection owns one bucket and only its reader thread takes from it, so it needs no lock.
:class:`LogThrottle` uses one to keep a repeated log line (a peer's notices, a failing
``accept``) from flooding the log. This module must not sleep; it tells the caller how long to
wait instead.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable


class TokenBucket:
    """Admits ``burst`` messages at once and ``rate`` per second after that.

    Args:
        rate: tokens added per second.
        burst: bucket size (and the initial fill).
        clock: a monotonic clock in seconds (injectable for tests).
    """

    __slots__ = ("_clock", "_last", "_tokens", "burst", "rate")

    def __init__(
        self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError(f"rate must be > 0 and burst >= 1, got {rate} and {burst}")
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._tokens = float(burst)
        self._last = clock()

    def take(self) -> float:
        """Take one token: ``0.0`` if there was one, else the seconds until there will be."""
        now = self._clock()
        tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
        self._last = now
        if tokens >= 1.0:
            self._tokens = tokens - 1.0
            return 0.0
        self._tokens = tokens
        return (1.0 - tokens) / self.rate

    def describe(self) -> str:
        """The limit in words, as error messages show it."""
        return f"{self.rate:g} msg/s, burst {self.burst}"


class LogThrottle:
    """Lets ``burst`` log lines through at once and ``rate`` per second after that.

    Not thread-safe: each user (a connection's reader, the accept loop) owns one.
    """

    __slots__ = ("_bucket", "_suppressed")

    def __init__(
        self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._bucket = TokenBucket(rate, burst, clock)
        self._suppressed = 0

    def allow(self) -> int | None:
        """``None``: drop this line. Else log it, saying how many were dropped before it."""
        if self._bucket.take() > 0.0:
            self._suppressed += 1
            return None
        suppressed, self._suppressed = self._suppressed, 0
        return suppressed


def clip(text: str, limit: int = 500) -> str:
    """``text`` cut to ``limit`` characters (saying how long it was), for logs and reasons."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text)} characters)"
