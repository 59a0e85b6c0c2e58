"""The extension's side of the bus: contexts whose every capability is a call to the engine.

Inside an extension host process the extension gets a :class:`RemoteContext` (for ``activate``)
and a :class:`RemoteStepContext` per step call. They implement the SDK's context API by asking
the engine, which checks each request against the manifest's permissions with the same guard as
for in-process extensions, audits it, and does the work (reads the file, runs the program,
stores the artifact). The extension never needs direct access to the workspace — and in a
sandbox it has none.
"""

from __future__ import annotations

import itertools
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.extensions.host.wire import from_remote, unwrap
from engine.instruments.secrets import extension_logger
from engine.types.errors import IpcRemoteError
from symphony_sdk.context import (
    ArtifactRef,
    Artifacts,
    ChatReply,
    ExtensionContext,
    Files,
    Models,
    ProcessResult,
    StepContext,
    TokenUsage,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    from engine.ipc import Client

__all__ = ["OutputRouter", "RemoteContext", "RemoteModels", "RemoteStepContext"]

#: The call number of the activation context (step calls count from 1).
ACTIVATION = 0
#: How long a model call may take over the bus: the engine bounds it (the model's timeout and
#: retries, the step's cancellation), so this only guards against an engine that went away.
MODEL_CALL_TIMEOUT_S = 24 * 3600.0


class _Link:
    """One context's way to the engine: the client and the call number requests are for."""

    def __init__(self, client: Client, call: int) -> None:
        self.client = client
        self.call = call

    def ask(self, method: str, **params: Any) -> Any:
        return unwrap(self.client.call(method, {"call": self.call, **params}))

    def ask_within(self, wait: float, method: str, **params: Any) -> Any:
        """:meth:`ask` waiting up to ``wait`` seconds for the reply (not the bus default)."""
        return unwrap(self.client.call(method, {"call": self.call, **params}, timeout=wait))

    def read(self, method: str, **params: Any) -> bytes:
        """A bytes result: in the reply when small, else streamed (it may exceed a frame)."""
        found = self.ask(method, **params)
        if isinstance(found, bytes):
            return found
        try:
            with self.client.stream("ctx.blob", {"blob": found["blob"]}) as reader:
                return reader.read_all()
        except IpcRemoteError as e:
            raise from_remote(e) from None


class OutputRouter:
    """Delivers ``ctx.run.output`` events to the ``on_output`` callback of the run they are for."""

    def __init__(self) -> None:
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._callbacks: dict[int, Callable[[str, str], None]] = {}

    def open(self, callback: Callable[[str, str], None]) -> int:
        run = next(self._ids)
        with self._lock:
            self._callbacks[run] = callback
        return run

    def close(self, run: int) -> None:
        with self._lock:
            self._callbacks.pop(run, None)

    def deliver(self, data: Any) -> None:
        if not isinstance(data, dict):
            return
        with self._lock:
            callback = self._callbacks.get(data.get("run", -1))
        if callback is not None:
            callback(str(data.get("stream", "stdout")), str(data.get("text", "")))


class RemoteFiles(Files):
    """Workspace files through the engine (``fs.read`` / ``fs.write`` checked there)."""

    def __init__(self, link: _Link) -> None:
        self._link = link

    def read_bytes(self, path: str) -> bytes:
        return self._link.read("ctx.fs.read", path=path)

    def write_bytes(self, path: str, data: bytes, *, make_dirs: bool = True) -> None:
        self._link.ask("ctx.fs.write", path=path, data=bytes(data), make_dirs=make_dirs)

    def delete(self, path: str) -> None:
        self._link.ask("ctx.fs.delete", path=path)

    def exists(self, path: str) -> bool:
        return bool(self._link.ask("ctx.fs.exists", path=path))

    def glob(self, pattern: str, *, include_ignored: bool = False) -> list[str]:
        return list(self._link.ask("ctx.fs.glob", pattern=pattern, include_ignored=include_ignored))

    def path(self, path: str, *, write: bool = False) -> Path:
        return Path(self._link.ask("ctx.fs.path", path=path, write=write))


class RemoteArtifacts(Artifacts):
    """The artifact store through the engine."""

    def __init__(self, link: _Link) -> None:
        self._link = link

    def put_bytes(
        self,
        data: bytes,
        *,
        name: str | None = None,
        media_type: str | None = None,
        tags: Sequence[str] = (),
        inputs: Sequence[str] = (),
    ) -> ArtifactRef:
        return self._put(
            "ctx.artifacts.put_bytes", name, media_type, tags, inputs, data=bytes(data)
        )

    def put_file(
        self,
        path: str,
        *,
        name: str | None = None,
        media_type: str | None = None,
        tags: Sequence[str] = (),
        inputs: Sequence[str] = (),
    ) -> ArtifactRef:
        return self._put("ctx.artifacts.put_file", name, media_type, tags, inputs, path=path)

    def _put(
        self,
        topic: str,
        name: str | None,
        media_type: str | None,
        tags: Sequence[str],
        inputs: Sequence[str],
        **source: Any,
    ) -> ArtifactRef:
        found = self._link.ask(
            topic, name=name, media_type=media_type, tags=list(tags), inputs=list(inputs), **source
        )
        return ArtifactRef(**found)

    def get_bytes(self, ref: str) -> bytes:
        return self._link.read("ctx.artifacts.get_bytes", ref=ref)

    def find(
        self, *, tags: Sequence[str] = (), producer: str | None = None, limit: int = 20
    ) -> list[ArtifactRef]:
        found = self._link.ask(
            "ctx.artifacts.find", tags=list(tags), producer=producer, limit=limit
        )
        return [ArtifactRef(**{**item, "tags": tuple(item.get("tags") or ())}) for item in found]


class RemoteModels(Models):
    """The configured models: the engine checks the permission, makes the call (holding the
    API key) and stops it when the step is cancelled; streamed pieces come back as events."""

    def __init__(self, link: _Link, outputs: OutputRouter) -> None:
        self._link = link
        self._outputs = outputs

    def names(self) -> list[str]:
        return [str(n) for n in self._link.ask("ctx.models.names")]

    def chat(
        self,
        messages: Sequence[Mapping[str, Any]],
        *,
        model: str | None = None,
        params: Mapping[str, Any] | None = None,
        stream: bool = False,
        on_delta: Callable[[str], None] | None = None,
    ) -> ChatReply:
        delta = self._outputs.open(lambda _s, text: on_delta(text)) if on_delta else 0
        try:
            found = self._link.ask_within(
                MODEL_CALL_TIMEOUT_S,
                "ctx.models.chat",
                messages=[dict(m) for m in messages],
                model=model,
                params=dict(params) if params is not None else None,
                stream=stream,
                delta=delta,
            )
        finally:
            if delta:
                self._outputs.close(delta)
        usage = found.get("usage")
        return ChatReply(
            text=str(found["text"]),
            model=str(found["model"]),
            usage=TokenUsage(**usage) if isinstance(usage, dict) else None,
            cost=found.get("cost"),
            provider_model=str(found.get("provider_model", "")),
            finish_reason=found.get("finish_reason"),
            duration_ms=float(found.get("duration_ms", 0.0)),
        )


class RemoteContext(ExtensionContext):
    """An extension's context for its activation, served by the engine over the bus."""

    def __init__(
        self,
        client: Client,
        outputs: OutputRouter,
        *,
        extension_id: str,
        workspace: Path,
        settings: Mapping[str, Any],
        call: int = ACTIVATION,
    ) -> None:
        self._link = _Link(client, call)
        self._outputs = outputs
        self.extension_id = extension_id
        self.workspace = workspace
        self.settings = dict(settings)
        self.log = extension_logger(extension_id)
        self.fs = RemoteFiles(self._link)
        self.artifacts = RemoteArtifacts(self._link)
        self.models = RemoteModels(self._link, outputs)

    def run(
        self,
        argv: Sequence[str],
        *,
        cwd: str | None = None,
        env: Mapping[str, str] | None = None,
        input: bytes | None = None,
        timeout: float | None = None,
        on_output: Callable[[str, str], None] | None = None,
    ) -> ProcessResult:
        run = self._outputs.open(on_output) if on_output is not None else 0
        try:
            found = self._link.ask(
                "ctx.run",
                argv=list(argv),
                cwd=cwd,
                env=dict(env) if env is not None else None,
                input=input,
                timeout=timeout,
                run=run,
            )
        finally:
            if run:
                self._outputs.close(run)
        found["argv"] = tuple(found["argv"])
        return ProcessResult(**found)

    def which(self, program: str) -> str | None:
        found = self._link.ask("ctx.which", program=program)
        return str(found) if found is not None else None

    def getenv(self, name: str, default: str | None = None) -> str | None:
        found = self._link.ask("ctx.getenv", name=name, default=default)
        return str(found) if found is not None else None

    def check_network(self, host: str) -> None:
        self._link.ask("ctx.check_network", host=host)

    def check_model(self, name: str) -> None:
        self._link.ask("ctx.check_model", name=name)


class RemoteStepContext(RemoteContext, StepContext):
    """One step call's context: the engine keeps its scratch folder, cancellation and progress."""

    def __init__(
        self,
        base: RemoteContext,
        *,
        call: int,
        step_type: str,
        cancel: threading.Event,
    ) -> None:
        RemoteContext.__init__(
            self,
            base._link.client,
            base._outputs,
            extension_id=base.extension_id,
            workspace=base.workspace,
            settings=base.settings,
            call=call,
        )
        self.step_type = step_type
        self.cancel_event = cancel
        self._scratch: Path | None = None

    @property
    def scratch(self) -> Path:
        if self._scratch is None:
            self._scratch = Path(self._link.ask("ctx.scratch"))
        return self._scratch

    def progress(self, fraction: float | None, message: str = "") -> None:
        if fraction is not None:
            fraction = min(1.0, max(0.0, fraction))
        self._link.client.notify(
            "ctx.progress", {"call": self._link.call, "fraction": fraction, "message": message}
        )
