"""Length-prefixed framing: a 4-byte big-endian body length, then the msgpack body.

:class:`FrameReader` checks the length prefix against the limit *before* it allocates or reads
the body, grows a large body's buffer as its bytes arrive (a prefix alone never makes it allocate
much), can hold every read to an absolute deadline (the handshake), and tells a clean end of
stream from one that stops mid-frame. :class:`FrameWriter` serialises whole frames under one lock
(so concurrent senders never interleave bytes) into a reused buffer, and says since when a frame
has been waiting for the peer to make room, so the connection can drop a peer that takes too
long over one frame however slowly it keeps reading. This module knows bytes and sockets, not
what a frame means.
"""

from __future__ import annotations

import select
import socket
import struct
import threading
import time
from typing import TYPE_CHECKING

import msgspec

from engine.ipc.protocol import Code, ProtocolViolation
from engine.types.errors import IpcError

if TYPE_CHECKING:
    from engine.ipc.protocol import Frame

HEADER = struct.Struct(">I")
RECV_BYTES = 64 * 1024
_KEEP_BUFFER = 1024 * 1024  # a write buffer that grew past this is dropped after use
_FIRST_ALLOC = 1024 * 1024  # a large body's buffer starts at most this big, then doubles
_TRY_FIRST = 32 * 1024  # frames up to this size are first sent without waiting
_DONTWAIT = getattr(socket, "MSG_DONTWAIT", 0)


class ConnectionLost(IpcError):
    """The peer closed the connection, it broke, or a frame stopped half way."""


class FrameTooLarge(ProtocolViolation):
    """A length prefix (or a frame to send) exceeds the frame size limit."""

    def __init__(self, size: int, limit: int, what: str = "frame") -> None:
        super().__init__(
            Code.FRAME_TOO_LARGE, f"{what} of {size} bytes exceeds the limit of {limit} bytes"
        )
        self.size = size
        self.limit = limit


class FrameReader:
    """Reads whole frame bodies from a blocking socket, many per ``recv`` when they are small.

    Attributes:
        max_frame: the largest body accepted, in bytes; may be changed between reads.
        deadline: a :func:`time.monotonic` time by which every read must be complete, or
            ``None`` (no deadline: the socket's own blocking mode applies).
    """

    def __init__(self, sock: socket.socket, max_frame: int) -> None:
        self._sock = sock
        self._buf = b""
        self._pos = 0
        self.max_frame = max_frame
        self.deadline: float | None = None

    def read(self) -> bytes | bytearray:
        """Return the next frame body.

        Raises:
            FrameTooLarge: the length prefix is over :attr:`max_frame` (nothing more is read).
            ConnectionLost: end of stream (clean, or in the middle of a frame).
            TimeoutError: :attr:`deadline` passed before the frame was complete.
            OSError: the socket failed (including a timeout set on it).
        """
        buf, pos = self._buf, self._pos
        if len(buf) - pos >= 4:
            (size,) = HEADER.unpack_from(buf, pos)
            end = pos + 4 + size
            if end <= len(buf) and size <= self.max_frame:
                self._pos = end
                return buf[pos + 4 : end]
        return self._read_slow()

    def _read_slow(self) -> bytes | bytearray:
        self._fill(4)
        (size,) = HEADER.unpack_from(self._buf, self._pos)
        if size > self.max_frame:
            raise FrameTooLarge(size, self.max_frame)
        start = self._pos + 4
        if size > RECV_BYTES:
            return self._read_large(size, start)
        self._fill(4 + size)
        self._pos = start + size
        return self._buf[start : self._pos]

    def _fill(self, wanted: int) -> None:
        """Receive until at least ``wanted`` unread bytes are buffered."""
        pending = self._buf[self._pos :]
        try:
            while len(pending) < wanted:
                if self.deadline is not None:
                    self._arm(self.deadline)
                data = self._sock.recv(RECV_BYTES)
                if not data:
                    raise _lost(len(pending), wanted)
                pending += data
        finally:
            self._buf, self._pos = pending, 0

    def _read_large(self, size: int, start: int) -> bytearray:
        """Read a body bigger than one receive, growing its buffer as the bytes arrive.

        The length prefix is the peer's claim, not bytes it sent: allocating all of it up front
        would let a few prefixes pin ``max_frame`` bytes each. Doubling keeps the copies cheap.
        """
        have = self._buf[start : start + size]
        self._buf, self._pos = self._buf[start + len(have) :], 0
        got = len(have)
        body = bytearray(min(size, max(got, _FIRST_ALLOC)))
        body[:got] = have
        while got < size:
            if got == len(body):
                body += bytes(min(size, 2 * got) - got)
            if self.deadline is not None:
                self._arm(self.deadline)
            with memoryview(body)[got:] as free:
                n = self._sock.recv_into(free)
            if n == 0:
                raise _lost(got + 4, size + 4)
            got += n
        return body

    def _arm(self, deadline: float) -> None:
        """Let the next receive wait only until ``deadline``, not a full timeout per receive."""
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("the read deadline passed")
        self._sock.settimeout(remaining)


def _wait_writable(sock: socket.socket, timeout: float) -> bool:
    """Wait until ``sock`` has room to send (``True``) or ``timeout`` seconds passed."""
    if hasattr(select, "poll"):
        poller = select.poll()
        poller.register(sock, select.POLLOUT)
        return bool(poller.poll(max(1, int(timeout * 1000))))
    return bool(select.select([], [sock], [], timeout)[1])


def _lost(have: int, wanted: int) -> ConnectionLost:
    if have == 0:
        return ConnectionLost("the peer closed the connection")
    return ConnectionLost(f"the connection ended mid-frame ({have} of {wanted} bytes)")


class FrameWriter:
    """Encodes and sends whole frames; thread-safe.

    Attributes:
        limit: the largest body the peer accepts; bigger frames are refused before sending.
        timeout: seconds :meth:`try_send` may take to finish a frame it started, in all
            (``None``: as long as the socket's own send timeout allows).
        waiting_since: :func:`time.monotonic` since when a :meth:`send` has been waiting for
            the peer to make room, else ``None``. A send timeout on the socket restarts with
            every byte the peer takes, so the connection's owner watches this instead and
            closes the connection (which ends the wait) when one frame takes too long.
        last_sent: :func:`time.monotonic` of the last completed send.
    """

    def __init__(self, sock: socket.socket, limit: int, timeout: float | None = None) -> None:
        self._sock = sock
        self._lock = threading.Lock()
        self._encoder = msgspec.msgpack.Encoder()
        self._buf = bytearray(4)
        self._broken: str | None = None
        self.limit = limit
        self.timeout = timeout
        self.waiting_since: float | None = None
        self.last_sent = time.monotonic()

    def send(self, frame: Frame) -> None:
        """Send one frame, waiting for socket buffer space if needed.

        Raises:
            FrameTooLarge: the encoded frame is over :attr:`limit` (nothing was sent).
            TypeError: a field holds something msgpack cannot encode (nothing was sent).
            ConnectionLost: the socket failed (or was shut down while this waited) or stayed
                full past its send timeout; the stream may hold a partial frame, so the
                connection must be closed.
        """
        with self._lock:
            self._send_locked(frame, 0)

    def try_send(self, frame: Frame, wait: float = 0.0) -> bool:
        """Send a small frame only if the socket has room now; report success.

        Waits at most ``wait`` seconds for another sender to finish; for heartbeats (where
        someone else sending is as good as a heartbeat) and goodbyes.
        """
        if not self._lock.acquire(timeout=wait):
            return False
        try:
            return self._send_locked(frame, _DONTWAIT)
        finally:
            self._lock.release()

    def _send_locked(self, frame: Frame, flags: int) -> bool:
        if self._broken is not None:
            raise ConnectionLost(self._broken)
        buf = self._buf
        self._encoder.encode_into(frame, buf, 4)
        size = len(buf) - 4
        if size > self.limit:
            self._buf = bytearray(4)
            raise FrameTooLarge(size, self.limit, f"{type(frame).__name__.lower()} frame")
        HEADER.pack_into(buf, 0, size)
        try:
            if not _DONTWAIT:
                self._sock.sendall(buf)  # bounded by SO_SNDTIMEO, if set
            elif flags:
                sent = self._send_nowait(buf)
                if sent == 0:
                    return False
                if sent < len(buf):
                    self._finish_within_timeout(buf, sent)
            elif len(buf) > _TRY_FIRST:
                self._finish_watched(buf, 0)  # rarely fits at once: one blocking call
            elif (sent := self._send_nowait(buf)) < len(buf):
                self._finish_watched(buf, sent)
        except BlockingIOError:
            raise self._break("the peer is not reading (send timed out)") from None
        except OSError as e:
            raise self._break(f"send failed: {e}") from e
        finally:
            if len(buf) > _KEEP_BUFFER:
                self._buf = bytearray(4)
        self.last_sent = time.monotonic()
        return True

    def _send_nowait(self, data: bytearray | memoryview) -> int:
        """Send what fits in the socket now; how many bytes that was (0 when it is full)."""
        try:
            return self._sock.send(data, _DONTWAIT)
        except BlockingIOError:
            return 0

    def _finish_watched(self, buf: bytearray, sent: int) -> None:
        """Send ``buf[sent:]``, blocking (the cheapest way), with :attr:`waiting_since` set."""
        self.waiting_since = time.monotonic()
        try:
            self._sock.sendall(memoryview(buf)[sent:] if sent else buf)
        finally:
            self.waiting_since = None

    def _finish_within_timeout(self, buf: bytearray, sent: int) -> None:
        """Send ``buf[sent:]``, all of it within :attr:`timeout` seconds from now."""
        if self.timeout is None:
            self._sock.sendall(memoryview(buf)[sent:])  # bounded by SO_SNDTIMEO, if set
            return
        deadline = time.monotonic() + self.timeout
        with memoryview(buf) as view:
            while True:
                sent += self._send_nowait(view[sent:])
                if sent >= len(buf):
                    return
                # The socket is full. A peer reading a little now and then makes progress
                # possible, but the frame as a whole must be out by the deadline.
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not _wait_writable(self._sock, remaining):
                    raise self._break(
                        f"the peer is not reading: a frame waited {self.timeout:g} s to be sent"
                    )

    def close(self) -> None:
        """Close the socket once no send is in progress; later sends raise ConnectionLost."""
        with self._lock:
            if self._broken is None:
                self._broken = "the connection is closed"
            self._sock.close()

    def _break(self, reason: str) -> ConnectionLost:
        self._broken = reason
        return ConnectionLost(reason)
