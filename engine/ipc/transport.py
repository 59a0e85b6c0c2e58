"""Transports: how connections are made, behind one small interface (STYLE 17).

Every transport hands out connected, blocking stream sockets, so the server and client code
above is the same for all three: ``unix`` (a socket file in the private runtime folder, mode
0600), ``tcp`` (127.0.0.1 on an ephemeral port, the portable fallback) and ``memory``
(``socketpair()`` connections inside one process, for unit tests). Addresses are strings
``unix:<path>``, ``tcp:<host>:<port>`` and ``memory:<n>``. This module must not speak the
protocol.
"""

from __future__ import annotations

import collections
import contextlib
import itertools
import logging
import secrets
import socket
import struct
import sys
import threading
from typing import TYPE_CHECKING, Protocol

from engine.types.errors import IpcError

if TYPE_CHECKING:
    from pathlib import Path

logger = logging.getLogger(__name__)

BACKLOG = 128
LOOPBACK = "127.0.0.1"


class Listener(Protocol):
    """A listening endpoint; readable (for ``select``) when :meth:`accept` will not block.

    :meth:`accept` may still raise :class:`BlockingIOError` when the connection went away
    between the two (it never blocks).
    """

    @property
    def address(self) -> str:
        """Where clients connect."""
        ...

    def fileno(self) -> int:
        """A file descriptor to wait on for pending connections."""
        ...

    def accept(self) -> socket.socket:
        """The next connection (blocking mode)."""
        ...

    def close(self) -> None:
        """Stop listening and remove anything left on disk."""
        ...


class Transport(Protocol):
    """Makes listeners and connections of one kind.

    Attributes:
        scheme: the address prefix (``unix``, ``tcp``, ``memory``).
        uses_files: whether servers keep a secret file in the runtime folder for it.
    """

    scheme: str
    uses_files: bool

    def listen(self, stem: Path) -> Listener:
        """Start listening; ``stem`` names session files (``<stem>.sock`` for Unix sockets)."""
        ...

    def connect(self, address: str, timeout: float) -> socket.socket:
        """Connect to ``address`` within ``timeout`` seconds and return a blocking socket."""
        ...


class SocketListener:
    """A :class:`Listener` around a listening socket; removes its socket file on close."""

    def __init__(self, sock: socket.socket, address: str, path: Path | None = None) -> None:
        sock.setblocking(False)  # a connection reset before accept() must not hang the loop
        self._sock = sock
        self._address = address
        self._path = path
        self._tcp = sock.family != getattr(socket, "AF_UNIX", None)

    @property
    def address(self) -> str:
        return self._address

    def fileno(self) -> int:
        return self._sock.fileno()

    def accept(self) -> socket.socket:
        conn, _ = self._sock.accept()
        conn.setblocking(True)
        if self._tcp:
            _no_delay(conn)
        return conn

    def close(self) -> None:
        self._sock.close()
        if self._path is not None:
            self._path.unlink(missing_ok=True)


class UnixTransport:
    """Unix domain sockets: ``<stem>.sock``, mode 0600, in a folder only this user can enter."""

    scheme = "unix"
    uses_files = True

    def listen(self, stem: Path) -> Listener:
        path = stem.with_name(stem.name + ".sock")
        path.unlink(missing_ok=True)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.bind(str(path))
            path.chmod(0o600)
            sock.listen(BACKLOG)
        except OSError as e:
            sock.close()
            path.unlink(missing_ok=True)
            raise IpcError(f"cannot listen on {path}: {e}") from e
        return SocketListener(sock, f"unix:{path}", path)

    def connect(self, address: str, timeout: float) -> socket.socket:
        path = _strip(address, self.scheme)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(timeout)
            sock.connect(path)
            sock.settimeout(None)
        except OSError as e:
            sock.close()
            raise IpcError(f"cannot connect to {address}: {e}") from e
        return sock


class TcpTransport:
    """TCP on the loopback interface, an ephemeral port, Nagle off."""

    scheme = "tcp"
    uses_files = True

    def listen(self, stem: Path) -> Listener:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.bind((LOOPBACK, 0))
            sock.listen(BACKLOG)
        except OSError as e:
            sock.close()
            raise IpcError(f"cannot listen on {LOOPBACK}: {e}") from e
        host, port = sock.getsockname()[:2]
        return SocketListener(sock, f"tcp:{host}:{port}")

    def connect(self, address: str, timeout: float) -> socket.socket:
        host, _, port = _strip(address, self.scheme).rpartition(":")
        try:
            sock = socket.create_connection((host, int(port)), timeout=timeout)
        except (OSError, ValueError) as e:
            raise IpcError(f"cannot connect to {address}: {e}") from e
        sock.settimeout(None)
        _no_delay(sock)
        return sock


class MemoryListener:
    """Accepts ``socketpair()`` halves handed over by :meth:`MemoryTransport.connect`."""

    def __init__(self, address: str) -> None:
        self._address = address
        self._lock = threading.Lock()
        self._queue: collections.deque[socket.socket] = collections.deque()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_w.setblocking(False)
        self._closed = False

    @property
    def address(self) -> str:
        return self._address

    def fileno(self) -> int:
        return self._wake_r.fileno()

    def push(self, sock: socket.socket) -> None:
        """Queue one server-side half; refused when closed or ``BACKLOG`` are waiting."""
        with self._lock:
            if self._closed or len(self._queue) >= BACKLOG:
                raise IpcError(f"{self._address} is not accepting connections")
            self._queue.append(sock)
            self._wake_w.send(b"\0")

    def accept(self) -> socket.socket:
        self._wake_r.recv(1)
        with self._lock:
            return self._queue.popleft()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            pending = list(self._queue)
            self._queue.clear()
        _MEMORY.pop(self._address, None)
        for sock in [*pending, self._wake_r, self._wake_w]:
            sock.close()


_MEMORY: dict[str, MemoryListener] = {}
_memory_ids = itertools.count(1)


class MemoryTransport:
    """In-process connections over ``socketpair()``: no files, no ports."""

    scheme = "memory"
    uses_files = False

    def listen(self, stem: Path) -> Listener:
        address = f"memory:{next(_memory_ids)}-{secrets.token_hex(4)}"
        listener = MemoryListener(address)
        _MEMORY[address] = listener
        return listener

    def connect(self, address: str, timeout: float) -> socket.socket:
        listener = _MEMORY.get(address)
        if listener is None:
            raise IpcError(f"cannot connect to {address}: nothing listens there")
        ours, theirs = socket.socketpair()
        try:
            listener.push(theirs)
        except IpcError:
            ours.close()
            theirs.close()
            raise
        return ours


_TRANSPORTS: dict[str, type[UnixTransport] | type[TcpTransport] | type[MemoryTransport]] = {
    "unix": UnixTransport,
    "tcp": TcpTransport,
    "memory": MemoryTransport,
}


def transport_for(name_or_address: str) -> Transport:
    """The transport for a scheme (``unix``…) or an address (``unix:/run/…``).

    Where Unix sockets do not exist, ``unix`` falls back to ``tcp`` with a warning.

    Raises:
        IpcError: the scheme is unknown.
    """
    scheme = name_or_address.partition(":")[0]
    if scheme == "unix" and not hasattr(socket, "AF_UNIX"):
        logger.warning("Unix sockets are not available here; using TCP loopback instead")
        scheme = "tcp"
    cls = _TRANSPORTS.get(scheme)
    if cls is None:
        raise IpcError(f"unknown IPC transport {scheme!r} (expected unix, tcp or memory)")
    return cls()


def connect(address: str, timeout: float) -> socket.socket:
    """Connect to ``address`` with the transport its scheme names."""
    return transport_for(address).connect(address, timeout)


def set_send_timeout(sock: socket.socket, seconds: float) -> None:
    """Make a blocking send give up after ``seconds`` (``SO_SNDTIMEO``; kept blocking for speed).

    Where the option cannot be set, sends simply block; heartbeats still detect dead peers.
    """
    whole = int(seconds)
    value = struct.pack("ll", whole, int((seconds - whole) * 1e6))
    if sys.platform == "win32":
        value = struct.pack("L", int(seconds * 1000))
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, value)


def _no_delay(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def _strip(address: str, scheme: str) -> str:
    prefix = scheme + ":"
    if not address.startswith(prefix):
        raise IpcError(f"{address!r} is not a {scheme} address")
    return address[len(prefix) :]


def shutdown(sock: socket.socket) -> None:
    """Wake any thread blocked on ``sock`` (it sees end of stream); safe on a closed socket."""
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


__all__ = [
    "Listener",
    "MemoryTransport",
    "TcpTransport",
    "Transport",
    "UnixTransport",
    "connect",
    "set_send_timeout",
    "shutdown",
    "transport_for",
]
