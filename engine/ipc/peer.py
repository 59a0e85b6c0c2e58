"""One authenticated connection: the reader loop, calls both ways, events, streams, heartbeats.

The same class serves both ends: a server has one :class:`Peer` per client, a client one for the
server. A single reader thread per connection reads frames, checks the peer's rate limit and
dispatches: replies complete waiting calls, requests go to the worker pool (or run inline),
events go to listeners in order. Writes from any thread go through one locked
:class:`~engine.ipc.frames.FrameWriter`. Bad frames are answered with an error and the
connection goes on; an oversized length prefix, a broken socket, a peer that stops reading or
a silent peer end it, and so does any unexpected failure of the reader (logged, with the
reason), so a connection is never left registered with nobody reading it.
This module must not accept connections or authenticate.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from typing import TYPE_CHECKING, Any

from engine.ipc import protocol
from engine.ipc.calls import Calls, convert, milliseconds
from engine.ipc.frames import ConnectionLost, FrameTooLarge
from engine.ipc.protocol import (
    CLOSING_CODES,
    Cancel,
    Chunk,
    Code,
    Credit,
    End,
    Error,
    Event,
    Frame,
    Heartbeat,
    ProtocolViolation,
    Reply,
    Request,
)
from engine.ipc.ratelimit import TokenBucket, clip
from engine.ipc.refusals import Refusals
from engine.ipc.serving import Responder, route_error
from engine.ipc.streams import StreamReader
from engine.ipc.transport import shutdown
from engine.ipc.workers import Share, WorkerPool
from engine.types.errors import IpcError, IpcRemoteError

if TYPE_CHECKING:
    import socket
    from collections.abc import Callable

    from engine.ipc.auth import PeerCredentials
    from engine.ipc.frames import FrameReader, FrameWriter
    from engine.ipc.router import HandlerRegistry, Route
    from engine.ipc.settings import Settings

logger = logging.getLogger(__name__)

_HEARTBEAT = Heartbeat()
_MAX_PAUSE_S = 0.25  # longest pause of a throttled reader between two frames
_GOODBYE_WAIT_S = 0.2  # how long a closing connection waits to send its reason
_REFUSABLE = (Request, Event)  # frames a rate-limited peer is refused; the rest are answers


class Peer:
    """The other end of one connection, as seen from this side.

    Attributes:
        name: the name the other side gave (a client's hello name; the server's name).
        session: the session id the server gave this connection.
        credentials: the other process's pid, uid and gid (Linux Unix sockets), else ``None``.
        last_received: :func:`time.monotonic` of the last frame read from it.
    """

    def __init__(
        self,
        sock: socket.socket,
        reader: FrameReader,
        writer: FrameWriter,
        *,
        name: str,
        session: str,
        settings: Settings,
        registry: HandlerRegistry,
        pool: WorkerPool,
        credentials: PeerCredentials | None = None,
        dead_after_s: float | None = None,
    ) -> None:
        self.name = name
        self.session = session
        self.credentials = credentials
        self._sock = sock
        self._reader = reader
        self._writer = writer
        self._settings = settings
        self._registry = registry
        self._bucket = TokenBucket(settings.rate_limit_per_s, settings.rate_burst)
        waiting, waiting_bytes = settings.max_inflight, settings.max_queued_bytes
        self._jobs = Share(pool, settings.peer_workers, waiting, waiting_bytes)
        self._refusals = Refusals(name, self._bucket, waiting, waiting_bytes)
        self._responder = Responder(self, writer, settings, self._send_quietly, self.close)
        self._calls = Calls()
        self._streams: dict[int, StreamReader] = {}
        self._ids = itertools.count(1)
        self._state_lock = threading.Lock()
        self._stopping = threading.Event()
        self._close_reason: str | None = None
        self._failure: IpcError | None = None
        self._goodbye: str | None = None
        self._reader_ident: int | None = None
        self._frame_bytes = 0  # size of the frame being dispatched
        # Silence after which the other side is dropped, and the longest one frame may take to
        # be sent; a client uses the server's (see Client).
        self._dead_after = settings.dead_after_s if dead_after_s is None else dead_after_s
        self.last_received = time.monotonic()
        reader.max_frame = settings.max_frame_bytes
        writer.timeout = self._dead_after

    def __repr__(self) -> str:
        state = f"closed: {self._close_reason}" if self._close_reason else "open"
        return f"<Peer {self.name!r} session={self.session} {state}>"

    @property
    def closed(self) -> bool:
        """Whether the connection is closed or closing."""
        return self._close_reason is not None

    @property
    def close_reason(self) -> str | None:
        """Why the connection closed, once it has."""
        return self._close_reason

    # --- talking to the other side ---------------------------------------------------------

    def call(
        self,
        method: str,
        params: Any = None,
        *,
        timeout: float | None = None,
        result_type: Any = None,
    ) -> Any:
        """Call ``method`` on the other side and wait for its result.

        Args:
            method: the method name the other side registered.
            params: anything msgpack-serialisable (Structs are).
            timeout: seconds to wait; default ``Settings.request_timeout_s``.
            result_type: validate the result into this type (Struct, dataclass, ``int``…).

        Raises:
            IpcTimeout: no reply in time.
            IpcRemoteError: the handler raised or the call was refused (``remote_code`` says
                why: ``rate_limited``, ``no_such_method``, ``invalid_params``…).
            IpcError: the connection is closed, or the result does not fit ``result_type``.
        """
        self._check_caller()
        wait = self._settings.request_timeout_s if timeout is None else timeout
        call_id = next(self._ids)
        slot = self._calls.open(call_id)
        try:
            self._send(
                Request(id=call_id, method=method, params=params, timeout_ms=milliseconds(wait))
            )
        except BaseException:
            self._calls.complete(call_id, None)
            raise
        result = self._calls.wait(call_id, slot, wait, method, self.name)
        return result if result_type is None else convert(result, result_type, method)

    def notify(self, topic: str, data: Any = None) -> None:
        """Send a one-way event; nothing answers it.

        Raises:
            IpcError: the connection is closed.
        """
        self._send(Event(topic=topic, data=data))

    def stream(
        self,
        method: str,
        params: Any = None,
        *,
        timeout: float | None = None,
        window: int | None = None,
    ) -> StreamReader:
        """Call a streaming ``method``; iterate the returned reader for the payload's bytes.

        Args:
            timeout: seconds to wait for each chunk; default ``Settings.request_timeout_s``.
            window: chunks the producer may send ahead; default ``Settings.stream_window``.
        """
        self._check_caller()
        wait = self._settings.request_timeout_s if timeout is None else timeout
        size = window or self._settings.stream_window
        call_id = next(self._ids)
        reader = StreamReader(
            call_id,
            f"stream {method!r} from {self.name!r}",
            window=size,
            timeout=wait,
            send=self._send,
            forget=self._forget_stream,
        )
        self._streams[call_id] = reader
        if self._failure is not None and self._streams.pop(call_id, None) is not None:
            raise self._failure
        request = Request(id=call_id, method=method, params=params, window=size)
        try:
            self._send(request)
        except BaseException:
            self._streams.pop(call_id, None)
            raise
        return reader

    def close(self, reason: str = "closed", *, code: str | None = None) -> None:
        """Close the connection (idempotent); calls waiting on it fail with ``reason`` at once.

        With ``code``, the other side is first told why in a connection error frame.
        """
        with self._state_lock:
            if self._close_reason is not None:
                return
            self._close_reason = reason
        # Fail the waiting calls now, not when the reader thread (maybe busy in a listener)
        # gets round to it.
        self._fail_waiting()
        if code is not None:
            self._send_quietly(Error(code=code, message=reason), wait=_GOODBYE_WAIT_S)
        self._stopping.set()
        shutdown(self._sock)

    # --- the reader thread -----------------------------------------------------------------

    def run(self, started: Callable[[], object] | None = None) -> str:
        """Read and dispatch frames on this thread until the connection closes; say why.

        ``started`` runs first, on this thread, once it counts as the reader (so a call made
        from it fails at once instead of waiting for a reply only this thread could read).
        """
        self._reader_ident = threading.get_ident()
        try:
            if started is not None:
                started()
            self._read_loop()
        except FrameTooLarge as e:
            self.close(str(e), code=e.wire_code)
        except (IpcError, OSError) as e:
            detail = f" ({self._goodbye})" if self._goodbye else ""
            self.close(f"{e or type(e).__name__}{detail}")
        except Exception as e:
            logger.exception("IPC connection to %r failed", self.name)
            self.close(f"internal error: {type(e).__name__}: {clip(str(e))}")
        finally:
            if self._close_reason is None:  # a BaseException is on its way up
                self.close("the connection's reader stopped")
            self._finish()
        return self._close_reason or "closed"

    def _read_loop(self) -> None:
        read, take, stopping = self._reader.read, self._bucket.take, self._stopping
        while self._close_reason is None:
            body = read()
            self.last_received = time.monotonic()
            self._frame_bytes = len(body)
            wait = take()
            try:
                frame = protocol.decode(body)
            except ProtocolViolation as e:
                # Answered even when throttled: the reader is paced below, so this cannot flood.
                self._send_quietly(Error(id=e.request_id, code=e.wire_code, message=str(e)))
            else:
                if wait and isinstance(frame, _REFUSABLE):
                    refusal = self._refusals.rate_limited(frame)
                    if refusal is not None:
                        self._send_quietly(refusal)
                else:
                    _DISPATCH[type(frame)](self, frame)
            if wait:
                stopping.wait(min(wait, _MAX_PAUSE_S))  # throttle: read no faster than allowed

    def _finish(self) -> None:
        self._fail_waiting()
        self._responder.cancel()
        self._jobs.clear()
        self._writer.close()

    def _fail_waiting(self) -> None:
        """Fail every call and stream waiting on this (closed) connection, and any made later."""
        reason = self._close_reason or "closed"
        if self._failure is None:
            self._failure = IpcError(f"connection to {self.name!r} closed: {reason}")
        failure = self._failure
        self._calls.fail_all(failure)
        for stream in list(self._streams.values()):
            stream.finish(failure)

    def tick(self, now: float) -> None:
        """Heartbeat duty (called by the heartbeat thread): beat if idle, drop if silent or
        if one frame has waited too long for the other side to read it."""
        if self._close_reason is not None:
            return
        silent = now - self.last_received
        waiting = self._writer.waiting_since
        if silent > self._dead_after:
            self.close(f"no heartbeat from {self.name!r} for {silent:.1f} s")
        elif waiting is not None and now - waiting > self._dead_after:
            # Closing shuts the socket down, which ends the stuck send.
            self.close(f"the peer is not reading: a frame waited {now - waiting:.1f} s to be sent")
        elif now - self._writer.last_sent >= self._settings.heartbeat_s:
            try:
                self._writer.try_send(_HEARTBEAT)
            except IpcError as e:
                self.close(str(e))

    # --- frames from the other side (reader thread) ----------------------------------------

    def _on_request(self, request: Request) -> None:
        route = self._registry.route(request.method)
        if route is None or route.stream != bool(request.window):
            self._send_quietly(route_error(route, request))
        elif route.inline:
            self._responder.serve(route, request)
        else:
            now, size = time.monotonic(), self._frame_bytes
            refused = self._jobs.submit(self._serve_queued, route, request, now, size=size)
            if refused is not None:
                self._send_quietly(self._refusals.busy(request.id, refused))

    def _on_reply(self, reply: Reply) -> None:
        self._calls.complete(reply.id, reply.result)

    def _on_error(self, error: Error) -> None:
        if error.id is None:
            self._refusals.log_notice(error)
            if error.code in CLOSING_CODES:
                self._goodbye = clip(repr(error.message)[1:-1])  # no newlines or escapes
            return
        prefix = f"{error.exception}: " if error.exception else ""
        failure = IpcRemoteError(
            prefix + error.message, remote_code=error.code, remote_exception=error.exception
        )
        if not self._calls.complete(error.id, None, failure):
            stream = self._streams.get(error.id)
            if stream is not None:
                stream.finish(failure)

    def _on_event(self, event: Event) -> None:
        for listener in self._registry.listeners(event.topic):
            try:
                listener(self, event.topic, event.data)
            except Exception:
                logger.exception("IPC event listener %r failed on %r", listener, event.topic)

    def _on_chunk(self, chunk: Chunk) -> None:
        stream = self._streams.get(chunk.id)
        if stream is not None:
            stream.feed(chunk)

    def _on_end(self, end: End) -> None:
        stream = self._streams.get(end.id)
        if stream is not None:
            stream.finish(None)

    def _on_credit(self, credit: Credit) -> None:
        self._responder.credit(credit.id, credit.chunks)

    def _on_cancel(self, cancel: Cancel) -> None:
        self._responder.cancel(cancel.id)

    def _on_heartbeat(self, frame: Frame) -> None:
        pass  # reading it refreshed last_received

    def _on_unexpected(self, frame: Frame) -> None:
        tag = type(frame).__struct_config__.tag
        message = f"unexpected {tag} frame: the handshake is over"
        self._send_quietly(Error(code=Code.UNEXPECTED_FRAME, message=message))

    def _serve_queued(self, route: Route, request: Request, received: float) -> None:
        if self._close_reason is None:
            self._responder.serve_queued(route, request, received)

    # --- helpers ---------------------------------------------------------------------------

    def _send(self, frame: Frame) -> None:
        try:
            self._writer.send(frame)
        except ConnectionLost as e:
            self.close(str(e))
            raise IpcError(f"connection to {self.name!r} closed: {self._close_reason}") from e

    def _send_quietly(self, frame: Frame, *, wait: float | None = None) -> None:
        """Send a frame whose loss changes nothing (errors, notices); never raises.

        With ``wait``, give up rather than wait longer than that for the socket.
        """
        try:
            if wait is None:
                self._writer.send(frame)
            else:
                self._writer.try_send(frame, wait)
        except IpcError as e:
            logger.debug("IPC peer %r: could not send %r: %s", self.name, frame, e)
        except Exception:  # cannot encode: a bug here, not the peer's doing
            logger.exception("IPC peer %r: could not encode %r", self.name, type(frame).__name__)

    def _forget_stream(self, call_id: int) -> None:
        self._streams.pop(call_id, None)

    def _check_caller(self) -> None:
        if threading.get_ident() == self._reader_ident:
            raise IpcError(
                "cannot wait for a reply on the connection's own reader thread (an inline"
                " handler, an event listener or on_connect); call from another thread"
            )


_DISPATCH: dict[type[Frame], Callable[[Peer, Any], None]] = {
    protocol.Request: Peer._on_request,
    protocol.Reply: Peer._on_reply,
    protocol.Error: Peer._on_error,
    protocol.Event: Peer._on_event,
    protocol.Heartbeat: Peer._on_heartbeat,
    protocol.Chunk: Peer._on_chunk,
    protocol.End: Peer._on_end,
    protocol.Credit: Peer._on_credit,
    protocol.Cancel: Peer._on_cancel,
    protocol.Hello: Peer._on_unexpected,
    protocol.Challenge: Peer._on_unexpected,
    protocol.Auth: Peer._on_unexpected,
    protocol.Welcome: Peer._on_unexpected,
}
