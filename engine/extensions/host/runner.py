"""The extension host process: one extension, served to the engine over the IPC bus.

Started by the engine as ``python -m engine.extensions.host`` with the bus address and secret in
``SYMPHONY_IPC_*`` and what to load in ``SYMPHONY_HOST_SPEC`` (JSON: id, entry, import root,
workspace). It connects, then answers:

- ``host.load`` — import the entry, create the instance, return its step types;
- ``host.activate`` — ``activate(ctx)`` with a :class:`RemoteContext` and the settings given;
- ``host.step`` — run one ``@step`` method with a :class:`RemoteStepContext`;
- ``host.deactivate`` — ``deactivate()``;
- ``host.motif.render`` — a motif's ``render(panel)``, the tree validated and encoded with
  :mod:`symphony_sdk.vdom.codec`; ``host.motif.event`` — its ``on_event(panel, event)``; a
  motif's ``refresh(panel)`` goes to the engine as the event ``motif.refresh``;
- events ``host.cancel`` (a call's cancel event), ``ctx.run.output`` (a running program's
  output for its ``on_output`` callback) and ``ctx.models.delta`` (a streamed model reply's
  pieces for its ``on_delta`` callback).

Every reply is a :func:`~engine.extensions.host.wire.success` or
:func:`~engine.extensions.host.wire.failure` value. The process ends when the engine closes the
connection (or dies: the bus's heartbeats notice).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.extensions.host.remote import OutputRouter, RemoteContext, RemoteStepContext
from engine.extensions.host.wire import failure, success
from engine.extensions.loading import load_extension
from engine.ipc import ENV_ADDRESS, ENV_SECRET, ENV_SECRET_FILE, Client, Settings
from engine.types.errors import ExtensionError
from symphony_sdk.base import Motif

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from engine.ipc import Peer
    from symphony_sdk.base import Extension

__all__ = ["HOST_SETTINGS", "SPEC_VARIABLE", "Host", "main"]

#: The bus settings of a host's server: an extension looping over small files makes
#: sequential requests at round-trip speed (tens of thousands a second), which the default
#: limit (2000/s, meant for floods) would refuse; a flood of events is still throttled.
HOST_SETTINGS = Settings(rate_limit_per_s=50_000.0, rate_burst=5_000)

#: The environment variable holding what the host loads (JSON).
SPEC_VARIABLE = "SYMPHONY_HOST_SPEC"


class _LogForwarder(logging.Handler):
    """Sends the extension's log records to the engine's log."""

    def __init__(self, client: Client) -> None:
        super().__init__(logging.DEBUG)
        self._client = client

    def filter(self, record: logging.LogRecord) -> bool:
        # The host's own machinery (the bus going away at shutdown…) is not the extension's
        # log; it stays on stderr, which the engine keeps for crash reports.
        return not record.name.startswith("engine.")

    def emit(self, record: logging.LogRecord) -> None:
        with contextlib.suppress(Exception):  # the bus is gone: nothing to tell
            self._client.notify(
                "ctx.log", {"level": record.levelno, "message": self.format(record)}
            )


class Host:
    """The one extension this process serves."""

    def __init__(self, client: Client, spec: Mapping[str, Any]) -> None:
        self.client = client
        self.spec = spec
        self.outputs = OutputRouter()
        self.instance: Extension | None = None
        self.handlers: dict[str, Any] = {}
        self.context: RemoteContext | None = None
        self._cancels: dict[int, threading.Event] = {}
        self._lock = threading.Lock()
        self._motif_lock = threading.Lock()  # render and on_event never run at once

    def register(self) -> None:
        client = self.client
        client.handle("host.load", self._guarded(self.load))
        client.handle("host.activate", self._guarded(self.activate))
        client.handle("host.step", self._guarded(self.step))
        client.handle("host.deactivate", self._guarded(self.deactivate))
        client.handle("host.motif.render", self._guarded(self.motif_render))
        client.handle("host.motif.event", self._guarded(self.motif_event))
        client.on_event("host.cancel", self._cancel)
        client.on_event("ctx.run.output", lambda _peer, _topic, data: self.outputs.deliver(data))
        client.on_event("ctx.models.delta", lambda _peer, _topic, data: self.outputs.deliver(data))

    @staticmethod
    def _guarded(fn: Callable[[Any], Any]) -> Callable[[Peer, Any], Any]:
        def serve(_peer: Peer, params: Any) -> Any:
            try:
                return success(fn(params if isinstance(params, dict) else {}))
            except BaseException as e:  # SystemExit too: report it, keep serving
                return failure(e, with_traceback=not isinstance(e, ExtensionError))

        return serve

    def load(self, _params: Mapping[str, Any]) -> list[str]:
        from symphony_sdk.base import step_handlers

        spec = self.spec
        root = spec.get("import_root")
        self.instance = load_extension(spec["entry"], Path(root) if root else None, spec["type"])
        self.handlers = dict(step_handlers(self.instance))
        if isinstance(self.instance, Motif):
            client = self.client
            self.instance.bind_refresh(
                lambda panel: client.notify("motif.refresh", {"panel": panel})
            )
        return sorted(self.handlers)

    def _motif(self) -> Motif:
        if not isinstance(self.instance, Motif) or self.context is None:
            raise ExtensionError("this extension is not an active motif")
        return self.instance

    def motif_render(self, params: Mapping[str, Any]) -> bytes:
        from symphony_sdk.vdom import Element, encode, validate

        panel = str(params["panel"])
        with self._motif_lock:
            tree = self._motif().render(panel)
        if not isinstance(tree, Element):
            raise ExtensionError(
                f"render({panel!r}) returned {type(tree).__name__}, not an Element"
            )
        return encode(validate(tree))

    def motif_event(self, params: Mapping[str, Any]) -> None:
        from symphony_sdk.vdom import decode_event

        event = decode_event(bytes(params["event"]))
        with self._motif_lock:
            self._motif().on_event(str(params["panel"]), event)

    def activate(self, params: Mapping[str, Any]) -> None:
        if self.instance is None:
            raise ExtensionError("the extension is not loaded")
        self.context = RemoteContext(
            self.client,
            self.outputs,
            extension_id=self.spec["id"],
            workspace=Path(self.spec["workspace"]),
            settings=params.get("settings") or {},
        )
        self.instance.activate(self.context)

    def step(self, params: Mapping[str, Any]) -> Any:
        call, step_type = int(params["call"]), str(params["step_type"])
        handler = self.handlers.get(step_type)
        if handler is None or self.context is None:
            raise ExtensionError(f"step type {step_type!r} is not served by this extension")
        cancel = threading.Event()
        with self._lock:
            self._cancels[call] = cancel
        try:
            ctx = RemoteStepContext(self.context, call=call, step_type=step_type, cancel=cancel)
            return dict(handler(ctx, params.get("inputs") or {}))
        finally:
            with self._lock:
                self._cancels.pop(call, None)

    def deactivate(self, _params: Mapping[str, Any]) -> None:
        if self.instance is not None:
            self.instance.deactivate()

    def _cancel(self, _peer: Peer, _topic: str, data: Any) -> None:
        call = data.get("call") if isinstance(data, dict) else None
        with self._lock:
            event = self._cancels.get(call) if isinstance(call, int) else None
        if event is not None:
            event.set()


def main() -> int:
    """Serve the extension named by ``SYMPHONY_HOST_SPEC`` until the engine disconnects."""
    spec = json.loads(os.environ.pop(SPEC_VARIABLE))
    done = threading.Event()
    client = Client.from_env(
        name=spec["id"], settings=HOST_SETTINGS, on_disconnect=lambda *_: done.set()
    )
    for variable in (ENV_ADDRESS, ENV_SECRET, ENV_SECRET_FILE):
        os.environ.pop(variable, None)  # nothing the extension's own children need
    stderr = logging.StreamHandler()
    stderr.addFilter(lambda record: record.name.startswith("engine."))
    logging.basicConfig(level=logging.INFO, handlers=[_LogForwarder(client), stderr], force=True)
    host = Host(client, spec)
    host.register()
    with client.connect():
        done.wait()
    return 0
