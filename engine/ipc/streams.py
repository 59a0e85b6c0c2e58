"""Streams for large payloads, with credit-based flow control on both ends.

A stream answers a request sent with ``window = W``: the producer may have at most ``W`` chunks
that the consumer has not yet taken; the consumer returns credit (:class:`Credit` frames) as it
takes them. Memory therefore stays below about ``W * chunk size`` per stream on each side
however large the payload. :class:`StreamReader` is the consumer, :func:`pump` the producer.
This module must not read sockets.
"""

from __future__ import annotations

import collections
import contextlib
import threading
import time
from typing import TYPE_CHECKING

from engine.ipc.protocol import Cancel, Chunk, Credit, End
from engine.types.errors import IpcError, IpcTimeout

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator
    from types import TracebackType

    from engine.ipc.protocol import Frame

    Send = Callable[[Frame], None]


class StreamCancelled(IpcError):
    """The consumer cancelled the stream, or the connection closed under it."""


class StreamReader:
    """The consumer end of a stream: iterate it for the payload's bytes, chunk by chunk.

    Close it (or leave the ``with`` block) to stop early; the producer is told to stop.

    Attributes:
        bytes_received: payload bytes taken so far.
    """

    def __init__(
        self,
        call_id: int,
        what: str,
        *,
        window: int,
        timeout: float,
        send: Send,
        forget: Callable[[int], object],
    ) -> None:
        self._id = call_id
        self._what = what
        self._window = window
        self._ack_every = max(1, window // 2)
        self._timeout = timeout
        self._send = send
        self._forget = forget
        self._cond = threading.Condition(threading.Lock())
        self._chunks: collections.deque[bytes] = collections.deque()
        self._done = False
        self._error: BaseException | None = None
        self._unacked = 0
        self.bytes_received = 0

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __enter__(self) -> StreamReader:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __next__(self) -> bytes:
        """The next chunk.

        Raises:
            StopIteration: the stream is complete.
            IpcTimeout: no chunk within the request timeout (the stream is then cancelled).
            IpcRemoteError: the producer failed.
            IpcError: the connection closed.
        """
        data = self._take()
        self.bytes_received += len(data)
        self._unacked += 1
        if self._unacked >= self._ack_every:
            self._send_quietly(Credit(id=self._id, chunks=self._unacked))
            self._unacked = 0
        return data

    def _take(self) -> bytes:
        deadline = time.monotonic() + self._timeout
        with self._cond:
            while not self._chunks and not self._done:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not self._cond.wait(remaining):
                    break
            if self._chunks:
                return self._chunks.popleft()
            timed_out = not self._done
            if timed_out:
                self._finish_locked(
                    IpcTimeout(f"no data from {self._what} for {self._timeout:g} s")
                )
            error = self._error
        if timed_out:
            self._cancel()
        if error is not None:
            raise error
        raise StopIteration

    def read_all(self, limit: int | None = None) -> bytes:
        """The whole remaining payload as one bytes object (refused past ``limit`` bytes)."""
        parts: list[bytes] = []
        for chunk in self:
            parts.append(chunk)
            if limit is not None and self.bytes_received > limit:
                self.close()
                raise IpcError(f"{self._what} is larger than {limit} bytes")
        return b"".join(parts)

    def close(self) -> None:
        """Stop taking chunks; tells the producer to stop if the stream is not complete."""
        with self._cond:
            if self._done:
                return
            self._finish_locked(StreamCancelled(f"{self._what} was closed by its reader"))
            self._chunks.clear()
        self._cancel()

    # --- called by the connection's reader thread ------------------------------------------

    def feed(self, chunk: Chunk) -> None:
        """Queue one chunk; a producer that overruns its window fails the stream."""
        with self._cond:
            if self._done:
                return
            if len(self._chunks) < self._window:
                self._chunks.append(chunk.data)
                self._cond.notify()
                return
            self._finish_locked(IpcError(f"{self._what}: the producer overran its window"))
            self._chunks.clear()
        self._cancel()

    def finish(self, error: BaseException | None) -> None:
        """The stream ended (``End``), failed (``Error``) or the connection closed."""
        with self._cond:
            if not self._done:
                self._finish_locked(error)

    def _finish_locked(self, error: BaseException | None) -> None:
        self._done = True
        self._error = error
        self._forget(self._id)
        self._cond.notify_all()

    def _cancel(self) -> None:
        self._send_quietly(Cancel(id=self._id))

    def _send_quietly(self, frame: Frame) -> None:
        # If the connection is gone, its reader thread fails the stream anyway.
        with contextlib.suppress(IpcError):
            self._send(frame)


class CreditGate:
    """The producer's view of the consumer's credit."""

    def __init__(self, window: int) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._credit = window
        self._cancelled = False

    def add(self, chunks: int) -> None:
        """The consumer took ``chunks`` more."""
        with self._cond:
            self._credit += chunks
            self._cond.notify()

    def cancel(self) -> None:
        """The consumer is gone; wake the producer so it stops."""
        with self._cond:
            self._cancelled = True
            self._cond.notify_all()

    def take(self, timeout: float) -> None:
        """Use one credit, waiting for the consumer if there is none.

        Raises:
            StreamCancelled: the stream was cancelled.
            IpcTimeout: the consumer gave no credit for ``timeout`` seconds.
        """
        with self._cond:
            if not self._cond.wait_for(lambda: self._credit > 0 or self._cancelled, timeout):
                raise IpcTimeout(f"the stream's reader took nothing for {timeout:g} s")
            if self._cancelled:
                raise StreamCancelled("the stream was cancelled by its reader")
            self._credit -= 1


def pump(
    chunks: Iterable[bytes],
    *,
    call_id: int,
    gate: CreditGate,
    send: Send,
    chunk_bytes: int,
    timeout: float,
) -> int:
    """Send ``chunks`` as chunk frames paced by ``gate``, then the end frame; return the count.

    The iterable is closed (generators get ``GeneratorExit``) whatever happens.
    """
    seq = 0
    try:
        for piece in _pieces(chunks, chunk_bytes):
            gate.take(timeout)
            send(Chunk(id=call_id, seq=seq, data=piece))
            seq += 1
    finally:
        close = getattr(chunks, "close", None)
        if callable(close):
            close()
    send(End(id=call_id, chunks=seq))
    return seq


def _pieces(chunks: Iterable[bytes], size: int) -> Iterator[bytes]:
    """Re-cut what a handler yields into pieces of at most ``size`` bytes."""
    for item in chunks:
        if not isinstance(item, bytes | bytearray | memoryview):
            raise TypeError(f"a stream handler must yield bytes, not {type(item).__name__}")
        if isinstance(item, bytes) and 0 < len(item) <= size:
            yield item
            continue
        view = memoryview(item).cast("B")
        for start in range(0, len(view), size):
            yield bytes(view[start : start + size])
