"""The decision journal of the arbitration engine: bounded history, counters, wait times.

Every decision the arbiter makes lands here, newest last, in a ring of ``history`` entries; the
counters and the recent wait samples behind :class:`~engine.pit.arbitration.models.
ArbiterMetrics` never shrink with it. The journal does not lock (the arbiter holds its lock when
it writes or reads) and does not call anyone: handing decisions to an ``on_decision`` callback
is the arbiter's job, outside its lock.
"""

from __future__ import annotations

import math
import time
from collections import deque

from engine.pit.arbitration.models import ArbiterMetrics, Decision

WAIT_SAMPLES = 10_000
RATE_WINDOW_S = 10.0


class Journal:
    """History and counters of one arbiter's decisions.

    Args:
        history: how many decisions to keep for :meth:`select` (older ones are dropped).
    """

    def __init__(self, history: int) -> None:
        self._history: deque[Decision] = deque(maxlen=max(0, history))
        self._counts: dict[str, int] = {}
        self._waits: deque[float] = deque(maxlen=WAIT_SAMPLES)
        self._queued_grants = 0
        self._total = 0
        self._started = time.time()

    def add(self, decision: Decision) -> None:
        """Keep a decision and count it by action."""
        self._history.append(decision)
        self._total += 1
        action = decision.action
        self._counts[action] = self._counts.get(action, 0) + 1

    def waited(self, seconds: float, *, queued: bool) -> None:
        """Note how long a granted request waited (zero when granted at once)."""
        self._waits.append(seconds)
        if queued:
            self._queued_grants += 1

    def select(self, owner: str | None, limit: int) -> list[Decision]:
        """The newest ``limit`` decisions (about ``owner`` if given), oldest first."""
        if limit <= 0:
            return []
        found: list[Decision] = []
        for decision in reversed(self._history):
            if owner is None or decision.owner == owner:
                found.append(decision)
                if len(found) >= limit:
                    break
        found.reverse()
        return found

    def metrics(self, *, waiting: int, held: int) -> ArbiterMetrics:
        """The counters, the recent decision rate and the wait statistics."""
        counts = self._counts
        waits = sorted(self._waits)
        return ArbiterMetrics(
            decisions=self._total,
            decisions_per_s=self._rate(time.time()),
            grants=counts.get("granted", 0),
            immediate=counts.get("granted", 0) - self._queued_grants,
            waits=self._queued_grants,
            denials=counts.get("denied", 0),
            timeouts=counts.get("timed_out", 0),
            cancellations=counts.get("cancelled", 0),
            releases=counts.get("released", 0),
            waiting=waiting,
            held=held,
            mean_wait_s=sum(waits) / len(waits) if waits else 0.0,
            p99_wait_s=_percentile(waits, 99.0),
        )

    def _rate(self, now: float) -> float:
        """Decisions per second over the last window, or over what the history still holds."""
        cutoff = now - RATE_WINDOW_S
        count, oldest = 0, now
        for decision in reversed(self._history):
            if decision.ts < cutoff:
                break
            count += 1
            oldest = decision.ts
        if count == len(self._history) and count == self._history.maxlen:
            span = now - oldest  # the ring dropped older ones still inside the window
        else:
            span = min(RATE_WINDOW_S, now - self._started)
        return count / span if span > 0 else 0.0


def _percentile(ordered: list[float], q: float) -> float:
    """The q-th percentile (0-100) of sorted samples, nearest rank; 0.0 when there are none."""
    if not ordered:
        return 0.0
    index = max(0, math.ceil(q / 100.0 * len(ordered)) - 1)
    return ordered[index]
