"""A subscription: one handler, its bounded queue and the one thread that feeds it.

The delivery thread is owned by its :class:`Subscription` and ends when the subscription is
cancelled or the bus closes. A handler that raises costs one dead letter, never the thread; a
message whose ``timeout_ms`` passed while it waited is dead-lettered as expired instead of run.
This module must not decide routing or build replies — the bus passes in a ready handler.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

import msgspec

from engine.bus.queue import BoundedPriorityQueue, Overflow, QueueClosed, QueueFull
from engine.types.errors import Backpressure, NoHandler
from engine.types.messages import Envelope, Kind

if TYPE_CHECKING:
    from engine.bus.metrics import TopicStats

logger = logging.getLogger(__name__)

Handler = Callable[[Envelope], object]


class SubscriptionOwner(Protocol):
    """What a subscription needs from its bus."""

    def _stats_for(self, topic: str) -> TopicStats: ...

    def _dead_letter(
        self, envelope: Envelope, reason: str, error: str | None, stats: TopicStats | None = None
    ) -> None: ...

    def _release(self, subscription: Subscription) -> None: ...

    def _abandon(self, correlation_id: str, error: BaseException) -> None: ...


class SubscriptionStats(msgspec.Struct, frozen=True, kw_only=True):
    """A snapshot of one subscription."""

    name: str
    pattern: str
    pending: int
    maxsize: int
    high_water: int
    delivered: int
    handler_errors: int
    expired: int
    dropped: int
    alive: bool


class Subscription:
    """A handler receiving the messages of one topic pattern on its own thread.

    Attributes:
        name: names the delivery thread and appears in health reasons and dead letters.
        pattern: the glob pattern (or, for a responder, the exact topic).
        overflow: what publishers do when the queue is full.
        block_timeout: how long a ``BLOCK`` publisher waits for room.
        responder: whether this subscription answers requests (registered with ``Bus.handle``).
    """

    def __init__(
        self,
        owner: SubscriptionOwner,
        pattern: str,
        handler: Handler,
        *,
        name: str,
        thread_name: str,
        maxsize: int,
        overflow: Overflow,
        block_timeout: float,
        responder: bool = False,
    ) -> None:
        if block_timeout < 0:
            raise ValueError(f"block_timeout must not be negative, got {block_timeout}")
        self.name = name
        self.pattern = pattern
        self.overflow = overflow
        self.block_timeout = block_timeout
        self.responder = responder
        self.queue: BoundedPriorityQueue[Envelope] = BoundedPriorityQueue(maxsize)
        self._owner = owner
        self._handler = handler
        self._thread = threading.Thread(target=self._run, name=thread_name, daemon=True)
        self._cancelled = False
        self._delivered = 0
        self._handler_errors = 0
        self._expired = 0
        self.died: str | None = None

    def __repr__(self) -> str:
        return f"<Subscription {self.name!r} on {self.pattern!r} pending={self.pending}>"

    @property
    def pending(self) -> int:
        """Messages waiting in the queue."""
        return len(self.queue)

    @property
    def maxsize(self) -> int:
        """The queue's bound."""
        return self.queue.maxsize

    @property
    def alive(self) -> bool:
        """Whether the delivery thread is running."""
        return self._thread.is_alive()

    @property
    def thread_name(self) -> str:
        """The delivery thread's name."""
        return self._thread.name

    def stats(self) -> SubscriptionStats:
        """Counters of this subscription as they are now."""
        return SubscriptionStats(
            name=self.name,
            pattern=self.pattern,
            pending=len(self.queue),
            maxsize=self.queue.maxsize,
            high_water=self.queue.high_water,
            delivered=self._delivered,
            handler_errors=self._handler_errors,
            expired=self._expired,
            dropped=self.queue.dropped,
            alive=self._thread.is_alive(),
        )

    def cancel(self, timeout: float = 2.0) -> None:
        """Stop receiving; queued messages are dead-lettered as ``cancelled``. Idempotent.

        Waits up to ``timeout`` seconds for a handler that is running to finish (not when called
        from the handler itself).
        """
        if self._cancelled:
            return
        self._cancelled = True
        self._owner._release(self)
        why = f"subscription {self.name!r} cancelled"
        for envelope in self.queue.close(discard=True):
            self._owner._dead_letter(envelope, "cancelled", why)
            if envelope.kind is Kind.REQUEST and envelope.correlation_id is not None:
                self._owner._abandon(envelope.correlation_id, NoHandler(why))
        self.join(timeout)

    def offer(self, envelope: Envelope, block: float, stats: TopicStats) -> bool:
        """Queue ``envelope``, waiting at most ``block`` s for room under ``BLOCK``.

        Returns False if backpressure refused it; whatever did not make it is dead-lettered.
        """
        try:
            lost = self.queue.put(envelope, envelope.priority, self.overflow, block)
        except (QueueFull, QueueClosed) as exc:
            return self.refused(envelope, exc, block, stats)
        if lost is not None:
            self.lost(envelope, lost)
        return True

    def refused(
        self, envelope: Envelope, exc: QueueFull | QueueClosed, block: float, stats: TopicStats
    ) -> bool:
        """Dead-letter a message the queue refused; False if that was backpressure."""
        if isinstance(exc, QueueClosed):
            reason = "subscriber_died" if self.died else "cancelled"
            self._owner._dead_letter(envelope, reason, f"{self.name!r} is gone", stats)
            return True
        why = f"{self.name!r} stayed full ({self.maxsize}) for {block:g} s"
        self._owner._dead_letter(envelope, "backpressure", why, stats)
        return False

    def lost(self, envelope: Envelope, lost: Envelope) -> None:
        """Dead-letter what the overflow policy dropped; fail a dropped request's waiter."""
        reason = "dropped_new" if lost is envelope else "dropped_oldest"
        self._owner._dead_letter(lost, reason, f"{self.name!r} full ({self.maxsize})")
        if lost.kind is Kind.REQUEST and lost.correlation_id is not None:
            error = Backpressure(f"{lost.topic!r}: request {reason} by {self.name!r}")
            self._owner._abandon(lost.correlation_id, error)

    def start(self) -> None:
        """Start the delivery thread (the bus calls this once)."""
        self._thread.start()

    def shutdown(self, *, discard: bool) -> list[Envelope]:
        """Stop accepting messages; with ``discard`` also return the queued ones undelivered."""
        self._cancelled = True
        return self.queue.close(discard=discard)

    def join(self, timeout: float) -> bool:
        """Wait for the delivery thread to end; returns whether it did."""
        if self._thread is not threading.current_thread() and self._thread.ident is not None:
            self._thread.join(timeout)
        return not self._thread.is_alive()

    def _run(self) -> None:
        get = self.queue.get
        handler = self._handler
        owner = self._owner
        stats_for = owner._stats_for
        now = time.time
        try:
            while (envelope := get()) is not None:
                stats = stats_for(envelope.topic)
                timeout_ms = envelope.timeout_ms
                if timeout_ms is not None and now() > envelope.timestamp + timeout_ms / 1000.0:
                    self._expired += 1
                    owner._dead_letter(
                        envelope, "expired", f"queued past its {timeout_ms} ms deadline", stats
                    )
                    continue
                try:
                    handler(envelope)
                except Exception as exc:
                    self._handler_errors += 1
                    stats.count_handler_error()
                    owner._dead_letter(
                        envelope, "handler_error", f"{type(exc).__name__}: {exc}", stats
                    )
                    continue
                self._delivered += 1
                next(stats.delivered_ticks)
                stats.latencies.append((now() - envelope.timestamp) * 1000.0)
        except BaseException as exc:
            # Only a bug in the bus or a BaseException from a handler gets here; record it for
            # health() and do not let the queue fill up behind a dead thread.
            self.died = f"{type(exc).__name__}: {exc}"
            logger.critical(
                "delivery thread %r died: %s", self._thread.name, self.died, exc_info=exc
            )
            for envelope in self.queue.close(discard=True):
                owner._dead_letter(envelope, "subscriber_died", self.died)
