"""Test an extension for real: load it from its folder and call its steps in a workspace.

The harness uses Symphony's own manager, permission guard, audit log and artifact store — the
same code paths as in the product, with the registry and store in temporary places — so a test
sees exactly what a user would, permission denials included::

    from symphony_sdk.testing import ExtensionHarness

    def test_counts_words(tmp_path):
        (tmp_path / "a.txt").write_text("one two three")
        with ExtensionHarness(EXTENSION_DIR, tmp_path) as h:
            assert h.call("words.count", path="a.txt") == {"words": 3}

An extension calling ``ctx.models`` is tested against a model server (a local one, or a small
chat-completions server of the test's own on 127.0.0.1)::

    with ExtensionHarness(EXTENSION_DIR, tmp_path, models={
        "local": {"base_url": "http://127.0.0.1:8080/v1", "model": "test"},
    }) as h:
        h.call("summary.write", path="a.txt")
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.extensions.discovery import Found, builtin_root
from engine.extensions.manager import ExtensionManager, StepOutcome
from engine.extensions.manifest import MANIFEST_NAME, load_manifest
from engine.extensions.store import AuditRecord, ExtensionsDB
from engine.types.errors import ExtensionError

if TYPE_CHECKING:
    import threading
    from collections.abc import Callable, Mapping

    from engine.extensions.lifecycle import ExtensionStatus
    from engine.instruments.models import Models as ModelRegistry
    from engine.pit.artifacts.store import ArtifactStore

__all__ = ["ExtensionHarness"]


class ExtensionHarness:
    """Load the extension in ``extension_dir`` and run it against ``workspace``.

    Args:
        extension_dir: the folder holding ``symphony-extension.toml``.
        workspace: the workspace the extension works in (usually pytest's ``tmp_path``).
        settings: the extension's settings (as under ``extensions.settings.<id>``).
        environ: the environment the extension may read (default: this process's); API key
            variables of ``models`` are read from it too.
        activation_timeout_s: bound of loading plus activating.
        models: AI models for ``ctx.models``, as under ``aide.models`` (name → ``base_url``,
            ``model``, ``api_key_env``…), e.g. a local test server's; none by default.
        default_model: as ``aide.default_model``.
    """

    def __init__(
        self,
        extension_dir: Path,
        workspace: Path,
        *,
        settings: Mapping[str, Any] | None = None,
        environ: Mapping[str, str] | None = None,
        activation_timeout_s: float = 10.0,
        models: Mapping[str, Mapping[str, Any]] | None = None,
        default_model: str | None = None,
    ) -> None:
        extension_dir = extension_dir.resolve()
        manifest, digest = load_manifest(extension_dir / MANIFEST_NAME)
        builtin = extension_dir.parent == builtin_root().resolve()
        found = Found(
            source="builtin" if builtin else "folder",
            path=extension_dir,
            manifest=manifest,
            digest=digest,
            error=None,
            import_root=None if builtin else extension_dir,
        )
        self._import_root = found.import_root
        self.workspace = workspace.resolve()
        self._tmp = tempfile.TemporaryDirectory(prefix="symphony-harness-")
        self.db = ExtensionsDB(Path(self._tmp.name) / "extensions.db")
        self._store: ArtifactStore | None = None
        self.id = manifest.id
        self.models: ModelRegistry | None = None
        if models:
            from engine.config.models import AideConfig
            from engine.instruments.models import Models

            aide = AideConfig.model_validate(
                {"models": {k: dict(v) for k, v in models.items()}, "default_model": default_model}
            )
            self.models = Models(lambda: aide, environ=environ)
        self.manager = ExtensionManager(
            self.workspace,
            [found],
            db=self.db,
            store=self.store,
            activation_timeout_s=activation_timeout_s,
            settings={manifest.id: dict(settings or {})},
            environ=environ,
            models=self.models,
        )
        self.manager.start()

    def store(self) -> ArtifactStore:
        """The workspace's artifact store (a real one, under ``.symphony/artifacts``)."""
        if self._store is None:
            from engine.config import ArtifactRetention
            from engine.pit.artifacts.store import ArtifactStore

            self._store = ArtifactStore.for_workspace(self.workspace, ArtifactRetention())
        return self._store

    @property
    def status(self) -> ExtensionStatus:
        """The extension's lifecycle state (``failed`` with a reason when it did not load)."""
        return self.manager.status(self.id)

    def call(self, step_type: str, /, **inputs: Any) -> dict[str, Any]:
        """Run ``step_type`` with ``inputs`` and return its outputs (errors propagate)."""
        return self.outcome(step_type, inputs).outputs

    def outcome(
        self,
        step_type: str,
        inputs: Mapping[str, Any],
        *,
        cancel: threading.Event | None = None,
        progress: Callable[[float | None, str], None] | None = None,
        timeout: float | None = None,
    ) -> StepOutcome:
        """Run ``step_type`` and return the whole outcome (outputs, duration)."""
        if self.status.state == "failed":
            raise ExtensionError(f"{self.id} failed: {self.status.reason}")
        return self.manager.call(
            step_type, inputs, extension=self.id, cancel=cancel, progress=progress, timeout=timeout
        )

    def audit(self, *, denied_only: bool = False) -> list[AuditRecord]:
        """The permission decisions recorded so far, oldest first."""
        self.manager.audit.flush()
        return self.db.audit(self.id, denied_only=denied_only, limit=100_000)

    def close(self) -> None:
        self.manager.stop()
        if self.models is not None:
            self.models.close()
        self.db.close()
        if self._store is not None:
            self._store.close()
        self._tmp.cleanup()
        if self._import_root is not None:
            self._forget_imports(self._import_root)

    @staticmethod
    def _forget_imports(root: Path) -> None:
        """Unload the extension's modules so another harness can load a fresh copy."""
        import sys

        if str(root) in sys.path:
            sys.path.remove(str(root))
        for name, module in list(sys.modules.items()):
            origin = getattr(module, "__file__", None)
            if origin and Path(origin).is_relative_to(root):
                del sys.modules[name]

    def __enter__(self) -> ExtensionHarness:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
