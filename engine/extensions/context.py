"""The in-process implementation of the SDK's context API.

Each call asks the extension's :class:`~engine.extensions.permissions.PermissionGuard` first
(which audits the decision), then does the work. Artifacts are reached through a callable that
opens the workspace's store on first use, so an extension that never stores anything never
creates ``.symphony/``; an out-of-process host implements the same API over the IPC bus.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.extensions.process import BASE_ENV, run_process
from engine.files.atomic import write_atomic
from engine.files.ignore import IgnoreRules
from engine.instruments.secrets import extension_logger
from symphony_sdk.context import (
    ArtifactRef,
    Artifacts,
    ChatReply,
    ExtensionContext,
    Files,
    Models,
    ProcessResult,
    StepContext,
)

if TYPE_CHECKING:
    import threading
    from collections.abc import Callable, Mapping, Sequence

    from engine.extensions.permissions import PermissionGuard
    from engine.instruments.models import Models as ModelRegistry
    from engine.pit.artifacts.store import ArtifactStore

__all__ = ["LocalArtifacts", "LocalContext", "LocalFiles", "LocalModels", "LocalStepContext"]

_SKIP_DIRS = {".git"}
_STATE_DIRS = {".symphony"}  # Symphony's own state: left out unless include_ignored


class LocalFiles(Files):
    """Files of the workspace, checked by ``guard``."""

    def __init__(self, guard: PermissionGuard) -> None:
        self._guard = guard

    def read_bytes(self, path: str) -> bytes:
        return self._guard.path("fs.read", path).read_bytes()

    def write_bytes(self, path: str, data: bytes, *, make_dirs: bool = True) -> None:
        write_atomic(self._guard.path("fs.write", path), data, make_dirs=make_dirs)

    def delete(self, path: str) -> None:
        self._guard.path("fs.write", path).unlink()

    def exists(self, path: str) -> bool:
        return self._guard.path("fs.read", path).exists()

    def path(self, path: str, *, write: bool = False) -> Path:
        return self._guard.path("fs.write" if write else "fs.read", path)

    def glob(self, pattern: str, *, include_ignored: bool = False) -> list[str]:
        from engine.files.globs import compile_globs

        root = self._guard.workspace
        self._guard.record("fs.glob", pattern)
        spec = compile_globs([pattern])
        rules = None if include_ignored else IgnoreRules(root, exclude=_STATE_DIRS)
        found: list[str] = []
        for folder, dirs, files in os.walk(root):
            base = Path(folder)
            dirs[:] = sorted(
                d
                for d in dirs
                if d not in _SKIP_DIRS and (rules is None or not rules.ignored(base / d))
            )
            for name in files:
                full = base / name
                rel = full.relative_to(root).as_posix()
                if spec is None or not spec.match_file(rel):
                    continue
                if rules is not None and rules.ignored(full):
                    continue
                if self._guard.can("fs.read", rel) and self._inside(full):
                    found.append(rel)
        return sorted(found)

    def _inside(self, path: Path) -> bool:
        """A symlink is listed only if its target is inside the workspace and readable too."""
        if not path.is_symlink():
            return True
        target = Path(os.path.realpath(path))
        root = self._guard.workspace
        return target.is_relative_to(root) and self._guard.can(
            "fs.read", target.relative_to(root).as_posix()
        )


class LocalArtifacts(Artifacts):
    """The workspace's artifact store, opened on first use."""

    def __init__(
        self, guard: PermissionGuard, store: Callable[[], ArtifactStore], producer: str
    ) -> None:
        self._guard = guard
        self._store = store
        self._producer_name = producer

    def _producer(self) -> Any:
        from engine.pit.artifacts.models import Producer

        return Producer(extension=self._producer_name)

    def put_bytes(
        self,
        data: bytes,
        *,
        name: str | None = None,
        media_type: str | None = None,
        tags: Sequence[str] = (),
        inputs: Sequence[str] = (),
    ) -> ArtifactRef:
        self._guard.record("artifacts.put", name or f"{len(data)} bytes")
        info = self._store().put_bytes(
            data,
            name=name,
            media_type=media_type,
            tags=tags,
            producer=self._producer(),
            inputs=inputs,
        )
        return _ref(info, name)

    def put_file(
        self,
        path: str,
        *,
        name: str | None = None,
        media_type: str | None = None,
        tags: Sequence[str] = (),
        inputs: Sequence[str] = (),
    ) -> ArtifactRef:
        full = self._guard.path("fs.read", path)
        self._guard.record("artifacts.put", name or path)
        info = self._store().put_file(
            full,
            name=name,
            media_type=media_type,
            tags=tags,
            producer=self._producer(),
            inputs=inputs,
        )
        return _ref(info, name)

    def get_bytes(self, ref: str) -> bytes:
        self._guard.record("artifacts.get", ref)
        return self._store().get_bytes(ref)

    def find(
        self, *, tags: Sequence[str] = (), producer: str | None = None, limit: int = 20
    ) -> list[ArtifactRef]:
        if not 1 <= limit <= 1000:
            raise ValueError(f"limit must be between 1 and 1000, got {limit}")
        self._guard.record("artifacts.find", f"tags={list(tags)} producer={producer}")
        hits = self._store().search("", tags=tags, producer=producer, limit=limit)
        return [
            ArtifactRef(
                hash=hit.hash,
                name=hit.names[0] if hit.names else None,
                size=hit.size,
                media_type=hit.media_type,
                created_at=hit.created_at,
                tags=tuple(hit.tags),
            )
            for hit in hits
        ]


class LocalModels(Models):
    """The configured models, called by the engine (see :mod:`engine.instruments.access`).

    Args:
        guard: checks the ``models`` permission and audits each call.
        registry: the engine's models (None: none configured, e.g. a bare test manager).
        cancel: returns the cancel event of the step in progress (None outside a step).
    """

    def __init__(
        self,
        guard: PermissionGuard,
        registry: ModelRegistry | None,
        cancel: Callable[[], threading.Event | None],
    ) -> None:
        self._guard = guard
        self._registry = registry
        self._cancel = cancel

    def names(self) -> list[str]:
        if self._registry is None:
            return []
        return [n for n in self._registry.names() if self._guard.may_call_model(n)]

    def chat(
        self,
        messages: Sequence[Mapping[str, Any]],
        *,
        model: str | None = None,
        params: Mapping[str, Any] | None = None,
        stream: bool = False,
        on_delta: Callable[[str], None] | None = None,
    ) -> ChatReply:
        from engine.instruments import access

        return access.chat(
            self._registry,
            self._guard,
            messages,
            model=model,
            params=params,
            stream=stream,
            on_delta=on_delta,
            cancel=self._cancel(),
        )


def _ref(info: Any, name: str | None) -> ArtifactRef:
    return ArtifactRef(hash=info.hash, name=name, size=info.size, media_type=info.media_type)


class LocalContext(ExtensionContext):
    """An extension's context for its activation (in this process)."""

    def __init__(
        self,
        guard: PermissionGuard,
        *,
        version: str,
        store: Callable[[], ArtifactStore],
        settings: Mapping[str, Any] | None = None,
        environ: Mapping[str, str] | None = None,
        models: ModelRegistry | None = None,
    ) -> None:
        self.extension_id = guard.extension
        self.version = version
        self.workspace = guard.workspace
        self.log = extension_logger(guard.extension)
        self.settings = dict(settings or {})
        self.fs = LocalFiles(guard)
        self.artifacts = LocalArtifacts(guard, store, f"{guard.extension}@{version}")
        self._guard = guard
        self._store = store
        self._environ = environ if environ is not None else os.environ
        self._cancel: threading.Event | None = None
        self._models = models
        self.models = LocalModels(guard, models, lambda: self._cancel)

    def child_env(self, extra: Mapping[str, str] | None) -> dict[str, str]:
        """The environment of a process the extension starts (see :meth:`run`)."""
        env = {k: v for k, v in self._environ.items() if k in BASE_ENV or k.startswith("LC_")}
        env.update({k: v for k, v in self._environ.items() if self._guard.may_read_env(k)})
        if extra:
            env.update(extra)
        return env

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
        child_env = self.child_env(env)
        base_path = self.child_env(None).get("PATH", "")
        program = self._guard.process(argv, path=base_path, env=env)
        folder = self._guard.path("fs.read", cwd) if cwd is not None else self.workspace
        return run_process(
            [program, *argv[1:]],
            cwd=folder,
            env=child_env,
            input=input,
            timeout=timeout,
            cancel=self._cancel,
            on_output=on_output,
        )

    def which(self, program: str) -> str | None:
        import shutil

        path = self.child_env(None).get("PATH", "")
        if shutil.which(program, path=path) is None:
            return None
        return self._guard.process([program], path=path)

    def getenv(self, name: str, default: str | None = None) -> str | None:
        self._guard.env(name)
        return self._environ.get(name, default)

    def check_network(self, host: str) -> None:
        self._guard.network(host)

    def check_model(self, name: str) -> None:
        self._guard.model(name)


class LocalStepContext(LocalContext, StepContext):
    """The context of one step call: adds scratch folder, progress and cancellation.

    The scratch folder is created on first use (most steps never need one) and removed by
    :meth:`cleanup` after the call.
    """

    def __init__(
        self,
        base: LocalContext,
        *,
        step_type: str,
        cancel: threading.Event,
        progress: Callable[[float | None, str], None] | None = None,
    ) -> None:
        LocalContext.__init__(
            self,
            base._guard,
            version=base.version,
            store=base._store,
            settings=base.settings,
            environ=base._environ,
            models=base._models,
        )
        self.step_type = step_type
        self._scratch: Path | None = None
        self.cancel_event = cancel
        self._cancel = cancel
        self._progress = progress

    @property
    def scratch(self) -> Path:
        return self.scratch_in(None)

    def scratch_in(self, root: Path | None) -> Path:
        """The scratch folder, created under ``root`` (default: the temporary folder) on first
        use — a host process's sandbox reaches only its own folder."""
        if self._scratch is None:
            import tempfile

            prefix = f"symphony-{self.extension_id}-"
            self._scratch = Path(tempfile.mkdtemp(prefix=prefix, dir=root))
            self._guard.add_scratch(self._scratch)
        return self._scratch

    def cleanup(self) -> None:
        """Remove the scratch folder, if the step made one."""
        if self._scratch is not None:
            import shutil

            self._guard.remove_scratch(self._scratch)
            shutil.rmtree(self._scratch, ignore_errors=True)
            self._scratch = None

    def progress(self, fraction: float | None, message: str = "") -> None:
        if fraction is not None:
            fraction = min(1.0, max(0.0, fraction))
        if self._progress is not None:
            self._progress(fraction, message)
