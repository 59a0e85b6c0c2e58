"""The IPC server: listens, authenticates each connection, and serves it on its own thread.

One accept thread waits on the listener (and a wake-up socket for :meth:`Server.close`); every
accepted connection gets a thread that runs the handshake and then the connection's reader loop.
Handlers run on a shared, bounded worker pool; one heartbeat thread watches every peer. Nothing
a peer sends — garbage, oversized frames, bad auth, floods — can stop the server or slow the
other peers beyond sharing the CPU. This module must not define the wire format.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import secrets
import selectors
import socket
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.ipc import handshake
from engine.ipc.auth import check_peer_uid, new_secret, own_uid, peer_credentials
from engine.ipc.discovery import child_env, ensure_private_dir, runtime_dir, write_secret
from engine.ipc.frames import FrameReader, FrameWriter
from engine.ipc.heartbeat import Heartbeats
from engine.ipc.peer import Peer
from engine.ipc.protocol import HANDSHAKE_MAX_FRAME, Code, Error
from engine.ipc.router import HandlerRegistry
from engine.ipc.settings import Settings
from engine.ipc.transport import set_send_timeout, shutdown, transport_for
from engine.ipc.workers import WorkerPool, call_safely
from engine.types.errors import IpcError, IpcHandshakeError, IpcTimeout

if TYPE_CHECKING:
    from collections.abc import Callable
    from types import TracebackType

    from engine.ipc.transport import Listener, Transport

logger = logging.getLogger(__name__)


class Server(HandlerRegistry):
    """Serves IPC peers over one transport. Register handlers, then :meth:`start`.

    Args:
        transport: ``"unix"``, ``"tcp"``, ``"memory"`` or a :class:`Transport`.
        name: names the socket file and threads, and is sent to clients in the welcome.
        settings: limits and timeouts (default: the ``[ipc]`` configuration defaults).
        secret: the session secret (default: 32 fresh random bytes).
        folder: where the socket and secret file go (default :func:`runtime_dir`).
        allowed_uid: the only uid a Unix-socket peer may run as (default: ours; Linux).
        max_peers: connections served at once; more are refused with ``too_many_peers``.
        on_connect: called with each peer after its handshake.
        on_disconnect: called with each peer and the reason once it is gone.
    """

    def __init__(
        self,
        transport: str | Transport = "unix",
        *,
        name: str = "engine",
        settings: Settings | None = None,
        secret: bytes | None = None,
        folder: Path | None = None,
        allowed_uid: int | None = None,
        max_peers: int = 64,
        on_connect: Callable[[Peer], object] | None = None,
        on_disconnect: Callable[[Peer, str], object] | None = None,
    ) -> None:
        super().__init__()
        self.name = name
        self.settings = settings or Settings()
        self.secret = secret or new_secret()
        self._transport = transport_for(transport) if isinstance(transport, str) else transport
        self._folder = folder
        self._allowed_uid = own_uid() if allowed_uid is None else allowed_uid
        self._max_peers = max_peers
        self._on_connect = on_connect
        self._on_disconnect = on_disconnect
        self._cond = threading.Condition(threading.Lock())
        self._peers: dict[Peer, None] = {}
        self._socks: set[socket.socket] = set()
        self._threads: set[threading.Thread] = set()
        self._thread_name = f"symphony-ipc-{name}"
        self._pool = WorkerPool(self._thread_name, self.settings.workers)
        self._heartbeats = Heartbeats(self._thread_name, self.settings.heartbeat_s, self._live)
        self._listener: Listener | None = None
        self._secret_path: Path | None = None
        self._wake_r, self._wake_w = socket.socketpair()
        self._accepter: threading.Thread | None = None
        self._serial = itertools.count(1)
        self._closed = False

    def __repr__(self) -> str:
        where = self._listener.address if self._listener else "not started"
        return f"<Server {self.name!r} {where} peers={len(self._peers)}>"

    def __enter__(self) -> Server:
        if self._listener is None:
            self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # --- public API ------------------------------------------------------------------------

    def start(self) -> Server:
        """Listen, write the secret file (Unix/TCP) and start serving; returns ``self``.

        Raises:
            IpcError: the runtime folder is unsafe or the transport cannot listen.
        """
        if self._listener is not None or self._closed:
            raise IpcError(f"server {self.name!r} was already started")
        stem = Path(self.name)
        if self._transport.uses_files:
            folder = ensure_private_dir(self._folder) if self._folder else runtime_dir()
            stem = folder / f"{self.name}-{os.getpid()}-{secrets.token_hex(3)}"
        self._listener = listener = self._transport.listen(stem)
        if self._transport.uses_files:
            try:
                self._secret_path = write_secret(stem.with_name(stem.name + ".key"), self.secret)
            except OSError as e:
                listener.close()
                raise IpcError(f"cannot write the IPC secret file next to {stem}: {e}") from e
        self._accepter = threading.Thread(
            target=self._accept_loop, args=(listener,), name=f"{self._thread_name}:accept"
        )
        self._accepter.daemon = True
        self._accepter.start()
        self._heartbeats.start()
        return self

    @property
    def address(self) -> str:
        """Where clients connect (``unix:…``, ``tcp:…``, ``memory:…``)."""
        if self._listener is None:
            raise IpcError(f"server {self.name!r} is not started")
        return self._listener.address

    @property
    def secret_path(self) -> Path | None:
        """The 0600 file holding the hex secret (``None`` for the memory transport)."""
        return self._secret_path

    @property
    def peers(self) -> list[Peer]:
        """The connected, authenticated peers."""
        with self._cond:
            return list(self._peers)

    def peer(self, name: str) -> Peer | None:
        """The first connected peer that introduced itself as ``name``."""
        with self._cond:
            return self._find(name)

    def wait_for_peer(self, name: str, timeout: float) -> Peer:
        """Wait until a peer named ``name`` is connected and return it.

        Raises:
            IpcTimeout: none connected within ``timeout`` seconds.
        """
        deadline = time.monotonic() + timeout
        with self._cond:
            while (found := self._find(name)) is None:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._closed:
                    raise IpcTimeout(f"no peer named {name!r} connected within {timeout:g} s")
                self._cond.wait(remaining)
        return found

    def broadcast(self, topic: str, data: Any = None) -> int:
        """Send an event to every peer; returns how many it reached."""
        sent = 0
        for peer in self.peers:
            with contextlib.suppress(IpcError):
                peer.notify(topic, data)
                sent += 1
        return sent

    def child_env(self) -> dict[str, str]:
        """Variables for a child process: ``SYMPHONY_IPC_ADDRESS`` and ``SYMPHONY_IPC_SECRET``."""
        return child_env(self.address, self.secret)

    def close(self, timeout: float = 2.0) -> None:
        """Stop accepting, disconnect every peer, stop every thread, remove the files."""
        with self._cond:
            if self._closed:
                return
            self._closed = True
            peers, socks = list(self._peers), list(self._socks)
            self._cond.notify_all()
        self._wake_w.send(b"x")
        if self._accepter is not None:
            self._accepter.join(timeout)
        if self._listener is not None:
            self._listener.close()
        for peer in peers:
            peer.close("the server is shutting down", code=Code.SHUTTING_DOWN)
        for sock in socks:
            shutdown(sock)
        self._join_connections(timeout)
        self._heartbeats.close()
        self._pool.close(timeout)
        if self._secret_path is not None:
            self._secret_path.unlink(missing_ok=True)
        self._wake_r.close()
        self._wake_w.close()

    # --- accepting -------------------------------------------------------------------------

    def _accept_loop(self, listener: Listener) -> None:
        with selectors.DefaultSelector() as selector:
            selector.register(listener.fileno(), selectors.EVENT_READ, "listener")
            selector.register(self._wake_r, selectors.EVENT_READ, "wake")
            while True:
                for key, _ in selector.select():
                    if key.data == "wake":
                        return
                    try:
                        sock = listener.accept()
                    except OSError as e:
                        logger.warning("IPC server %r: accept failed: %s", self.name, e)
                        continue
                    self._admit(sock)

    def _admit(self, sock: socket.socket) -> None:
        thread = threading.Thread(
            target=self._serve_connection,
            args=(sock,),
            name=f"{self._thread_name}:peer-{next(self._serial)}",
            daemon=True,
        )
        with self._cond:
            full = len(self._socks) >= self._max_peers
            if not (self._closed or full):
                self._socks.add(sock)
                self._threads.add(thread)
                thread.start()
                return
        if full:
            message = f"too many peers: this server serves at most {self._max_peers}"
            with contextlib.suppress(IpcError):
                FrameWriter(sock, HANDSHAKE_MAX_FRAME).try_send(
                    Error(code=Code.TOO_MANY_PEERS, message=message)
                )
        sock.close()

    def _serve_connection(self, sock: socket.socket) -> None:
        try:
            peer = self._authenticate(sock)
        except (IpcError, OSError) as e:
            logger.info("IPC server %r refused a connection: %s", self.name, e)
            sock.close()
        else:
            self._run_peer(peer)
        finally:
            with self._cond:
                self._socks.discard(sock)
                self._threads.discard(threading.current_thread())

    def _authenticate(self, sock: socket.socket) -> Peer:
        set_send_timeout(sock, self.settings.dead_after_s)
        reader = FrameReader(sock, HANDSHAKE_MAX_FRAME)
        writer = FrameWriter(sock, HANDSHAKE_MAX_FRAME)
        credentials = peer_credentials(sock)
        if credentials is not None:
            try:
                check_peer_uid(credentials.uid, self._allowed_uid)
            except IpcHandshakeError as e:
                writer.try_send(Error(code=Code.PEER_REFUSED, message=str(e)))
                raise
        session = secrets.token_hex(8)
        hello = handshake.accept(
            sock,
            reader,
            writer,
            secret=self.secret,
            settings=self.settings,
            session=session,
            server=self.name,
        )
        return Peer(
            sock,
            reader,
            writer,
            name=hello.name,
            session=session,
            settings=self.settings,
            registry=self,
            pool=self._pool,
            credentials=credentials,
        )

    def _run_peer(self, peer: Peer) -> None:
        with self._cond:
            if self._closed:
                peer.close("the server is shutting down", code=Code.SHUTTING_DOWN)
            self._peers[peer] = None
            self._cond.notify_all()
        call_safely(self._on_connect, peer)
        reason = peer.run()
        with self._cond:
            self._peers.pop(peer, None)
        call_safely(self._on_disconnect, peer, reason)

    # --- helpers ---------------------------------------------------------------------------

    def _live(self) -> list[Peer]:
        with self._cond:
            return list(self._peers)

    def _find(self, name: str) -> Peer | None:
        return next((p for p in self._peers if p.name == name and not p.closed), None)

    def _join_connections(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        with self._cond:
            threads = list(self._threads)
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
