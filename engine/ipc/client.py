"""The IPC client: connects, authenticates, and then talks to the server both ways.

A client is also a handler registry: the server can call it (the extension host serves the
engine's calls) while it calls the server (the engine's capability API). One reader thread,
one heartbeat thread and a lazily started worker pool; they stop when the connection ends, and
:meth:`Client.close` waits for them. A client connects once: after its connection is gone,
make a new one. This module must not define the wire format.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from typing import TYPE_CHECKING, Any

from engine.ipc import handshake
from engine.ipc.auth import peer_credentials
from engine.ipc.discovery import from_env
from engine.ipc.frames import FrameReader, FrameWriter
from engine.ipc.heartbeat import Heartbeats
from engine.ipc.peer import Peer
from engine.ipc.protocol import HANDSHAKE_MAX_FRAME
from engine.ipc.router import HandlerRegistry
from engine.ipc.settings import DEAD_AFTER_BEATS, Settings
from engine.ipc.transport import connect, set_send_timeout
from engine.ipc.workers import WorkerPool, call_safely
from engine.types.errors import IpcError

if TYPE_CHECKING:
    import socket
    from collections.abc import Callable, Mapping
    from types import TracebackType

    from engine.ipc.protocol import Welcome
    from engine.ipc.streams import StreamReader

logger = logging.getLogger(__name__)


class Client(HandlerRegistry):
    """A connection to an IPC server. Register handlers, then :meth:`connect`.

    Args:
        address: the server's address (``unix:…``, ``tcp:…``, ``memory:…``).
        secret: the session secret.
        name: who we are; the server sees it as :attr:`Peer.name`.
        settings: limits and timeouts (default: the ``[ipc]`` configuration defaults).
        on_disconnect: called with the reason once the connection is gone (not after
            :meth:`close`).
    """

    def __init__(
        self,
        address: str,
        secret: bytes,
        *,
        name: str = "client",
        settings: Settings | None = None,
        on_disconnect: Callable[[str], object] | None = None,
    ) -> None:
        super().__init__()
        self.address = address
        self.name = name
        self.settings = settings or Settings()
        self._secret = secret
        self._on_disconnect = on_disconnect
        self._thread_name = f"symphony-ipc-client-{name}"
        self._pool = WorkerPool(self._thread_name, self.settings.workers)
        self._peer: Peer | None = None
        self._reader: threading.Thread | None = None
        self._heartbeats: Heartbeats | None = None
        self._closing = False
        self.welcome: Welcome | None = None

    @classmethod
    def from_env(
        cls,
        *,
        name: str = "client",
        environ: Mapping[str, str] | None = None,
        settings: Settings | None = None,
        on_disconnect: Callable[[str], object] | None = None,
    ) -> Client:
        """A client for the server whose address and secret the parent process passed.

        Raises:
            IpcError: ``SYMPHONY_IPC_ADDRESS`` or the secret variable is missing or malformed.
        """
        address, secret = from_env(environ)
        return cls(address, secret, name=name, settings=settings, on_disconnect=on_disconnect)

    def __repr__(self) -> str:
        return f"<Client {self.name!r} -> {self.address} {self._peer!r}>"

    def __enter__(self) -> Client:
        if self._peer is None:
            self.connect()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def connect(self, timeout: float | None = None) -> Client:
        """Connect and authenticate; returns ``self``.

        Raises:
            IpcHandshakeError: the server refused us (version, authentication, uid) or could
                not prove it knows the secret.
            IpcError: nothing listens at the address, the connection broke, or this client
                was connected before (a closed client cannot reconnect).
        """
        if self._closing or (self._peer is not None and self._peer.closed):
            raise IpcError(f"client {self.name!r} is closed; create a new Client to reconnect")
        if self._peer is not None:
            raise IpcError(f"client {self.name!r} is already connected")
        wait = self.settings.handshake_timeout_s if timeout is None else timeout
        sock = connect(self.address, wait)
        try:
            self._peer = self._authenticate(sock)
        except BaseException:
            sock.close()
            raise
        # Heartbeats first: a connection that ends at once has its reader stop them.
        self._heartbeats = Heartbeats(self._thread_name, self.settings.heartbeat_s, self._live)
        self._heartbeats.start()
        self._reader = threading.Thread(target=self._read, name=f"{self._thread_name}:reader")
        self._reader.daemon = True
        self._reader.start()
        return self

    @property
    def peer(self) -> Peer:
        """The server, as a :class:`Peer`.

        Raises:
            IpcError: not connected.
        """
        if self._peer is None:
            raise IpcError(f"client {self.name!r} is not connected")
        return self._peer

    @property
    def closed(self) -> bool:
        """Whether the connection is closed (or was never made)."""
        return self._peer is None or self._peer.closed

    def call(
        self,
        method: str,
        params: Any = None,
        *,
        timeout: float | None = None,
        result_type: Any = None,
    ) -> Any:
        """Call ``method`` on the server; see :meth:`Peer.call`."""
        return self.peer.call(method, params, timeout=timeout, result_type=result_type)

    def notify(self, topic: str, data: Any = None) -> None:
        """Send a one-way event to the server; see :meth:`Peer.notify`."""
        self.peer.notify(topic, data)

    def stream(
        self,
        method: str,
        params: Any = None,
        *,
        timeout: float | None = None,
        window: int | None = None,
    ) -> StreamReader:
        """Call a streaming method on the server; see :meth:`Peer.stream`."""
        return self.peer.stream(method, params, timeout=timeout, window=window)

    def close(self, timeout: float = 2.0) -> None:
        """Disconnect and stop every thread of this client, waiting about ``timeout`` in all."""
        deadline = time.monotonic() + timeout
        self._closing = True
        if self._peer is not None:
            self._peer.close("the client closed the connection")
        if self._reader is not None and self._reader is not threading.current_thread():
            self._reader.join(timeout)
        if self._heartbeats is not None:
            self._heartbeats.close(max(0.0, deadline - time.monotonic()))
        self._pool.close(max(0.0, deadline - time.monotonic()))

    def _authenticate(self, sock: socket.socket) -> Peer:
        set_send_timeout(sock, self.settings.dead_after_s)
        reader = FrameReader(sock, HANDSHAKE_MAX_FRAME)
        writer = FrameWriter(sock, HANDSHAKE_MAX_FRAME, self.settings.dead_after_s)
        self.welcome = welcome = handshake.connect(
            sock, reader, writer, name=self.name, secret=self._secret, settings=self.settings
        )
        # Beat at least as often as the server expects us to, but judge the server by the
        # interval it beats at itself, or a client with a shorter one drops a healthy server.
        beat = min(self.settings.heartbeat_s, welcome.heartbeat_s)
        self.settings = dataclasses.replace(self.settings, heartbeat_s=beat)
        return Peer(
            sock,
            reader,
            writer,
            name=welcome.server,
            session=welcome.session,
            settings=self.settings,
            registry=self,
            pool=self._pool,
            credentials=peer_credentials(sock),
            dead_after_s=DEAD_AFTER_BEATS * welcome.heartbeat_s,
        )

    def _read(self) -> None:
        try:
            reason = self.peer.run()
            if not self._closing:
                logger.info("IPC client %r disconnected: %s", self.name, reason)
                call_safely(self._on_disconnect, reason)
        finally:
            # Nothing more to beat for or to serve; close() still waits for the workers.
            if self._heartbeats is not None:
                self._heartbeats.close(0.0)
            self._pool.close(0.0)

    def _live(self) -> list[Peer]:
        return [] if self._peer is None else [self._peer]
