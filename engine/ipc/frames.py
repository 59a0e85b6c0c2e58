"""Length-prefixed framing: a 4-byte big-endian body length, then the msgpack body.

:class:`FrameReader` checks the length prefix against the limit *before* it allocates or reads
the body, and tells a clean end of stream from one that stops mid-frame. :class:`FrameWriter`
serialises whole frames under one lock (so concurrent senders never interleave bytes) into a
reused buffer. This module knows bytes and sockets, not what a frame means.
"""

from __future__ import annotations

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
    """

    def __init__(self, sock: socket.socket, max_frame: int) -> None:
        self._sock = sock
        self._buf = b""
        self._pos = 0
        self.max_frame = max_frame

    def read(self) -> bytes | bytearray:
        """Return the next frame body.

        Raises:
            FrameTooLarge: the length prefix is over :attr:`max_frame` (nothing more is read).
            ConnectionLost: end of stream (clean, or in the middle of a frame).
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
        while len(pending) < wanted:
            data = self._sock.recv(RECV_BYTES)
            if not data:
                self._buf, self._pos = pending, 0
                raise _lost(len(pending), wanted)
            pending += data
        self._buf, self._pos = pending, 0

    def _read_large(self, size: int, start: int) -> bytearray:
        """Read a body bigger than one receive straight into a buffer of its exact size."""
        body = bytearray(size)
        have = self._buf[start : start + size]
        body[: len(have)] = have
        self._buf, self._pos = self._buf[start + len(have) :], 0
        view = memoryview(body)
        got = len(have)
        while got < size:
            n = self._sock.recv_into(view[got:])
            if n == 0:
                raise _lost(got + 4, size + 4)
            got += n
        return body


def _lost(have: int, wanted: int) -> ConnectionLost:
    if have == 0:
        return ConnectionLost("the peer closed the connection")
    return ConnectionLost(f"the connection ended mid-frame ({have} of {wanted} bytes)")


class FrameWriter:
    """Encodes and sends whole frames; thread-safe.

    Attributes:
        limit: the largest body the peer accepts; bigger frames are refused before sending.
        last_sent: :func:`time.monotonic` of the last completed send.
    """

    def __init__(self, sock: socket.socket, limit: int) -> None:
        self._sock = sock
        self._lock = threading.Lock()
        self._encoder = msgspec.msgpack.Encoder()
        self._buf = bytearray(4)
        self._broken: str | None = None
        self.limit = limit
        self.last_sent = time.monotonic()

    def send(self, frame: Frame) -> None:
        """Send one frame, waiting for socket buffer space if needed.

        Raises:
            FrameTooLarge: the encoded frame is over :attr:`limit` (nothing was sent).
            TypeError: a field holds something msgpack cannot encode (nothing was sent).
            ConnectionLost: the socket failed or stayed full past its send timeout; the
                stream may hold a partial frame, so the connection must be closed.
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
        sent = 0
        try:
            if flags:
                sent = self._sock.send(buf, flags)
            if sent < len(buf):
                self._sock.sendall(memoryview(buf)[sent:])
        except BlockingIOError:
            if flags and sent == 0:
                return False
            raise self._break("the peer is not reading (send timed out)") from None
        except OSError as e:
            raise self._break(f"send failed: {e}") from e
        finally:
            if len(buf) > _KEEP_BUFFER:
                self._buf = bytearray(4)
        self.last_sent = time.monotonic()
        return True

    def close(self) -> None:
        """Close the socket once no send is in progress; later sends raise ConnectionLost."""
        with self._lock:
            if self._broken is None:
                self._broken = "the connection is closed"
            self._sock.close()

    def _break(self, reason: str) -> ConnectionLost:
        self._broken = reason
        return ConnectionLost(reason)
