"""One authenticated connection: the reader loop, calls both ways, events, streams, heartbeats.

The same class serves both ends: a server has one :class:`Peer` per client, a client one for the
server. A single reader thread per connection reads frames, checks the peer's rate limit and
dispatches: replies complete waiting calls, requests go to the worker pool (or run inline),
events go to listeners in order. Writes from any thread go through one locked
:class:`~engine.ipc.frames.FrameWriter`. Bad frames are answered with an error and the
connection goes on; an oversized length prefix, a broken socket or a silent peer end it.
This module must not accept connections or authenticate.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from typing import TYPE_CHECKING, Any

import msgspec

from engine.ipc import protocol
from engine.ipc.calls import Calls
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
from engine.ipc.ratelimit import TokenBucket
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
        self._jobs = Share(pool, settings.peer_workers, settings.max_inflight)
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
        self._refused_events_at = 0.0
        self.last_received = time.monotonic()
        reader.max_frame = settings.max_frame_bytes

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
            self._send(Request(id=call_id, method=method, params=params, timeout_ms=_ms(wait)))
        except BaseException:
            self._calls.complete(call_id, None)
            raise
        result = self._calls.wait(call_id, slot, wait, method, self.name)
        return result if result_type is None else _convert(result, result_type, method)

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
        """Close the connection (idempotent); calls waiting on it fail with ``reason``.

        With ``code``, the other side is first told why in a connection error frame.
        """
        with self._state_lock:
            if self._close_reason is not None:
                return
            self._close_reason = reason
        if code is not None:
            self._send_quietly(Error(code=code, message=reason), wait=_GOODBYE_WAIT_S)
        self._stopping.set()
        shutdown(self._sock)

    # --- the reader thread -----------------------------------------------------------------

    def run(self) -> str:
        """Read and dispatch frames on this thread until the connection closes; say why."""
        self._reader_ident = threading.get_ident()
        try:
            self._read_loop()
        except FrameTooLarge as e:
            self.close(str(e), code=e.wire_code)
        except (IpcError, OSError) as e:
            detail = f" ({self._goodbye})" if self._goodbye else ""
            self.close(f"{e or type(e).__name__}{detail}")
        finally:
            self._finish()
        return self._close_reason or "closed"

    def _read_loop(self) -> None:
        read, take, stopping = self._reader.read, self._bucket.take, self._stopping
        while self._close_reason is None:
            body = read()
            self.last_received = time.monotonic()
            wait = take()
            try:
                frame = protocol.decode(body)
            except ProtocolViolation as e:
                if not wait:
                    self._send_quietly(Error(id=e.request_id, code=e.wire_code, message=str(e)))
            else:
                if wait and isinstance(frame, _REFUSABLE):
                    self._refuse(frame)
                else:
                    _DISPATCH[type(frame)](self, frame)
            if wait:
                stopping.wait(min(wait, _MAX_PAUSE_S))  # throttle: read no faster than allowed

    def _finish(self) -> None:
        reason = self._close_reason or "closed"
        self._failure = failure = IpcError(f"connection to {self.name!r} closed: {reason}")
        self._calls.fail_all(failure)
        for stream in list(self._streams.values()):
            stream.finish(failure)
        self._responder.cancel()
        self._jobs.clear()
        self._writer.close()

    def tick(self, now: float) -> None:
        """Heartbeat duty (called by the heartbeat thread): beat if idle, drop if silent."""
        if self._close_reason is not None:
            return
        silent = now - self.last_received
        if silent > self._settings.dead_after_s:
            self.close(f"no heartbeat from {self.name!r} for {silent:.1f} s")
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
        elif not self._jobs.submit(self._serve_queued, route, request, time.monotonic()):
            limit = self._settings.max_inflight
            busy = f"too many requests in flight from {self.name!r} (limit {limit})"
            self._send_quietly(Error(id=request.id, code=Code.BUSY, message=busy))

    def _on_reply(self, reply: Reply) -> None:
        self._calls.complete(reply.id, reply.result)

    def _on_error(self, error: Error) -> None:
        if error.id is None:
            logger.warning("IPC peer %r reports: %s (%s)", self.name, error.message, error.code)
            if error.code in CLOSING_CODES:
                self._goodbye = error.message
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

    def _refuse(self, frame: Frame) -> None:
        message = f"rate limit exceeded: {self._bucket.describe()}"
        if isinstance(frame, Request):
            self._send_quietly(Error(id=frame.id, code=Code.RATE_LIMITED, message=message))
            return
        now = time.monotonic()
        if now - self._refused_events_at >= 1.0:  # one notice a second, not one per event
            self._refused_events_at = now
            notice = f"{message}; events are being dropped"
            self._send_quietly(Error(code=Code.RATE_LIMITED, message=notice))

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

    def _forget_stream(self, call_id: int) -> None:
        self._streams.pop(call_id, None)

    def _check_caller(self) -> None:
        if threading.get_ident() == self._reader_ident:
            raise IpcError(
                "cannot wait for a reply on the connection's own reader thread (an inline"
                " handler or an event listener); call from another thread"
            )


def _ms(seconds: float) -> int:
    return max(1, int(seconds * 1000))


def _convert(result: Any, result_type: Any, method: str) -> Any:
    try:
        return msgspec.convert(result, result_type)
    except msgspec.ValidationError as e:
        raise IpcError(f"the result of {method!r} does not fit {result_type!r}: {e}") from e


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
