"""Per-topic counters and latency reservoirs of the in-process bus.

Recording sits on the publish and delivery hot paths, so a :class:`TopicStats` is a slotted
object with lock-free per-message counters and two fixed-size deques (the last ``reservoir``
samples): memory stays bounded however long the bus runs. Percentiles are computed only when
someone asks for :class:`TopicMetrics`. This module must not route, deliver or time anything itself.
"""

from __future__ import annotations

import itertools
import math
import threading
from collections import deque

import msgspec

RESERVOIR = 1024
MAX_TOPICS = 4096
"""Beyond this many topics, the metrics of new topics share the ``<other>`` entry."""
OTHER_TOPICS = "<other>"


class TopicMetrics(msgspec.Struct, frozen=True, kw_only=True):
    """A snapshot of one topic's traffic.

    Latencies are milliseconds: ``latency_*`` from the envelope's timestamp to the handler
    finishing, ``request_*`` from ``request`` to the reply being handed over; ``None`` until
    there is a sample.
    """

    topic: str
    published: int = 0
    delivered: int = 0
    handler_errors: int = 0
    dead_lettered: int = 0
    expired: int = 0
    late_replies: int = 0
    latency_p50_ms: float | None = None
    latency_p95_ms: float | None = None
    latency_p99_ms: float | None = None
    request_p50_ms: float | None = None
    request_p95_ms: float | None = None
    request_p99_ms: float | None = None
    samples: int = 0


def nearest_rank(ordered: list[float], q: float) -> float | None:
    """The q-th percentile (0-100) of already sorted samples by nearest rank; None if empty."""
    if not ordered:
        return None
    rank = max(1, math.ceil(q / 100.0 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def _value(counter: itertools.count[int]) -> int:
    """The next value an :func:`itertools.count` will return, i.e. how often it was advanced."""
    return int(repr(counter)[6:-1])  # repr is "count(N)"


class TopicStats:
    """Live counters of one topic, updated from publisher and delivery threads.

    The two per-message counters are :func:`itertools.count` objects (``next`` is atomic and
    about 40 ns) and the reservoirs are deques (``append`` is thread-safe), so the hot path takes
    no lock; the rare counters share one lock.
    """

    __slots__ = (
        "_lock",
        "dead_lettered",
        "delivered_ticks",
        "expired",
        "handler_errors",
        "late_replies",
        "latencies",
        "published_ticks",
        "request_latencies",
        "topic",
    )

    def __init__(self, topic: str, reservoir: int = RESERVOIR) -> None:
        self.topic = topic
        self._lock = threading.Lock()
        self.published_ticks = itertools.count()
        """``next()`` it once per message published (or request sent) on this topic."""
        self.delivered_ticks = itertools.count()
        """``next()`` it once per message a handler finished (then append to ``latencies``)."""
        self.latencies: deque[float] = deque(maxlen=reservoir)
        """Milliseconds from envelope timestamp to handler finished, most recent last."""
        self.request_latencies: deque[float] = deque(maxlen=reservoir)
        """Milliseconds from request to reply handed over, most recent last."""
        self.handler_errors = 0
        self.dead_lettered = 0
        self.expired = 0
        self.late_replies = 0

    @property
    def published(self) -> int:
        """Messages published (and requests sent) on this topic."""
        return _value(self.published_ticks)

    @property
    def delivered(self) -> int:
        """Messages whose handler finished without raising."""
        return _value(self.delivered_ticks)

    def count_handler_error(self) -> None:
        """A handler raised."""
        with self._lock:
            self.handler_errors += 1

    def count_dead_letter(self, *, expired: bool = False) -> None:
        """A message of this topic went to the dead letters (``expired``: past its deadline)."""
        with self._lock:
            self.dead_lettered += 1
            if expired:
                self.expired += 1

    def count_late_reply(self) -> None:
        """A reply came after its requester stopped waiting and was dropped."""
        with self._lock:
            self.late_replies += 1

    def snapshot(self) -> TopicMetrics:
        """Counters and percentiles as they are now."""
        # Copying a deque of floats runs entirely in C under the GIL: no append can interleave.
        latencies = sorted(self.latencies.copy())
        replies = sorted(self.request_latencies.copy())
        with self._lock:
            return TopicMetrics(
                topic=self.topic,
                published=self.published,
                delivered=self.delivered,
                handler_errors=self.handler_errors,
                dead_lettered=self.dead_lettered,
                expired=self.expired,
                late_replies=self.late_replies,
                latency_p50_ms=nearest_rank(latencies, 50),
                latency_p95_ms=nearest_rank(latencies, 95),
                latency_p99_ms=nearest_rank(latencies, 99),
                request_p50_ms=nearest_rank(replies, 50),
                request_p95_ms=nearest_rank(replies, 95),
                request_p99_ms=nearest_rank(replies, 99),
                samples=len(latencies),
            )


class TopicTable:
    """The :class:`TopicStats` of every topic seen, bounded at :data:`MAX_TOPICS` entries.

    ``by_topic`` may be read without a lock (a dict lookup); entries are only added here.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.by_topic: dict[str, TopicStats] = {}

    def add(self, topic: str) -> TopicStats:
        """The stats of ``topic``, created if needed (or the shared overflow entry)."""
        with self._lock:
            stats = self.by_topic.get(topic)
            if stats is None:
                if len(self.by_topic) >= MAX_TOPICS:
                    topic = OTHER_TOPICS
                    stats = self.by_topic.get(topic)
                if stats is None:
                    stats = self.by_topic[topic] = TopicStats(topic)
            return stats

    def snapshot(self) -> dict[str, TopicMetrics]:
        """Every topic's :class:`TopicMetrics`."""
        return {topic: stats.snapshot() for topic, stats in list(self.by_topic.items())}
