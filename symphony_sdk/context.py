"""The context API an extension uses to reach the world.

These are abstract: Symphony hands an extension an implementation that checks every call
against the manifest's permissions and audits it (in-process today; over the IPC bus for
extensions hosted in their own process). Paths are workspace-relative strings (absolute paths
are accepted when they point inside the workspace or the step's scratch folder).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import logging
    import threading
    from collections.abc import Callable, Mapping, Sequence
    from pathlib import Path

__all__ = [
    "ArtifactRef",
    "Artifacts",
    "ChatReply",
    "ExtensionContext",
    "Files",
    "Models",
    "ProcessResult",
    "StepContext",
    "TokenUsage",
]


@dataclass(frozen=True, slots=True)
class ProcessResult:
    """What a finished process did.

    Attributes:
        argv: the command line.
        returncode: exit status; negative is the signal that ended it.
        stdout: standard output, decoded as UTF-8 (invalid bytes replaced).
        stderr: standard error, decoded the same way.
        duration_s: wall time.
        timed_out: it was killed because the timeout passed.
        dropped: bytes of output beyond the 64 MiB kept per stream (a note says so at the
            end of the text), stdout and stderr together.
    """

    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str
    duration_s: float
    timed_out: bool = False
    dropped: int = 0

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out


@dataclass(frozen=True, slots=True)
class ArtifactRef:
    """A stored artifact: its content hash, name and size.

    Attributes:
        created_at: when it was first stored (unix time); None when not known (a put).
        tags: its tags, when known (``find`` fills them in).
    """

    hash: str
    name: str | None
    size: int
    media_type: str
    created_at: float | None = None
    tags: tuple[str, ...] = ()


class Files(ABC):
    """Permission-checked access to workspace files."""

    @abstractmethod
    def read_bytes(self, path: str) -> bytes:
        """The file's content (needs ``fs.read``)."""

    def read_text(self, path: str, encoding: str = "utf-8") -> str:
        """The file's content decoded (needs ``fs.read``)."""
        return self.read_bytes(path).decode(encoding)

    @abstractmethod
    def write_bytes(self, path: str, data: bytes, *, make_dirs: bool = True) -> None:
        """Replace the file atomically, keeping its mode (needs ``fs.write``)."""

    def write_text(
        self, path: str, text: str, *, encoding: str = "utf-8", make_dirs: bool = True
    ) -> None:
        """Replace the file with ``text`` atomically (needs ``fs.write``)."""
        self.write_bytes(path, text.encode(encoding), make_dirs=make_dirs)

    @abstractmethod
    def delete(self, path: str) -> None:
        """Delete a file (needs ``fs.write``)."""

    @abstractmethod
    def exists(self, path: str) -> bool:
        """Whether the path exists (needs ``fs.read``)."""

    @abstractmethod
    def glob(self, pattern: str, *, include_ignored: bool = False) -> list[str]:
        """Workspace-relative paths of files matching ``pattern`` (``**/*.py``), sorted.

        Only files the extension may read are returned; files ignored by ``.gitignore`` and
        the ``.git`` folder are left out unless ``include_ignored``.
        """

    @abstractmethod
    def path(self, path: str, *, write: bool = False) -> Path:
        """The absolute path of a workspace path after a read (or write) check, for tools
        that need a real path (pass it to a process you start)."""


class Artifacts(ABC):
    """The artifact store, for outputs worth keeping and for inputs by reference."""

    @abstractmethod
    def put_bytes(
        self,
        data: bytes,
        *,
        name: str | None = None,
        media_type: str | None = None,
        tags: Sequence[str] = (),
        inputs: Sequence[str] = (),
    ) -> ArtifactRef:
        """Store ``data`` (content-addressed) and return its reference.

        ``inputs`` are references (hashes, NAME or NAME@VERSION) of the artifacts it was made
        from: its lineage, shown by ``symphony artifacts lineage``.
        """

    @abstractmethod
    def put_file(
        self,
        path: str,
        *,
        name: str | None = None,
        media_type: str | None = None,
        tags: Sequence[str] = (),
        inputs: Sequence[str] = (),
    ) -> ArtifactRef:
        """Store a workspace file (needs ``fs.read`` on it); ``inputs`` as for
        :meth:`put_bytes`."""

    @abstractmethod
    def get_bytes(self, ref: str) -> bytes:
        """The content of an artifact by hash, hash prefix, NAME or NAME@VERSION."""

    @abstractmethod
    def find(
        self, *, tags: Sequence[str] = (), producer: str | None = None, limit: int = 20
    ) -> list[ArtifactRef]:
        """The newest artifacts carrying every one of ``tags`` and made by ``producer`` (a run,
        step or extension id: ``symphony.pytest`` matches ``symphony.pytest@0.1.0``), newest
        first, at most ``limit`` (1 to 1000). A melody step's outputs are a JSON artifact
        tagged ``step-output`` whose producer is the step's extension."""


@dataclass(frozen=True, slots=True)
class TokenUsage:
    """Tokens a model call used, as the provider reported them."""

    prompt_tokens: int
    completion_tokens: int

    @property
    def total(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True, slots=True)
class ChatReply:
    """A model's finished reply.

    Attributes:
        text: the reply (any secret Symphony knows, such as an API key, is ``[redacted]``).
        model: the configured model's name (a key of ``aide.models``) that answered.
        usage: tokens used; None when the provider did not say.
        cost: price in USD when the model's configuration has prices and usage is known.
        provider_model: the model the provider said it used (``gpt-4o-mini-2024-07-18``).
        finish_reason: ``stop``, ``length``… as the provider reported it.
        duration_ms: the call's wall time, retries included.
    """

    text: str
    model: str
    usage: TokenUsage | None
    cost: float | None
    provider_model: str = ""
    finish_reason: str | None = None
    duration_ms: float = 0.0


class Models(ABC):
    """The configured AI models (``aide.models``), called by Symphony on the extension's behalf.

    The extension never sees an endpoint's API key: Symphony makes the HTTP request. Each call
    needs the ``models`` permission for the model it reaches, is audited, waits for a free slot
    of the model's ``max_concurrent``, retries 429/5xx with backoff, and stops when the step is
    cancelled.
    """

    @abstractmethod
    def names(self) -> list[str]:
        """The configured models this extension may call, sorted (empty with none configured)."""

    @abstractmethod
    def chat(
        self,
        messages: Sequence[Mapping[str, Any]],
        *,
        model: str | None = None,
        params: Mapping[str, Any] | None = None,
        stream: bool = False,
        on_delta: Callable[[str], None] | None = None,
    ) -> ChatReply:
        """A chat completion: ``messages`` are ``{"role": ..., "content": ...}`` dicts.

        Args:
            model: a configured model's name (default: ``aide.default_model``, or the only
                model configured).
            params: request fields added to the body (``temperature``, ``max_tokens``,
                ``stop``…); they override the model's configured defaults.
            stream: ask the provider to stream; ``on_delta`` then receives the reply piece by
                piece as it arrives (without streaming, once with the whole text).

        Raises:
            ModelNotConfigured: no model is configured, or ``model`` is not one of them (the
                message says how to configure one).
            PermissionDenied: the manifest's ``models`` permission does not grant the model.
            ModelUnavailable: still busy or unreachable after the retries.
            ModelError: the provider refused the request or its reply was unreadable.
            Cancelled: the step was cancelled (or timed out) meanwhile.
        """


class ExtensionContext(ABC):
    """What an extension may use for its whole activation.

    Every method may be called from any thread the extension starts (a thread following a
    tool's output and reporting progress, for instance).
    """

    extension_id: str
    workspace: Path
    log: logging.Logger
    settings: Mapping[str, Any]
    fs: Files
    artifacts: Artifacts
    models: Models

    @abstractmethod
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
        """Run a program to completion (needs ``process`` for ``argv[0]``).

        The child gets the variables the extension may read (``env`` permission) plus
        ``PATH``, ``HOME``, ``LANG`` and similar basics, plus ``env``. ``cwd`` is a workspace
        path (default: the workspace). ``on_output(stream, text)`` receives output as it
        arrives (``stream`` is ``"stdout"`` or ``"stderr"``). When the timeout passes or the
        step is cancelled the process and its children are terminated.
        """

    @abstractmethod
    def which(self, program: str) -> str | None:
        """The full path of ``program`` on the ``PATH`` processes get, or None (needs
        ``process`` for ``program``)."""

    @abstractmethod
    def getenv(self, name: str, default: str | None = None) -> str | None:
        """An environment variable (needs ``env``)."""

    @abstractmethod
    def check_network(self, host: str) -> None:
        """Raise :class:`PermissionDenied` unless the extension may connect to ``host``."""

    @abstractmethod
    def check_model(self, name: str) -> None:
        """Raise :class:`PermissionDenied` unless the extension may call model ``name``."""


class StepContext(ExtensionContext):
    """What one step call may use: the extension context plus progress and cancellation."""

    step_type: str
    cancel_event: threading.Event

    @property
    @abstractmethod
    def scratch(self) -> Path:
        """A private temporary folder for this call (created on first use, always readable
        and writable, deleted after the call)."""

    @property
    def cancelled(self) -> bool:
        """Whether the call was asked to stop; long loops should check it."""
        return self.cancel_event.is_set()

    def check_cancelled(self) -> None:
        """Raise :class:`Cancelled` if the call was asked to stop."""
        if self.cancel_event.is_set():
            from engine.types.errors import Cancelled

            raise Cancelled(f"step {self.step_type} was cancelled")

    @abstractmethod
    def progress(self, fraction: float | None, message: str = "") -> None:
        """Report progress (``fraction`` in 0..1, or None when unknown)."""
