"""A client of the OpenAI-compatible chat-completions protocol (``POST …/chat/completions``).

It serves every provider that speaks the protocol — OpenAI, Ollama, llama.cpp server, vLLM, LM
Studio, hosted gateways — with:

- streaming over server-sent events (``stream: true``; deltas go to ``on_delta`` as they come,
  token usage is asked for with ``stream_options.include_usage``) or one JSON reply;
- a timeout per read and one for the whole call (``timeout_s``);
- retries with exponential backoff (and jitter) on 429, 500, 502, 503, 504 and failed
  connections, honouring ``Retry-After`` (capped at :data:`MAX_RETRY_AFTER`), at most
  ``max_retries`` times; other 4xx fail at once with the provider's message;
- cancellation from another thread (a ``threading.Event``): a wait for a retry ends at once, and
  a request in flight is cut by shutting its socket down, so even a provider that has gone quiet
  does not keep the caller waiting;
- token and cost accounting (prices per million tokens from the model's configuration).

The API key is read from the model's ``api_key_env`` variable when a request is made, registered
with :mod:`engine.instruments.secrets` (so it is redacted everywhere) and sent only in the
``Authorization`` header. Errors never include it.
"""

from __future__ import annotations

import contextlib
import email.utils
import json
import logging
import random
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx

from engine.instruments import secrets
from engine.instruments.sse import DONE, events
from engine.types.errors import Cancelled, ModelError, ModelUnavailable
from symphony_sdk.context import TokenUsage

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    from engine.config.models import ModelConfig

__all__ = ["RETRY_STATUSES", "ChatClient", "ChatResult", "Usage", "cost_of"]

log = logging.getLogger(__name__)

#: Statuses worth trying again (rate limits and passing server trouble).
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
#: Longest wait a ``Retry-After`` may ask for, in seconds.
MAX_RETRY_AFTER = 30.0
#: First backoff, in seconds (doubled each retry, with up to 25% jitter).
BACKOFF_S = 0.5
#: Longest a connection may take to open, in seconds.
CONNECT_TIMEOUT_S = 10.0


#: Tokens a call used, as the provider reported them (the SDK's type: extensions get it as is).
Usage = TokenUsage


@dataclass(frozen=True, slots=True)
class ChatResult:
    """A finished chat completion.

    Attributes:
        text: the reply.
        model: the model name the provider reported (or the one asked for).
        usage: tokens used; None when the provider did not say.
        cost: price in USD when the model has prices and usage is known.
        finish_reason: ``stop``, ``length``… as the provider reported it.
        duration_ms: from the first request to the end of the reply, retries included.
        attempts: requests made (1 without retries).
    """

    text: str
    model: str
    usage: Usage | None
    cost: float | None
    finish_reason: str | None
    duration_ms: float
    attempts: int = 1
    extra: dict[str, Any] = field(default_factory=dict)


def cost_of(config: ModelConfig, usage: Usage | None) -> float | None:
    """The price of ``usage`` with the model's prices, or None when either is unknown."""
    if usage is None or config.input_price is None or config.output_price is None:
        return None  # unknown, or only half priced: a cost that looks complete would mislead
    return (
        usage.prompt_tokens * (config.input_price or 0.0)
        + usage.completion_tokens * (config.output_price or 0.0)
    ) / 1_000_000


class _Retry(Exception):
    """A request failed in a way worth another try (after ``delay`` seconds if given)."""

    def __init__(self, reason: str, delay: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.delay = delay


class ChatClient:
    """Chat completions with one configured model.

    Args:
        name: the model's name in the configuration (for messages).
        config: its endpoint, model, key variable, limits and prices.
        environ: where the API key variable is read (default: the process environment).
        transport: an httpx transport (default: a real connection).
    """

    def __init__(
        self,
        name: str,
        config: ModelConfig,
        *,
        environ: Mapping[str, str] | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        import os

        self.name = name
        self.config = config
        self._environ = environ if environ is not None else os.environ
        self._http = httpx.Client(
            transport=transport,
            timeout=httpx.Timeout(
                config.timeout_s, connect=min(CONNECT_TIMEOUT_S, config.timeout_s)
            ),
        )

    def close(self) -> None:
        self._http.close()

    @property
    def url(self) -> str:
        return self.config.base_url.rstrip("/") + "/chat/completions"

    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        var = self.config.api_key_env
        if var:
            key = self._environ.get(var)
            if not key:
                raise ModelError(
                    f"model {self.name!r}: the API key variable {var} is not set"
                    f" (export {var}=… or change aide.models.{self.name}.api_key_env)"
                )
            secrets.register(key)
            headers["Authorization"] = f"Bearer {key}"
        return headers

    def body(
        self, messages: Sequence[Mapping[str, Any]], *, stream: bool, params: Mapping[str, Any]
    ) -> dict[str, Any]:
        """The request body: model, messages, the configured limits, then ``params``."""
        body: dict[str, Any] = {"model": self.config.model, "messages": list(messages)}
        if self.config.max_tokens is not None:
            body["max_tokens"] = self.config.max_tokens
        if self.config.temperature is not None:
            body["temperature"] = self.config.temperature
        body.update(params)
        body["stream"] = stream
        if stream:
            body["stream_options"] = {"include_usage": True}
        return body

    def chat(
        self,
        messages: Sequence[Mapping[str, Any]],
        *,
        stream: bool = False,
        on_delta: Callable[[str], None] | None = None,
        cancel: threading.Event | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> ChatResult:
        """Complete ``messages``; with ``stream``, ``on_delta`` gets the reply piece by piece.

        Raises:
            Cancelled: ``cancel`` was set.
            ModelUnavailable: still 429/5xx/unreachable after ``max_retries`` retries.
            ModelError: the provider refused the request or its reply could not be read.
        """
        cancel = cancel or threading.Event()
        body = self.body(messages, stream=stream, params=params or {})
        t0 = time.perf_counter()
        deadline = time.monotonic() + self.config.timeout_s * (self.config.max_retries + 1)
        attempt = 0
        while True:
            attempt += 1
            if cancel.is_set():
                raise Cancelled(f"model {self.name!r}: cancelled")
            try:
                text, model, usage, finish, extra = self._attempt(body, stream, on_delta, cancel)
            except _Retry as retry:
                if attempt > self.config.max_retries:
                    raise ModelUnavailable(
                        f"model {self.name!r} at {self.config.base_url}: {retry.reason}"
                        f" (gave up after {attempt} attempts)"
                    ) from None
                delay = retry.delay
                if delay is None:
                    delay = BACKOFF_S * 2 ** (attempt - 1) * (1 + random.random() / 4)
                delay = min(delay, MAX_RETRY_AFTER, max(0.0, deadline - time.monotonic()))
                log.info("model %s: %s; retrying in %.2f s", self.name, retry.reason, delay)
                if cancel.wait(delay):
                    raise Cancelled(f"model {self.name!r}: cancelled") from None
                continue
            return ChatResult(
                text=text,
                model=model or self.config.model,
                usage=usage,
                cost=cost_of(self.config, usage),
                finish_reason=finish,
                duration_ms=(time.perf_counter() - t0) * 1000,
                attempts=attempt,
                extra=extra,
            )

    # --- one request ---------------------------------------------------------------------------

    def _attempt(
        self,
        body: dict[str, Any],
        stream: bool,
        on_delta: Callable[[str], None] | None,
        cancel: threading.Event,
    ) -> tuple[str, str | None, Usage | None, str | None, dict[str, Any]]:
        """One request on a worker thread, watched from here.

        A cancel returns at once, even while the provider has not answered (connecting, or
        before its headers). An attempt that brings nothing new for ``timeout_s`` — no headers,
        no reply piece; keep-alive comments do not count — is cut and retried. Once part of a
        streamed reply was handed to ``on_delta`` an attempt is not retried (the caller would
        see the start twice): it fails instead. The abandoned request ends by itself: its
        socket is cut once it answers, or it times out.
        """
        box: dict[str, Any] = {}
        done = threading.Event()
        cut = threading.Event()
        progress = [time.monotonic()]
        delivered = [0]

        def delta(piece: str) -> None:
            progress[0] = time.monotonic()
            if on_delta is not None and not cut.is_set():
                delivered[0] += len(piece)
                on_delta(piece)

        def work() -> None:
            try:
                box["value"] = self._request(body, stream, delta, cut)
            except BaseException as e:  # handed to the caller below
                box["error"] = e
            finally:
                done.set()

        threading.Thread(target=work, name="symphony-model-call", daemon=True).start()
        while not done.wait(0.05):
            if cancel.is_set():
                cut.set()
                raise Cancelled(f"model {self.name!r}: cancelled")
            idle = time.monotonic() - progress[0]
            if idle > self.config.timeout_s:
                cut.set()
                reason = f"nothing new for {self.config.timeout_s:g} s"
                if delivered[0]:
                    raise ModelError(f"model {self.name!r}: the reply stopped ({reason})")
                raise _Retry(reason)
        error = box.get("error")
        if error is not None:
            if isinstance(error, _Retry) and delivered[0]:
                raise ModelError(
                    f"model {self.name!r}: the reply broke off after {delivered[0]} characters"
                    f" ({error.reason})"
                )
            raise error
        value: tuple[str, str | None, Usage | None, str | None, dict[str, Any]] = box["value"]
        return value

    def _request(
        self,
        body: dict[str, Any],
        stream: bool,
        on_delta: Callable[[str], None] | None,
        cancel: threading.Event,
    ) -> tuple[str, str | None, Usage | None, str | None, dict[str, Any]]:
        try:
            request = self._http.stream("POST", self.url, json=body, headers=self._headers())
            with request as reply, _CutOnCancel(reply, cancel):
                if reply.status_code != 200:
                    self._refuse(reply)
                kind = reply.headers.get("content-type", "")
                if stream and kind.startswith("text/event-stream"):
                    read = self._read_stream(reply, on_delta, cancel)
                else:
                    read = self._read_json(reply, on_delta)
                if cancel.is_set():  # the cut socket may read as a clean end
                    raise Cancelled(f"model {self.name!r}: cancelled")
                return read
        except httpx.TimeoutException as e:
            if cancel.is_set():
                raise Cancelled(f"model {self.name!r}: cancelled") from None
            raise _Retry(
                f"no reply within {self.config.timeout_s:g} s ({type(e).__name__})"
            ) from None
        except (httpx.ConnectError, httpx.RemoteProtocolError, httpx.ReadError) as e:
            if cancel.is_set():
                raise Cancelled(f"model {self.name!r}: cancelled") from None
            raise _Retry(
                f"connection failed: {secrets.redact(str(e)) or type(e).__name__}"
            ) from None
        except httpx.HTTPError as e:
            if cancel.is_set():
                raise Cancelled(f"model {self.name!r}: cancelled") from None
            raise ModelError(f"model {self.name!r}: {secrets.redact(str(e))}") from None

    def _refuse(self, reply: httpx.Response) -> None:
        """A reply that is not 200: retry (429/5xx) or fail with the provider's message."""
        reply.read()
        status = reply.status_code
        message = _error_message(reply)
        if status in RETRY_STATUSES:
            raise _Retry(
                f"HTTP {status}: {message}", _retry_after(reply.headers.get("retry-after"))
            )
        hint = ""
        if status in (401, 403):
            hint = f" (check the key in {self.config.api_key_env or 'api_key_env'})"
        elif status == 404:
            hint = (
                f" (is {self.config.base_url} the API's base URL, and {self.config.model!r}"
                " a model it serves?)"
            )
        raise ModelError(f"model {self.name!r}: HTTP {status}: {message}{hint}", status=status)

    def _read_json(
        self, reply: httpx.Response, on_delta: Callable[[str], None] | None
    ) -> tuple[str, str | None, Usage | None, str | None, dict[str, Any]]:
        reply.read()
        try:
            data = reply.json()
            choice = data["choices"][0]
            text = choice["message"].get("content") or ""
        except (ValueError, KeyError, IndexError, TypeError, AttributeError) as e:
            raise ModelError(
                f"model {self.name!r}: not a chat-completion reply ({type(e).__name__}: {e})"
            ) from None
        if on_delta is not None and text:
            on_delta(text)
        return text, data.get("model"), _usage(data.get("usage")), choice.get("finish_reason"), {}

    def _read_stream(
        self,
        reply: httpx.Response,
        on_delta: Callable[[str], None] | None,
        cancel: threading.Event,
    ) -> tuple[str, str | None, Usage | None, str | None, dict[str, Any]]:
        parts: list[str] = []
        model: str | None = None
        usage: Usage | None = None
        finish: str | None = None
        ended = False
        for data in events(reply.iter_lines()):
            if cancel.is_set():
                raise Cancelled(f"model {self.name!r}: cancelled")
            if data == DONE:
                ended = True
                break
            try:
                chunk = json.loads(data)
            except ValueError:
                raise ModelError(
                    f"model {self.name!r}: unreadable stream event {secrets.redact(data[:80])!r}"
                ) from None
            if not isinstance(chunk, dict):
                continue
            if "error" in chunk:
                raise ModelError(f"model {self.name!r}: {secrets.redact(_message_of(chunk))}")
            model = chunk.get("model") or model
            usage = _usage(chunk.get("usage")) or usage
            for choice in chunk.get("choices") or ():
                delta = (choice.get("delta") or {}).get("content")
                if delta:
                    parts.append(delta)
                    if on_delta is not None:
                        on_delta(delta)
                finish = choice.get("finish_reason") or finish
        if not ended and finish is None and not cancel.is_set():
            raise _Retry("the stream ended before the reply was complete")
        return "".join(parts), model, usage, finish, {}


class _CutOnCancel:
    """While open, setting ``cancel`` shuts the reply's socket down, which ends a read that is
    waiting for a provider gone quiet."""

    def __init__(self, reply: httpx.Response, cancel: threading.Event) -> None:
        self._reply = reply
        self._cancel = cancel
        self._done = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> _CutOnCancel:
        stream = self._reply.extensions.get("network_stream")
        sock = stream.get_extra_info("socket") if stream is not None else None
        if isinstance(sock, socket.socket):
            self._thread = threading.Thread(
                target=self._watch, args=(sock,), name="symphony-model-cancel", daemon=True
            )
            self._thread.start()
        return self

    def _watch(self, sock: socket.socket) -> None:
        while not self._done.is_set():
            if self._cancel.wait(0.05):
                if not self._done.is_set():
                    with contextlib.suppress(OSError):
                        sock.shutdown(socket.SHUT_RDWR)
                return

    def __exit__(self, *exc: object) -> None:
        self._done.set()


def _usage(data: Any) -> Usage | None:
    if not isinstance(data, dict):
        return None
    prompt, completion = data.get("prompt_tokens"), data.get("completion_tokens")
    if not isinstance(prompt, int) or not isinstance(completion, int):
        return None
    return Usage(prompt, completion)


def _message_of(data: Any) -> str:
    error = data.get("error") if isinstance(data, dict) else None
    if isinstance(error, dict):
        return str(error.get("message") or error)
    return str(error or data)


def _error_message(reply: httpx.Response) -> str:
    try:
        text = _message_of(reply.json())
    except ValueError:
        text = reply.text.strip() or reply.reason_phrase
    return secrets.redact(text)[:500]


def _retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (seconds or an HTTP date)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())
