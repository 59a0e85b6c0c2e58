"""A real HTTP server on 127.0.0.1 speaking the OpenAI chat-completions protocol, for tests.

``POST /v1/chat/completions`` answers with one JSON reply or, with ``"stream": true``, server-sent
events (one chunk per word, the finish reason, a usage chunk when asked for, ``[DONE]``). What
it answers is scripted: queued :class:`Behaviour`\\ s are used one per request, then the
``responder`` (a function of the request body) or an echo of the last user message. Every
request is recorded (body and headers) so tests can check what the client sent.

Behaviours cover what the client must handle: errors with a status and message, 429 with
``Retry-After``, a reply that goes quiet (for cancellation and timeouts), slow chunks, and a
malformed body.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

__all__ = ["Behaviour", "ModelServer"]


@dataclass
class Behaviour:
    """How to answer one request.

    Attributes:
        text: the reply (None: the responder's or the echo).
        status: an HTTP status other than 200 makes an error reply with ``message``.
        retry_after: the ``Retry-After`` header of an error reply.
        chunk_delay: seconds between streamed chunks.
        stall: seconds to wait before answering at all (a provider gone quiet).
        raw: a body to send as is (malformed replies).
        usage: (prompt, completion) tokens reported; None omits usage.
    """

    text: str | None = None
    status: int = 200
    message: str = "error"
    retry_after: str | None = None
    chunk_delay: float = 0.0
    stall: float = 0.0
    raw: bytes | None = None
    usage: tuple[int, int] | None = (11, 7)
    stall_mid_stream: float = 0.0
    #: Close the stream after this many pieces, with no finish reason and no [DONE].
    cut_after: int | None = None


@dataclass
class Recorded:
    body: dict[str, Any]
    headers: dict[str, str]
    at: float = field(default_factory=time.monotonic)


class ModelServer:
    """Start with ``with ModelServer() as server:``; ``server.base_url`` ends in ``/v1``."""

    def __init__(self, model: str = "test-model") -> None:
        self.model = model
        self.queue: deque[Behaviour] = deque()
        self.responder: Callable[[dict[str, Any]], str] | None = None
        self.requests: list[Recorded] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    def __enter__(self) -> ModelServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def then(self, *behaviours: Behaviour) -> ModelServer:
        """Queue behaviours for the next requests, in order."""
        with self._lock:
            self.queue.extend(behaviours)
        return self

    def _next(self, body: dict[str, Any], headers: dict[str, str]) -> Behaviour:
        with self._lock:
            self.requests.append(Recorded(body, headers))
            return self.queue.popleft() if self.queue else Behaviour()

    def _text(self, behaviour: Behaviour, body: dict[str, Any]) -> str:
        if behaviour.text is not None:
            return behaviour.text
        if self.responder is not None:
            return self.responder(body)
        users = [m for m in body.get("messages", []) if m.get("role") == "user"]
        last = users[-1]["content"] if users else ""
        return f"echo: {last}"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Buffered writes: headers and body leave in one segment (no delayed-ACK stall).
            wbufsize = 65536

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                try:
                    body = json.loads(self.rfile.read(length) or b"{}")
                except ValueError:
                    body = {}
                if self.path.rstrip("/") != "/v1/chat/completions":
                    self._send(404, {"error": {"message": f"no route {self.path}"}})
                    return
                behaviour = server._next(body, {k.lower(): v for k, v in self.headers.items()})
                if behaviour.stall:
                    time.sleep(behaviour.stall)
                if behaviour.raw is not None:
                    self._send_bytes(200, behaviour.raw, "application/json")
                    return
                if behaviour.status != 200:
                    extra = {"Retry-After": behaviour.retry_after} if behaviour.retry_after else {}
                    self._send(behaviour.status, {"error": {"message": behaviour.message}}, extra)
                    return
                text = server._text(behaviour, body)
                if body.get("stream"):
                    self._stream(body, text, behaviour)
                else:
                    reply: dict[str, Any] = {
                        "id": "chatcmpl-test",
                        "object": "chat.completion",
                        "model": server.model,
                        "choices": [
                            {
                                "index": 0,
                                "message": {"role": "assistant", "content": text},
                                "finish_reason": "stop",
                            }
                        ],
                    }
                    if behaviour.usage is not None:
                        reply["usage"] = _usage(behaviour.usage)
                    self._send(200, reply)

            def _stream(self, body: dict[str, Any], text: str, behaviour: Behaviour) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Cache-Control", "no-cache")
                self.send_header("Connection", "close")
                self.end_headers()
                try:
                    for i, piece in enumerate(_pieces(text)):
                        if behaviour.cut_after is not None and i >= behaviour.cut_after:
                            self.wfile.flush()
                            self.close_connection = True
                            return
                        chunk = _chunk(server.model, {"content": piece}, None)
                        self.wfile.write(b"data: " + json.dumps(chunk).encode() + b"\n\n")
                        self.wfile.flush()
                        if i == 0 and behaviour.stall_mid_stream:
                            time.sleep(behaviour.stall_mid_stream)
                        if behaviour.chunk_delay:
                            time.sleep(behaviour.chunk_delay)
                    done = _chunk(server.model, {}, "stop")
                    self.wfile.write(b"data: " + json.dumps(done).encode() + b"\n\n")
                    wants_usage = (body.get("stream_options") or {}).get("include_usage")
                    if wants_usage and behaviour.usage is not None:
                        last = {
                            "model": server.model,
                            "choices": [],
                            "usage": _usage(behaviour.usage),
                        }
                        self.wfile.write(b"data: " + json.dumps(last).encode() + b"\n\n")
                    self.wfile.write(b"data: [DONE]\n\n")
                    self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    pass
                self.close_connection = True

            def _send(self, status: int, data: Any, headers: dict[str, str] | None = None) -> None:
                self._send_bytes(status, json.dumps(data).encode(), "application/json", headers)

            def _send_bytes(
                self, status: int, data: bytes, kind: str, headers: dict[str, str] | None = None
            ) -> None:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.wfile.write(data)
                    self.wfile.flush()

        return Handler


def _usage(usage: tuple[int, int]) -> dict[str, int]:
    return {
        "prompt_tokens": usage[0],
        "completion_tokens": usage[1],
        "total_tokens": usage[0] + usage[1],
    }


def _chunk(model: str, delta: dict[str, Any], finish: str | None) -> dict[str, Any]:
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion.chunk",
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


def _pieces(text: str) -> Iterator[str]:
    """The text in word-sized pieces (spaces kept), as a model streams tokens."""
    start = 0
    for i, ch in enumerate(text):
        if ch == " " and i > start:
            yield text[start:i]
            start = i
    if start < len(text):
        yield text[start:]
