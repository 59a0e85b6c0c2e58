"""The engine's side of the context API for extensions in their own process.

Each request from an extension host names the call it belongs to (0: the activation context);
:class:`Capabilities` finds that call's :class:`~engine.extensions.context.LocalContext` — the
same permission guard, audit and scratch rules as for in-process extensions — and does the
work. Files and artifacts are read back as streams (they may exceed one frame). A model call
(``ctx.models.chat``) is made here, so the API key never reaches the host; with
``stream``, its pieces travel as ``ctx.models.delta`` events ahead of the reply.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import threading
from typing import TYPE_CHECKING, Any

from engine.extensions.host.wire import failure, success
from engine.instruments.secrets import extension_logger
from engine.types.errors import ExtensionError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping
    from pathlib import Path

    from engine.extensions.context import LocalContext, LocalStepContext
    from engine.ipc import Peer, Server

__all__ = ["Capabilities"]

#: Bytes per chunk when streaming a file or an artifact to the host.
CHUNK = 256 * 1024
#: Larger reads are fetched as a stream (``ctx.blob``) after the checked call answered.
INLINE = 1024 * 1024


class Capabilities:
    """Serve ``ctx.*`` requests of one extension's host from the contexts of its calls."""

    def __init__(self, extension_id: str) -> None:
        self.extension_id = extension_id
        self.log = extension_logger(extension_id)
        self._lock = threading.Lock()
        self._contexts: dict[int, LocalContext] = {}
        self._blobs: dict[int, bytes] = {}
        #: Where step scratch folders go: a folder the host can reach (its sandbox binds it).
        self.scratch_root: Path | None = None
        self._blob_ids = itertools.count(1)

    # --- the calls in flight -----------------------------------------------------------------

    def open(self, call: int, context: LocalContext) -> None:
        """Serve requests for ``call`` from ``context`` until :meth:`close`."""
        with self._lock:
            self._contexts[call] = context

    def close(self, call: int) -> None:
        with self._lock:
            self._contexts.pop(call, None)

    def _context(self, params: Mapping[str, Any]) -> LocalContext:
        call = params.get("call")
        with self._lock:
            context = self._contexts.get(call) if isinstance(call, int) else None
        if context is None:
            raise ExtensionError(f"call {call!r} of {self.extension_id} is over or unknown")
        return context

    def _step(self, params: Mapping[str, Any]) -> LocalStepContext:
        from engine.extensions.context import LocalStepContext

        context = self._context(params)
        if not isinstance(context, LocalStepContext):
            raise ExtensionError("only a step call has a scratch folder or progress")
        return context

    # --- serving ------------------------------------------------------------------------------

    def register(self, server: Server) -> None:
        """Install the ``ctx.*`` handlers on the extension's server."""
        plain: dict[str, Callable[[Peer, Mapping[str, Any]], Any]] = {
            "ctx.fs.write": lambda p, a: self._context(a).fs.write_bytes(
                a["path"], a["data"], make_dirs=bool(a.get("make_dirs", True))
            ),
            "ctx.fs.delete": lambda p, a: self._context(a).fs.delete(a["path"]),
            "ctx.fs.exists": lambda p, a: self._context(a).fs.exists(a["path"]),
            "ctx.fs.glob": lambda p, a: self._context(a).fs.glob(
                a["pattern"], include_ignored=bool(a.get("include_ignored"))
            ),
            "ctx.fs.path": lambda p, a: str(
                self._context(a).fs.path(a["path"], write=bool(a.get("write")))
            ),
            "ctx.run": self._run,
            "ctx.which": lambda p, a: self._context(a).which(a["program"]),
            "ctx.getenv": lambda p, a: self._context(a).getenv(a["name"], a.get("default")),
            "ctx.check_network": lambda p, a: self._context(a).check_network(a["host"]),
            "ctx.check_model": lambda p, a: self._context(a).check_model(a["name"]),
            "ctx.artifacts.put_bytes": lambda p, a: _ref(
                self._context(a).artifacts.put_bytes(
                    a["data"],
                    name=a.get("name"),
                    media_type=a.get("media_type"),
                    tags=a.get("tags") or (),
                    inputs=a.get("inputs") or (),
                )
            ),
            "ctx.artifacts.put_file": lambda p, a: _ref(
                self._context(a).artifacts.put_file(
                    a["path"],
                    name=a.get("name"),
                    media_type=a.get("media_type"),
                    tags=a.get("tags") or (),
                    inputs=a.get("inputs") or (),
                )
            ),
            "ctx.models.names": lambda p, a: self._context(a).models.names(),
            "ctx.models.chat": self._chat,
            "ctx.artifacts.find": lambda p, a: [
                _ref(ref)
                for ref in self._context(a).artifacts.find(
                    tags=a.get("tags") or (),
                    producer=a.get("producer"),
                    limit=int(a.get("limit", 20)),
                )
            ],
            "ctx.scratch": lambda p, a: str(self._step(a).scratch_in(self.scratch_root)),
        }
        for method, fn in plain.items():
            server.handle(method, _answering(fn))
        server.handle(
            "ctx.fs.read",
            _answering(lambda p, a: self._bytes(self._context(a).fs.read_bytes(a["path"]))),
        )
        server.handle(
            "ctx.artifacts.get_bytes",
            _answering(lambda p, a: self._bytes(self._context(a).artifacts.get_bytes(a["ref"]))),
        )
        server.handle_stream("ctx.blob", self._blob)
        server.on_event("ctx.progress", self._progress)
        server.on_event("ctx.log", self._log)

    def _bytes(self, data: bytes) -> bytes | dict[str, int]:
        """Small data as it is; large data kept for one ``ctx.blob`` stream, by number."""
        if len(data) <= INLINE:
            return data
        blob = next(self._blob_ids)
        with self._lock:
            self._blobs[blob] = data
        return {"blob": blob, "size": len(data)}

    def _blob(self, _peer: Peer, params: Any) -> Iterator[bytes]:
        blob = params.get("blob") if isinstance(params, dict) else None
        with self._lock:
            data = self._blobs.pop(blob, None) if isinstance(blob, int) else None
        if data is None:
            raise ExtensionError(f"no data waiting under number {blob!r}")
        return _chunks(data)

    def _run(self, peer: Peer, params: Mapping[str, Any]) -> dict[str, Any]:
        context = self._context(params)
        run = params.get("run") or 0
        on_output = None
        if run:

            def on_output(stream: str, text: str) -> None:
                peer.notify("ctx.run.output", {"run": run, "stream": stream, "text": text})

        result = context.run(
            list(params["argv"]),
            cwd=params.get("cwd"),
            env=params.get("env"),
            input=params.get("input"),
            timeout=params.get("timeout"),
            on_output=on_output,
        )
        found = dataclasses.asdict(result)
        found["argv"] = list(result.argv)
        return found

    def _chat(self, peer: Peer, params: Mapping[str, Any]) -> dict[str, Any]:
        """``ctx.models.chat``: the engine makes the call (the key never leaves it); streamed
        pieces go back as ``ctx.models.delta`` events before the reply."""
        context = self._context(params)
        delta = params.get("delta") or 0
        on_delta = None
        if delta:

            def on_delta(text: str) -> None:
                peer.notify("ctx.models.delta", {"run": delta, "stream": "delta", "text": text})

        model = params.get("model")
        reply = context.models.chat(
            params["messages"],
            model=str(model) if model is not None else None,
            params=params.get("params"),
            stream=bool(params.get("stream")),
            on_delta=on_delta,
        )
        found = dataclasses.asdict(reply)
        found["usage"] = dataclasses.asdict(reply.usage) if reply.usage is not None else None
        return found

    def _progress(self, _peer: Peer, _topic: str, data: Any) -> None:
        if not isinstance(data, dict):
            return
        try:
            step = self._step(data)
        except ExtensionError:
            return  # the call ended meanwhile
        fraction = data.get("fraction")
        step.progress(
            float(fraction) if isinstance(fraction, int | float) else None,
            str(data.get("message", "")),
        )

    def _log(self, _peer: Peer, _topic: str, data: Any) -> None:
        if isinstance(data, dict):
            level = data.get("level")
            self.log.log(
                level if isinstance(level, int) else logging.INFO, "%s", data.get("message")
            )


def _answering(
    fn: Callable[[Peer, Mapping[str, Any]], Any],
) -> Callable[[Peer, Any], dict[str, Any]]:
    """Wrap a handler so its result or Symphony error travels in the wire form."""

    def serve(peer: Peer, params: Any) -> dict[str, Any]:
        try:
            return success(fn(peer, params if isinstance(params, dict) else {}))
        except (KeyError, TypeError) as e:
            return failure(ExtensionError(f"malformed request from the extension: {e!r}"))
        except Exception as e:
            return failure(e)

    return serve


def _chunks(data: bytes) -> Iterator[bytes]:
    view = memoryview(data)
    for start in range(0, len(view), CHUNK):
        yield bytes(view[start : start + CHUNK])


def _ref(ref: Any) -> dict[str, Any]:
    return dataclasses.asdict(ref)
