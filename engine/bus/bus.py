"""The in-process message bus: pub/sub on glob topics and request/reply with timeouts (SPEC §3.3).

Every subscription has its own bounded priority queue and delivery thread, so a slow subscriber
holds up nobody but itself and its memory is capped by ``maxsize`` and its overflow policy.
Requests go to the one responder of an exact topic and wait on a cheap reply slot; handler
failures become :class:`ErrorReply` payloads or dead letters, never a dead bus. The bus owns
every thread it starts and joins them in :meth:`Bus.close`.

This module must not import anything from the UI, do I/O, or run handlers on the publisher's
thread.
"""

from __future__ import annotations

import itertools
import threading
import time
from typing import TYPE_CHECKING

from engine.bus.deadletters import DeadLetter, DeadLetterBox
from engine.bus.health import assess
from engine.bus.metrics import TopicMetrics, TopicStats, TopicTable
from engine.bus.queue import Overflow, QueueClosed, QueueFull
from engine.bus.reply import DeadlineReaper, PendingReply, RequestHandler, responder
from engine.bus.subscription import Subscription
from engine.bus.topics import RouteTable, is_glob
from engine.types.errors import Backpressure, BusError, NoHandler
from engine.types.ids import new_id
from engine.types.messages import (
    Command,
    ComponentHealth,
    Envelope,
    Event,
    Kind,
    Message,
    Priority,
    command_topic,
    event_topic,
)

if TYPE_CHECKING:
    from collections.abc import Callable
    from types import TracebackType

    from engine.bus.deadletters import DeadLetterObserver
    from engine.bus.subscription import Handler

# Enum member lookups on the class cost ~60 ns each in 3.11; the hot paths use these instead.
_EVENT = Kind.EVENT
_REQUEST = Kind.REQUEST
_NORMAL = Priority.NORMAL


class Bus:
    """The engine's in-process bus. Thread-safe; use as a context manager or call :meth:`close`.

    Args:
        name: names the bus's threads (``symphony-bus-<name>:…``).
        default_maxsize: queue bound of subscriptions that do not choose one.
        dead_letter_limit: how many recent dead letters are kept.
    """

    def __init__(
        self, name: str = "engine", *, default_maxsize: int = 1024, dead_letter_limit: int = 1000
    ) -> None:
        if default_maxsize < 1:
            raise ValueError(f"default_maxsize must be at least 1, got {default_maxsize}")
        self.name = name
        self.default_maxsize = default_maxsize
        self._lock = threading.Lock()
        self._closed = False
        self._routes: RouteTable[Subscription] = RouteTable()
        self._subscriptions: list[Subscription] = []
        self._responders: dict[str, Subscription] = {}
        self._pending: dict[str, PendingReply] = {}
        self._topics = TopicTable()
        self._stats = self._topics.by_topic  # read directly on the hot path
        self._dead = DeadLetterBox(dead_letter_limit)
        self._reaper = DeadlineReaper(f"symphony-bus-{name}:reaper")
        self._seq = itertools.count(1)

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"<Bus {self.name!r} {state} subscriptions={len(self._subscriptions)}>"

    def __enter__(self) -> Bus:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._closed

    # --- subscribing ---------------------------------------------------------------------------

    def subscribe(
        self,
        pattern: str,
        handler: Handler,
        *,
        maxsize: int | None = None,
        overflow: Overflow = Overflow.BLOCK,
        block_timeout: float = 1.0,
        name: str | None = None,
    ) -> Subscription:
        """Call ``handler(envelope)`` on a dedicated thread for every event matching ``pattern``.

        ``pattern`` is a glob over dotted topics (``evt.*``, ``cmd.Get*``, ``*``). Within the
        subscription, messages arrive by priority, then in publish order.
        """
        return self._add(pattern, handler, maxsize, overflow, block_timeout, name, responder=False)

    def handle(
        self,
        topic: str,
        handler: RequestHandler,
        *,
        maxsize: int | None = None,
        overflow: Overflow = Overflow.BLOCK,
        block_timeout: float = 1.0,
        name: str | None = None,
    ) -> Subscription:
        """Register the one responder for requests on the exact ``topic``.

        The handler's return value is the reply (``None`` → :class:`Ack`); a
        :class:`SymphonyError` it raises becomes an :class:`ErrorReply` with its code, any other
        exception one with code ``internal``.

        Raises:
            BusError: ``topic`` already has a responder or is a glob pattern.
        """
        if is_glob(topic):
            raise BusError(f"a responder needs an exact topic, not the pattern {topic!r}")
        serve = responder(handler, self._pending, self._stats_for)
        return self._add(topic, serve, maxsize, overflow, block_timeout, name, responder=True)

    def _add(
        self,
        pattern: str,
        handler: Handler,
        maxsize: int | None,
        overflow: Overflow,
        block_timeout: float,
        name: str | None,
        *,
        responder: bool,
    ) -> Subscription:
        seq = next(self._seq)
        name = name or f"{pattern}#{seq}"
        sub = Subscription(
            self,
            pattern,
            handler,
            name=name,
            thread_name=f"symphony-bus-{self.name}:{name}",
            maxsize=self.default_maxsize if maxsize is None else maxsize,
            overflow=overflow,
            block_timeout=block_timeout,
            responder=responder,
        )
        with self._lock:
            self._check_open()
            if responder:
                if pattern in self._responders:
                    existing = self._responders[pattern].name
                    raise BusError(f"{pattern!r} already has a responder ({existing!r})")
                self._responders[pattern] = sub
            else:
                self._routes.add(pattern, sub)
            self._subscriptions.append(sub)
            sub.start()  # under the lock, so close() never sees an unstarted thread
        return sub

    def _release(self, subscription: Subscription) -> None:
        """Forget a cancelled subscription (called by :meth:`Subscription.cancel`)."""
        with self._lock:
            if subscription.responder:
                if self._responders.get(subscription.pattern) is subscription:
                    del self._responders[subscription.pattern]
            else:
                self._routes.remove(subscription)
            if subscription in self._subscriptions:
                self._subscriptions.remove(subscription)

    # --- publishing ----------------------------------------------------------------------------

    def publish(
        self,
        topic: str,
        payload: Message,
        *,
        priority: Priority = Priority.NORMAL,
        source: str = "",
        kind: Kind = Kind.EVENT,
    ) -> Envelope:
        """Wrap ``payload`` in an envelope and publish it; returns the envelope.

        Raises:
            Backpressure: a ``BLOCK`` subscriber stayed full for its ``block_timeout`` (the
                message is dead-lettered for that subscriber, delivered to the others).
            BusError: the bus is closed.
        """
        if kind is _EVENT and priority is _NORMAL and not source:
            # Fewer keyword arguments make msgspec noticeably faster on the common path.
            envelope = Envelope(topic=topic, payload=payload)
        else:
            envelope = Envelope(
                topic=topic, payload=payload, kind=kind, priority=priority, source=source
            )
        self.publish_envelope(envelope)
        return envelope

    def publish_envelope(self, envelope: Envelope) -> None:
        """Publish a ready envelope (see :meth:`publish`); requests go to their responder."""
        if self._closed:
            self._check_open()
        topic = envelope.topic
        stats = self._stats.get(topic) or self._topics.add(topic)
        next(stats.published_ticks)
        if envelope.kind is _REQUEST:
            self._enqueue_request(envelope, stats, None)
            return
        refused: list[str] | None = None
        priority = envelope.priority
        for sub in self._routes.match(topic):
            try:
                lost = sub.queue.put(envelope, priority, sub.overflow, sub.block_timeout)
            except (QueueFull, QueueClosed) as exc:
                if not sub.refused(envelope, exc, sub.block_timeout, stats):
                    refused = [*(refused or ()), sub.name]
                continue
            if lost is not None:
                sub.lost(envelope, lost)
        if refused:
            raise Backpressure(f"{topic!r}: subscriber queue full: {', '.join(refused)}")

    def emit(self, event: Event, *, priority: Priority = Priority.NORMAL, source: str = "") -> None:
        """Publish ``event`` on its topic (``evt.<ClassName>``)."""
        self.publish(event_topic(event), event, priority=priority, source=source)

    def _abandon(self, correlation_id: str, error: BaseException) -> None:
        """Fail the waiting request ``correlation_id`` (if still waiting) with ``error``."""
        slot = self._pending.pop(correlation_id, None)
        if slot is not None:
            slot.complete(None, error)

    # --- request/reply -------------------------------------------------------------------------

    def request(
        self,
        topic: str,
        payload: Message,
        *,
        timeout: float = 5.0,
        priority: Priority = Priority.NORMAL,
        source: str = "",
    ) -> Message:
        """Send a request to ``topic``'s responder and wait for the reply.

        Raises:
            NoHandler: nobody answers ``topic``.
            BusTimeout: no reply within ``timeout`` seconds (a late reply is dropped).
            RemoteError: the responder failed; ``remote_code`` is its error code.
            Backpressure: the responder's queue stayed full.
            BusError: the bus is closed or closed while waiting.
        """
        return self._start_request(topic, payload, timeout, priority, source).result()

    def request_async(
        self,
        topic: str,
        payload: Message,
        *,
        timeout: float = 5.0,
        priority: Priority = Priority.NORMAL,
        source: str = "",
    ) -> PendingReply:
        """Like :meth:`request` but return at once; the reply (or failure) arrives in the slot."""
        slot = self._start_request(topic, payload, timeout, priority, source)
        if not slot.done():
            self._reaper.watch(slot)
        return slot

    def send(self, command: Command, *, timeout: float = 5.0, source: str = "") -> Message:
        """Send ``command`` on its topic (``cmd.<ClassName>``) and return the reply."""
        return self.request(command_topic(command), command, timeout=timeout, source=source)

    def _start_request(
        self, topic: str, payload: Message, timeout: float, priority: Priority, source: str
    ) -> PendingReply:
        self._check_open()
        if timeout <= 0:
            raise BusError(f"request timeout must be positive, got {timeout}")
        rid = new_id()
        envelope = Envelope(
            topic=topic,
            payload=payload,
            kind=_REQUEST,
            id=rid,
            correlation_id=rid,
            priority=priority,
            source=source,
            timeout_ms=max(1, round(timeout * 1000)),
        )
        stats = self._stats.get(topic) or self._topics.add(topic)
        next(stats.published_ticks)
        slot = PendingReply(topic, rid, timeout, self._pending)
        self._pending[rid] = slot
        try:
            self._enqueue_request(envelope, stats, timeout)
        except BusError:
            self._pending.pop(rid, None)
            raise
        if self._closed:
            self._abandon(rid, BusError("bus closed"))  # raced with close()
        return slot

    def _enqueue_request(
        self, envelope: Envelope, stats: TopicStats, wait_limit: float | None
    ) -> None:
        """Queue a request for its responder, blocking at most ``wait_limit`` for room."""
        responder = self._responders.get(envelope.topic)
        if responder is None:
            self._dead_letter(envelope, "no_handler", None, stats)
            raise NoHandler(f"no handler for {envelope.topic!r}")
        block = responder.block_timeout
        if wait_limit is not None:
            block = min(block, wait_limit)
        if not responder.offer(envelope, block, stats):
            raise Backpressure(f"{envelope.topic!r}: responder {responder.name!r} queue full")

    # --- dead letters and metrics --------------------------------------------------------------

    def dead_letters(self) -> list[DeadLetter]:
        """The most recent dead letters (up to ``dead_letter_limit``), oldest first."""
        return self._dead.letters()

    def dead_letter_counts(self) -> dict[str, int]:
        """Total dead letters per reason since the bus started."""
        return self._dead.totals()

    def on_dead_letter(self, callback: DeadLetterObserver) -> Callable[[], None]:
        """Call ``callback(dead_letter)`` for every future dead letter; returns an unsubscriber.

        The callback runs on the thread that dead-lettered the message; errors are logged.
        """
        return self._dead.observe(callback)

    def metrics(self) -> dict[str, TopicMetrics]:
        """Traffic and latency of every topic seen so far."""
        return self._topics.snapshot()

    def subscriptions(self) -> list[Subscription]:
        """The live subscriptions and responders."""
        with self._lock:
            return list(self._subscriptions)

    def _stats_for(self, topic: str) -> TopicStats:
        return self._stats.get(topic) or self._topics.add(topic)

    def _dead_letter(
        self, envelope: Envelope, reason: str, error: str | None, stats: TopicStats | None = None
    ) -> None:
        (stats or self._stats_for(envelope.topic)).count_dead_letter(expired=reason == "expired")
        self._dead.add(DeadLetter(envelope=envelope, reason=reason, error=error))

    # --- health and shutdown -------------------------------------------------------------------

    def health(self) -> ComponentHealth:
        """Healthy, degraded (a queue > 90 % full, recent dead letters) or unhealthy (closed, a
        delivery thread died), with the reasons and a few numbers."""
        return assess(
            self.name,
            closed=self._closed,
            subscriptions=self.subscriptions(),
            stats=list(self._stats.values()),
            dead=self._dead,
            pending_requests=len(self._pending),
        )

    def close(self, timeout: float = 2.0) -> None:
        """Stop accepting messages, fail pending requests and join every thread. Idempotent.

        Events already queued are still delivered if their handlers finish within ``timeout``;
        whatever is left after that (and every queued request) is dead-lettered as ``closed``.
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True
            subs = list(self._subscriptions)
        deadline = time.monotonic() + timeout
        for cid in list(self._pending):
            self._abandon(cid, BusError("bus closed"))
        for sub in subs:
            for envelope in sub.shutdown(discard=sub.responder):
                self._dead_letter(envelope, "closed", f"bus {self.name!r} closed")
        self._reaper.close(max(0.0, deadline - time.monotonic()))
        for sub in subs:
            if not sub.join(max(0.0, deadline - time.monotonic())):
                for envelope in sub.shutdown(discard=True):
                    self._dead_letter(envelope, "closed", f"bus {self.name!r} closed")

    def _check_open(self) -> None:
        if self._closed:
            raise BusError(f"bus {self.name!r} is closed")
