"""Handler registration by method name and topic, and turning one handler call into a frame.

:class:`HandlerRegistry` is the part servers and clients share: ``handle`` (request → reply),
``handle_stream`` (request → chunks) and ``on_event`` (one-way, glob topic patterns). A handler
gets the calling :class:`~engine.ipc.peer.Peer` and the request's params; params declared with a
type are validated into it first. This module must not touch sockets.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import msgspec

from engine.bus.topics import RouteTable
from engine.ipc.protocol import Code, Error, Reply, wire_text
from engine.types.errors import SymphonyError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from engine.ipc.peer import Peer
    from engine.ipc.protocol import Request

    Handler = Callable[[Peer, Any], Any]
    StreamHandler = Callable[[Peer, Any], Iterable[bytes]]
    EventHandler = Callable[[Peer, str, Any], None]


@dataclass(frozen=True)
class Route:
    """One registered method.

    Attributes:
        method: the method name.
        fn: the handler; returns the result, or (for streams) an iterable of bytes.
        params: the type params are validated into (``None``: passed as decoded).
        inline: run on the connection's reader thread (fast, but must not block or call).
        stream: answers with a stream instead of one reply.
    """

    method: str
    fn: Callable[[Peer, Any], Any]
    params: Any = None
    inline: bool = False
    stream: bool = False

    def call(self, peer: Peer, request: Request) -> Any:
        """Validate the params and run the handler.

        Raises:
            msgspec.ValidationError: the params do not fit :attr:`params`.
            Exception: whatever the handler raises.
        """
        params = request.params
        if self.params is not None:
            params = msgspec.convert(params, self.params)
        return self.fn(peer, params)


class HandlerRegistry:
    """Methods and event listeners of one endpoint (a server or a client)."""

    def __init__(self) -> None:
        self._routes: dict[str, Route] = {}
        self._routes_lock = threading.Lock()
        self._events: RouteTable[EventHandler] = RouteTable()

    def handle(self, method: str, fn: Handler, *, params: Any = None, inline: bool = False) -> None:
        """Answer requests for ``method`` with ``fn(peer, params)``'s return value.

        Args:
            method: the method name.
            fn: the handler; what it returns must be msgpack-serialisable (Structs are).
            params: a type (Struct, dataclass, ``int``…) to validate params into first; a
                mismatch is answered with an ``invalid_params`` error naming the field.
            inline: run on the connection's reader thread instead of a worker: saves a
                thread hand-off, but the handler must be quick and must not call the peer.

        Raises:
            ValueError: ``method`` already has a handler.
        """
        self._add(Route(method, fn, params, inline))

    def handle_stream(self, method: str, fn: StreamHandler, *, params: Any = None) -> None:
        """Answer requests for ``method`` with a stream of the bytes ``fn(peer, params)`` yields.

        Raises:
            ValueError: ``method`` already has a handler.
        """
        self._add(Route(method, fn, params, stream=True))

    def on_event(self, pattern: str, fn: EventHandler) -> None:
        """Call ``fn(peer, topic, data)`` for events whose topic matches the glob ``pattern``.

        Listeners run on the connection's reader thread in arrival order: keep them short and
        never wait for a reply from there.
        """
        self._events.add(pattern, fn)

    def route(self, method: str) -> Route | None:
        """The route of ``method``, if any."""
        return self._routes.get(method)

    def listeners(self, topic: str) -> tuple[EventHandler, ...]:
        """The event listeners for ``topic``, in registration order."""
        return self._events.match(topic)

    def _add(self, route: Route) -> None:
        with self._routes_lock:
            if route.method in self._routes:
                raise ValueError(f"a handler for {route.method!r} is already registered")
            self._routes[route.method] = route


def reply_frame(route: Route, peer: Peer, request: Request) -> Reply | Error:
    """Run a request's handler and return the frame that answers it; never raises Exception."""
    try:
        return Reply(id=request.id, result=route.call(peer, request))
    except msgspec.ValidationError as e:
        return invalid_params(route, request, e)
    except Exception as e:
        return error_frame(request.id, e)


def invalid_params(route: Route, request: Request, error: msgspec.ValidationError) -> Error:
    """The answer to params that do not validate."""
    message = f"invalid params for {route.method!r}: {error}"
    return Error(id=request.id, code=Code.INVALID_PARAMS, message=message)


def error_frame(call_id: int | None, exc: BaseException) -> Error:
    """An error frame for an exception a handler raised: its code, message and class name."""
    code = exc.code if isinstance(exc, SymphonyError) else Code.HANDLER_ERROR
    message = wire_text(str(exc) or type(exc).__name__)
    return Error(id=call_id, code=wire_text(code), message=message, exception=type(exc).__name__)
