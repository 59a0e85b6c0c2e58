"""The IPC server: listens, authenticates each connection, and serves it on its own thread.

One accept thread waits on the listener (and a wake-up socket for :meth:`Server.close`); every
accepted connection gets a thread that runs the handshake and then the connection's reader loop.
Connections still in their handshake are capped separately from authenticated peers, so
half-open connections cannot take the places of real clients. Handlers run on a shared, bounded
worker pool; one heartbeat thread watches every peer. Nothing a peer sends — garbage, oversized
frames, bad auth, floods, trickled bytes — can stop the server or slow the other peers beyond
sharing the CPU. This module must not define the wire format.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import logging
import os
import secrets
import socket
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.ipc import handshake
from engine.ipc.accepting import accept_loop
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

_SHUTTING_DOWN = "the server is shutting down"


class Server(HandlerRegistry):
    """Serves IPC peers over one transport. Register handlers, then :meth:`start`.

    Args:
        transport: ``"unix"``, ``"tcp"``, ``"memory"`` or a :class:`Transport`.
        name: names the socket file and threads, and is sent to clients in the welcome.
        settings: limits and timeouts (default: the ``[ipc]`` configuration defaults).
        secret: the session secret (default: 32 fresh random bytes).
        folder: where the socket and secret file go (default :func:`runtime_dir`).
        allowed_uid: the only uid a Unix-socket peer may run as (default: ours; Linux).
        max_peers: authenticated connections served at once; more are refused with
            ``too_many_peers``.
        max_handshakes: connections still in their handshake at once (they do not count
            toward ``max_peers``); more are refused with ``too_many_peers``.
        on_connect: called with each peer after its handshake, on the connection's reader
            thread before any frame is read (it must not wait for a call to that peer).
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
        max_handshakes: int = 16,
        on_connect: Callable[[Peer], object] | None = None,
        on_disconnect: Callable[[Peer, str], object] | None = None,
    ) -> None:
        super().__init__()
        if max_peers < 1 or max_handshakes < 1:
            raise ValueError(
                f"max_peers and max_handshakes must be at least 1, got {max_peers}"
                f" and {max_handshakes}"
            )
        self.name = name
        self.settings = settings or Settings()
        self.secret = secret or new_secret()
        self._transport = transport_for(transport) if isinstance(transport, str) else transport
        self._folder = folder
        self._allowed_uid = own_uid() if allowed_uid is None else allowed_uid
        self._max_peers = max_peers
        self._max_handshakes = max_handshakes
        self._on_connect = on_connect
        self._on_disconnect = on_disconnect
        self._cond = threading.Condition(threading.Lock())
        self._peers: dict[Peer, None] = {}
        self._socks: set[socket.socket] = set()
        self._handshakes = 0  # connections in their handshake
        self._admitted = 0  # authenticated connections: welcomed or about to be
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
            target=accept_loop,
            args=(listener, self._wake_r, self._admit, self.name),
            name=f"{self._thread_name}:accept",
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
        """Stop accepting, disconnect every peer, stop every thread, remove the files.

        Waits about ``timeout`` seconds in all for the threads (a handler that never returns
        keeps its thread). May be called from any thread, a callback or handler included.
        """
        deadline = time.monotonic() + timeout
        with self._cond:
            if self._closed:
                return
            self._closed = True
            peers, socks = list(self._peers), list(self._socks)
            self._cond.notify_all()
        try:
            with contextlib.suppress(OSError):
                self._wake_w.send(b"x")
            _join(self._accepter, deadline)
            for peer in peers:
                peer.close(_SHUTTING_DOWN, code=Code.SHUTTING_DOWN)
            for sock in socks:
                shutdown(sock)
            with self._cond:
                threads = list(self._threads)
            for thread in threads:
                _join(thread, deadline)
            self._heartbeats.close(_left(deadline))
            self._pool.close(_left(deadline))
        finally:
            if self._listener is not None:
                self._listener.close()
            if self._secret_path is not None:
                self._secret_path.unlink(missing_ok=True)
            self._wake_r.close()
            self._wake_w.close()

    # --- accepting -------------------------------------------------------------------------

    def _admit(self, sock: socket.socket) -> None:
        thread = threading.Thread(
            target=self._serve_connection,
            args=(sock,),
            name=f"{self._thread_name}:peer-{next(self._serial)}",
            daemon=True,
        )
        with self._cond:
            closed, refusal = self._closed, self._refusal()
            if refusal is None and self._handshakes >= self._max_handshakes:
                refusal = (
                    "too many connections in their handshake: this server takes at most"
                    f" {self._max_handshakes} at a time"
                )
            accepted = not closed and refusal is None
            if accepted:
                self._handshakes += 1
                self._socks.add(sock)
                self._threads.add(thread)
        if accepted:
            try:
                thread.start()
                return
            except RuntimeError as e:  # no more threads: refuse this one, keep serving
                self._forget(sock, thread, handshaking=True)
                refusal = f"cannot serve another connection now: {e}"
        if refusal is not None and not closed:
            with contextlib.suppress(IpcError):
                FrameWriter(sock, HANDSHAKE_MAX_FRAME).try_send(
                    Error(code=Code.TOO_MANY_PEERS, message=refusal)
                )
        sock.close()

    def _refusal(self) -> str | None:
        """Why no more authenticated peers fit (with the lock held), or ``None``."""
        if self._admitted >= self._max_peers:
            return f"too many peers: this server serves at most {self._max_peers}"
        return None

    def _serve_connection(self, sock: socket.socket) -> None:
        thread, peer = threading.current_thread(), None
        try:
            peer = self._authenticate(sock)
        except (IpcError, OSError) as e:
            logger.info("IPC server %r refused a connection: %s", self.name, e)
        except Exception:
            logger.exception("IPC server %r: a handshake failed unexpectedly", self.name)
        finally:
            if peer is None:
                sock.close()
                self._forget(sock, thread, handshaking=True)
        if peer is not None:
            try:
                self._run_peer(peer)
            finally:
                self._forget(sock, thread, admitted=True)

    def _forget(
        self,
        sock: socket.socket,
        thread: threading.Thread,
        *,
        handshaking: bool = False,
        admitted: bool = False,
    ) -> None:
        """A connection (and its thread) is gone: give back the places it held."""
        with self._cond:
            self._handshakes -= handshaking
            self._admitted -= admitted
            self._socks.discard(sock)
            self._threads.discard(thread)
            self._cond.notify_all()

    def _authenticate(self, sock: socket.socket) -> Peer:
        """Run the handshake; return the peer, registered and welcomed."""
        set_send_timeout(sock, self.settings.dead_after_s)
        reader = FrameReader(sock, HANDSHAKE_MAX_FRAME)
        writer = FrameWriter(sock, HANDSHAKE_MAX_FRAME, self.settings.dead_after_s)
        credentials = peer_credentials(sock)
        if credentials is not None:
            try:
                check_peer_uid(credentials.uid, self._allowed_uid)
            except IpcHandshakeError as e:
                writer.try_send(Error(code=Code.PEER_REFUSED, message=str(e)))
                raise
        hello = handshake.accept(sock, reader, writer, secret=self.secret, settings=self.settings)
        session = secrets.token_hex(8)
        peer = Peer(
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
        with self._cond:
            refusal = _SHUTTING_DOWN if self._closed else self._refusal()
            if refusal is None:
                # Welcomed and registered under the lock: once the client has its welcome the
                # server lists the peer, and no thread can find (and call) the peer before the
                # welcome is on its way.
                handshake.welcome(
                    writer, hello, settings=self.settings, session=session, server=self.name
                )
                self._handshakes -= 1
                self._admitted += 1
                self._peers[peer] = None
                self._cond.notify_all()
                return peer
        code = Code.SHUTTING_DOWN if refusal == _SHUTTING_DOWN else Code.TOO_MANY_PEERS
        with contextlib.suppress(IpcError):
            writer.try_send(Error(code=code, message=refusal))
        raise IpcHandshakeError(refusal)

    def _run_peer(self, peer: Peer) -> None:
        """Serve a registered peer on this thread until it is gone; then forget it."""
        reason = "the connection's reader stopped"
        try:
            reason = peer.run(functools.partial(call_safely, self._on_connect, peer))
        finally:
            with self._cond:
                self._peers.pop(peer, None)
                self._cond.notify_all()
            call_safely(self._on_disconnect, peer, reason)

    # --- helpers ---------------------------------------------------------------------------

    def _live(self) -> list[Peer]:
        with self._cond:
            return list(self._peers)

    def _find(self, name: str) -> Peer | None:
        return next((p for p in self._peers if p.name == name and not p.closed), None)


def _left(deadline: float) -> float:
    return max(0.0, deadline - time.monotonic())


def _join(thread: threading.Thread | None, deadline: float) -> None:
    """Wait for ``thread`` until ``deadline``, unless it is the calling thread (a callback)."""
    if thread is not None and thread is not threading.current_thread():
        thread.join(_left(deadline))
