"""Reply slots for request/reply, the responder wrapper that fills them, and the deadline reaper.

A :class:`PendingReply` is the cheapest rendezvous CPython offers: a lock acquired at creation and
released once by whoever completes it. Completion is exclusive by construction — the bus keeps
every open slot in a ``correlation id → slot`` table and only the thread that *removes* a slot
from that table (the responder, a timed-out waiter, the reaper or ``close``) may complete it, so
a late reply can never overwrite a timeout. This module must not route or enqueue messages.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from engine.types.errors import BusTimeout, RemoteError, SymphonyError
from engine.types.messages import Ack, Envelope, ErrorReply, Message

if TYPE_CHECKING:
    from engine.bus.metrics import TopicStats

logger = logging.getLogger(__name__)

_callbacks_lock = threading.Lock()  # only guards lazy creation of callback lists (rare path)


class PendingReply:
    """The future reply to one request.

    Attributes:
        topic: the request's topic.
        correlation_id: the request envelope's correlation id.
        timeout: seconds the requester allowed for the reply.
    """

    __slots__ = (
        "_callbacks",
        "_deadline",
        "_done",
        "_error",
        "_lock",
        "_table",
        "_value",
        "correlation_id",
        "started",
        "timeout",
        "topic",
    )

    def __init__(
        self, topic: str, correlation_id: str, timeout: float, table: dict[str, PendingReply]
    ) -> None:
        self.topic = topic
        self.correlation_id = correlation_id
        self.timeout = timeout
        self.started = time.perf_counter()
        self._deadline = self.started + timeout
        self._table = table
        self._lock = threading.Lock()
        self._lock.acquire()
        self._done = False
        self._value: Message | None = None
        self._error: BaseException | None = None
        self._callbacks: list[Callable[[PendingReply], object]] | None = None

    def __repr__(self) -> str:
        state = "done" if self._done else "pending"
        return f"<PendingReply {self.topic} {self.correlation_id} {state}>"

    @property
    def deadline(self) -> float:
        """When the request times out, on the :func:`time.perf_counter` clock."""
        return self._deadline

    def done(self) -> bool:
        """Whether the reply (or a failure) has arrived."""
        return self._done

    def result(self, timeout: float | None = None) -> Message:
        """Wait for the reply and return it.

        Args:
            timeout: wait at most this long; ``None`` waits until the request's own deadline.

        Raises:
            RemoteError: the responder answered with an :class:`ErrorReply`.
            BusTimeout: no reply by the request's deadline (the request is then abandoned), or
                none within ``timeout`` (the request stays pending).
            BusError: the bus closed or the request was refused.
        """
        if not self._done:
            self._wait(timeout)
        if self._error is not None:
            raise self._error
        value = self._value
        assert value is not None  # a completed slot holds a reply or an error
        if isinstance(value, ErrorReply):
            raise RemoteError(value.message, remote_code=value.code)
        return value

    def exception(self) -> BaseException | None:
        """The failure of a completed request (without raising it); ``None`` if none or pending.

        A remote failure is reported as the :class:`RemoteError` that :meth:`result` raises.
        """
        if not self._done:
            return None
        if self._error is not None:
            return self._error
        if isinstance(self._value, ErrorReply):
            return RemoteError(self._value.message, remote_code=self._value.code)
        return None

    def add_done_callback(self, fn: Callable[[PendingReply], object]) -> None:
        """Call ``fn(self)`` once when the request completes — now, if it already has.

        ``fn`` runs on whichever thread completes the request; exceptions it raises are logged.
        """
        if self._callbacks is None:
            with _callbacks_lock:
                if self._callbacks is None:
                    self._callbacks = []
        self._callbacks.append(fn)
        # Completion sets _done before reading _callbacks and we append before reading _done,
        # so at least one side sees the callback; popping makes running it exactly-once.
        if self._done:
            self._run_callbacks()

    def _wait(self, timeout: float | None) -> None:
        remaining = self._deadline - time.perf_counter()
        if timeout is not None and timeout < remaining:
            if self._lock.acquire(timeout=timeout):
                self._lock.release()  # let other waiters through too
                return
            raise BusTimeout(f"no reply on {self.topic!r} yet after {timeout:g} s")
        if self._lock.acquire(timeout=max(remaining, 0.0)):
            self._lock.release()
            return
        self.expire()
        self._lock.acquire()  # expired by us or completed by someone else: released already
        self._lock.release()

    def expire(self) -> None:
        """Fail the request with :class:`BusTimeout` unless someone else already completes it."""
        if self._table.pop(self.correlation_id, None) is not None:
            self.complete(None, BusTimeout(f"no reply on {self.topic!r} within {self.timeout:g} s"))

    def complete(self, value: Message | None, error: BaseException | None) -> None:
        """Deliver the reply or the failure. Only the remover of the table entry may call this."""
        self._value = value
        self._error = error
        self._done = True
        self._lock.release()
        if self._callbacks is not None:
            self._run_callbacks()

    def _run_callbacks(self) -> None:
        callbacks = self._callbacks
        assert callbacks is not None
        while True:
            try:
                fn = callbacks.pop(0)
            except IndexError:
                return
            try:
                fn(self)
            except Exception:
                logger.exception("done callback %r of %r raised", fn, self)


class DeadlineReaper:
    """One thread that times out asynchronous requests nobody is waiting on.

    Started on the first :meth:`watch`, stopped by :meth:`close`. Its heap holds at most the
    watched requests; completed ones are pruned whenever it doubles.
    """

    def __init__(self, thread_name: str) -> None:
        self._thread_name = thread_name
        self._cond = threading.Condition(threading.Lock())
        self._heap: list[tuple[float, int, PendingReply]] = []
        self._seq = itertools.count()
        self._prune_at = 1024
        self._thread: threading.Thread | None = None
        self._stopped = False

    def watch(self, slot: PendingReply) -> None:
        """Expire ``slot`` at its deadline unless it completes first."""
        with self._cond:
            if self._stopped:
                return
            if len(self._heap) >= self._prune_at:
                self._heap = [entry for entry in self._heap if not entry[2].done()]
                heapq.heapify(self._heap)
                self._prune_at = max(1024, 2 * len(self._heap))
            heapq.heappush(self._heap, (slot.deadline, next(self._seq), slot))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=self._thread_name)
                self._thread.daemon = True
                self._thread.start()
            elif self._heap[0][2] is slot:
                self._cond.notify()

    def _run(self) -> None:
        due: list[PendingReply] = []
        while True:
            with self._cond:
                while not self._stopped:
                    heap = self._heap
                    while heap and (heap[0][2].done() or heap[0][0] <= time.perf_counter()):
                        due.append(heapq.heappop(heap)[2])
                    if due:
                        break
                    self._cond.wait(heap[0][0] - time.perf_counter() if heap else None)
                if self._stopped:
                    return
            for slot in due:
                if not slot.done():
                    slot.expire()
            due.clear()

    def close(self, timeout: float) -> None:
        """Stop the thread (pending requests are failed by the bus, not here) and join it."""
        with self._cond:
            self._stopped = True
            self._heap.clear()
            self._cond.notify()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)


_ACK = Ack()

RequestHandler = Callable[[Envelope], Message | None]


def responder(
    handler: RequestHandler,
    pending: dict[str, PendingReply],
    stats_for: Callable[[str], TopicStats],
) -> Callable[[Envelope], None]:
    """Wrap a request handler so that it answers the waiting :class:`PendingReply`.

    A :class:`SymphonyError` becomes an :class:`ErrorReply` with its code, any other exception
    (or a return value that is not a Message) one with code ``internal``; ``None`` becomes
    :class:`Ack`. Only a non-:class:`Exception` escapes, after the requester got its answer. A
    reply nobody waits for any more is dropped and counted as late.
    """

    def serve(envelope: Envelope) -> None:
        reply: Message
        failed = True
        try:
            result = handler(envelope)
        except SymphonyError as exc:
            reply = ErrorReply(code=exc.code, message=str(exc), retryable=exc.retryable)
        except Exception as exc:
            reply = ErrorReply(code="internal", message=f"{type(exc).__name__}: {exc}")
        except BaseException as exc:
            # The delivery thread is about to die; at least do not leave the requester hanging.
            answer(envelope, ErrorReply(code="internal", message=f"{type(exc).__name__}: {exc}"))
            raise
        else:
            failed = False
            if result is None:
                reply = _ACK
            elif isinstance(result, Message):
                reply = result
            else:
                failed = True
                why = f"handler returned {type(result).__name__}, not a Message"
                reply = ErrorReply(code="internal", message=why)
        if failed:
            stats_for(envelope.topic).count_handler_error()
        answer(envelope, reply)

    def answer(envelope: Envelope, reply: Message) -> None:
        cid = envelope.correlation_id
        slot = pending.pop(cid, None) if cid is not None else None
        if slot is None:
            # The requester gave up (or never waited): drop the reply, but count it.
            stats_for(envelope.topic).count_late_reply()
            return
        slot.complete(reply, None)
        stats_for(envelope.topic).request_latencies.append(
            (time.perf_counter() - slot.started) * 1000.0
        )

    return serve
