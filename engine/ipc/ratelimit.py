"""A token bucket: ``rate`` tokens per second, at most ``burst`` saved up.

Each connection owns one and only its reader thread takes from it, so it needs no lock. This
module must not sleep; it tells the caller how long to wait instead.
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
