"""Answering one connection's requests: run the handler, send its reply or pump its stream.

Runs on worker threads (or the reader thread for inline handlers). A handler's failure, a
result that cannot be encoded (whatever msgpack raises: ``TypeError``, ``OverflowError`` for
big ints, ``UnicodeEncodeError`` for surrogates) or is oversized, or a consumer that vanished
each become the right error frame or silence, so a caller never waits for an answer that will
not come; only a broken connection closes it. This module must not read frames.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import msgspec

from engine.ipc.frames import ConnectionLost, FrameTooLarge
from engine.ipc.protocol import Code, Error, wire_text
from engine.ipc.router import error_frame, invalid_params, reply_frame
from engine.ipc.streams import CreditGate, StreamCancelled, pump

if TYPE_CHECKING:
    from collections.abc import Callable

    from engine.ipc.frames import FrameWriter
    from engine.ipc.peer import Peer
    from engine.ipc.protocol import Frame, Request
    from engine.ipc.router import Route
    from engine.ipc.settings import Settings

_CHUNK_OVERHEAD = 64  # bytes of a chunk frame besides its data


class Responder:
    """Serves the requests of one :class:`~engine.ipc.peer.Peer` and tracks its open streams.

    Args:
        peer: the connection (handlers get it as their first argument).
        writer: where answers go.
        settings: timeouts and chunk size.
        send_quietly: sends a frame whose loss changes nothing.
        close: closes the connection with a reason.
    """

    def __init__(
        self,
        peer: Peer,
        writer: FrameWriter,
        settings: Settings,
        send_quietly: Callable[[Frame], None],
        close: Callable[[str], None],
    ) -> None:
        self._peer = peer
        self._writer = writer
        self._settings = settings
        self._send_quietly = send_quietly
        self._close = close
        self._producers: dict[int, CreditGate] = {}

    def serve(self, route: Route, request: Request) -> None:
        """Answer ``request`` with ``route``'s handler; never raises ``Exception``."""
        if route.stream:
            self._produce(route, request)
            return
        try:
            self._writer.send(reply_frame(route, self._peer, request))
        except FrameTooLarge as e:
            message = f"the reply is too large: {e}; send large results as a stream"
            self._send_quietly(Error(id=request.id, code=Code.FRAME_TOO_LARGE, message=message))
        except ConnectionLost as e:
            self._close(str(e))
        except Exception as e:  # encoding failed; nothing was sent
            name = type(e).__name__
            message = wire_text(f"the result of {route.method!r} cannot be encoded: {e}")
            error = Error(id=request.id, code=Code.HANDLER_ERROR, message=message, exception=name)
            self._send_quietly(error)

    def serve_queued(self, route: Route, request: Request, received: float) -> None:
        """:meth:`serve` a request that waited for a worker, unless its caller gave up."""
        waited_ms = (time.monotonic() - received) * 1000.0
        if request.timeout_ms is None or waited_ms <= request.timeout_ms:
            self.serve(route, request)

    def credit(self, call_id: int, chunks: int) -> None:
        """The consumer of stream ``call_id`` took ``chunks`` more."""
        gate = self._producers.get(call_id)
        if gate is not None:
            gate.add(chunks)

    def cancel(self, call_id: int | None = None) -> None:
        """Stop producing stream ``call_id`` (every stream when ``None``)."""
        if call_id is None:
            gates = list(self._producers.values())
        else:
            gates = [g for g in (self._producers.get(call_id),) if g is not None]
        for gate in gates:
            gate.cancel()

    def _produce(self, route: Route, request: Request) -> None:
        gate = self._producers[request.id] = CreditGate(request.window)
        try:
            pump(
                route.call(self._peer, request),
                call_id=request.id,
                gate=gate,
                send=self._writer.send,
                chunk_bytes=min(self._settings.chunk_bytes, self._writer.limit - _CHUNK_OVERHEAD),
                timeout=self._settings.request_timeout_s,
            )
        except StreamCancelled:
            pass  # the reader went away; nobody to tell
        except ConnectionLost as e:
            self._close(str(e))
        except msgspec.ValidationError as e:
            self._send_quietly(invalid_params(route, request, e))
        except Exception as e:
            self._send_quietly(error_frame(request.id, e))
        finally:
            self._producers.pop(request.id, None)


def route_error(route: Route | None, request: Request) -> Error:
    """Why a request cannot be served: no such method, or a stream/plain mismatch."""
    method = request.method
    if route is None:
        message = f"no handler for method {method!r}"
        return Error(id=request.id, code=Code.NO_SUCH_METHOD, message=message)
    if route.stream:
        how = "answers with a stream: call it as a stream"
    else:
        how = "does not stream: call it as a plain request"
    return Error(id=request.id, code=Code.STREAM_MISMATCH, message=f"method {method!r} {how}")
