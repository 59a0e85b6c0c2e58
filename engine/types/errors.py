"""The one rooted error hierarchy of Symphony.

Every error a user can see is a :class:`SymphonyError` with a stable ``code`` (for scripts and
logs) and an ``exit_code`` (the CLI contract of SPEC §1: 0 ok, 1 run failed, 2 usage, config or
input error, 3 retryable, 130 interrupted). Foreign exceptions are wrapped with ``raise … from e``
so the cause stays visible. This module must stay free of imports beyond the standard library.
"""

from __future__ import annotations

from typing import ClassVar

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_RETRYABLE = 3
EXIT_INTERRUPTED = 130


class SymphonyError(Exception):
    """Base of every Symphony error.

    Attributes:
        code: stable, dotted identifier such as ``config.invalid``.
        exit_code: the process exit code the CLI uses for this error.
        retryable: whether trying the same thing again may succeed.
    """

    code: ClassVar[str] = "symphony.error"
    exit_code: ClassVar[int] = EXIT_FAILED
    retryable: ClassVar[bool] = False

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class UsageError(SymphonyError):
    """The user asked for something malformed (bad argument, unknown name)."""

    code = "usage"
    exit_code = EXIT_USAGE


class ConfigError(SymphonyError):
    """A configuration file, variable or ``--set`` value is invalid.

    Attributes:
        source: where the bad value came from (a file path, ``env SYMPHONY_…`` or ``--set``).
        key: dotted key path inside the configuration, if known.
        reason: what is wrong with it.
    """

    code = "config.invalid"
    exit_code = EXIT_USAGE

    def __init__(self, reason: str, *, source: str | None = None, key: str | None = None) -> None:
        self.source, self.key, self.reason = source, key, reason
        super().__init__(_located(reason, source, key))


class ConfigErrors(ConfigError):
    """Several configuration problems found at once; ``errors`` keeps each one."""

    def __init__(self, errors: list[ConfigError]) -> None:
        self.errors = errors
        first = errors[0]
        super().__init__(first.reason, source=first.source, key=first.key)
        self.message = "\n".join(e.message for e in errors)


def _located(reason: str, source: str | None, key: str | None) -> str:
    """``source: key: reason`` with the parts that are known."""
    where = ": ".join(part for part in (source, key) if part)
    return f"{where}: {reason}" if where else reason


class ThemeError(SymphonyError):
    """A theme file is malformed; the theme is skipped, never fatal."""

    code = "theme.invalid"
    exit_code = EXIT_USAGE


class ExtensionError(SymphonyError):
    """An extension failed to load, activate or answer."""

    code = "extension.error"


class ManifestError(ExtensionError):
    """An extension manifest is invalid.

    Attributes:
        source: the manifest file.
        key: dotted key path inside the manifest, if known.
        reason: what is wrong with it.
    """

    code = "extension.manifest_invalid"
    exit_code = EXIT_USAGE

    def __init__(self, reason: str, *, source: str | None = None, key: str | None = None) -> None:
        self.source, self.key, self.reason = source, key, reason
        super().__init__(_located(reason, source, key))


class ManifestErrors(ManifestError):
    """Several manifest problems found at once; ``errors`` keeps each one."""

    def __init__(self, errors: list[ManifestError]) -> None:
        self.errors = errors
        first = errors[0]
        super().__init__(first.reason, source=first.source, key=first.key)
        self.message = "\n".join(e.message for e in errors)


class InstallError(ExtensionError):
    """An extension could not be installed, updated or removed; nothing was changed."""

    code = "extension.install_failed"


class ArchiveError(InstallError):
    """An extension archive is malformed or unsafe (a path leaving its folder, a link pointing
    out, a device file, too large); the message names the archive and the member."""

    code = "extension.archive_invalid"
    exit_code = EXIT_USAGE


class TransferError(ExtensionError):
    """A file or URL (a marketplace index, an archive) could not be read or written: missing,
    an HTTP error, a timeout, too large.

    Attributes:
        status: the HTTP status of an HTTP error, or None.
        missing: the file or URL does not exist (no such file, HTTP 404).
    """

    code = "extension.transfer_failed"

    def __init__(self, message: str, *, status: int | None = None, missing: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.missing = missing or status == 404


class MarketplaceError(ExtensionError):
    """A marketplace index is malformed.

    Attributes:
        source: the index file or URL.
        location: the JSON path of the bad value (``$.extensions[0].versions[1].sha256``).
        reason: what is wrong with it.
    """

    code = "extension.index_invalid"
    exit_code = EXIT_USAGE

    def __init__(self, reason: str, *, source: str, location: str | None = None) -> None:
        self.source, self.location, self.reason = source, location, reason
        super().__init__(_located(reason, source, location))


class MelodyError(SymphonyError):
    """A melody file is unreadable, malformed or inconsistent.

    Attributes:
        source: the melody file (or what stood in for one), if known.
        location: where in the melody, as a dotted key path naming steps by index and id
            (``steps[1] (test).retry.attempts``), if known.
        reason: what is wrong.
    """

    code = "melody.invalid"
    exit_code = EXIT_USAGE

    def __init__(
        self, reason: str, *, source: str | None = None, location: str | None = None
    ) -> None:
        self.source, self.location, self.reason = source, location, reason
        super().__init__(_located(reason, source, location))

    def to_dict(self) -> dict[str, str | None]:
        """``{"file", "location", "reason"}``, the shape of ``--json`` reports."""
        return {"file": self.source, "location": self.location, "reason": self.reason}


class MelodyErrors(MelodyError):
    """Several melody problems found at once; ``errors`` keeps each one, in file order."""

    errors: list[MelodyError]

    def __init__(self, errors: list[MelodyError]) -> None:
        flat: list[MelodyError] = []
        for e in errors:
            flat.extend(e.errors if isinstance(e, MelodyErrors) else [e])
        if not flat:
            raise ValueError("MelodyErrors needs at least one error")
        self.errors = flat
        first = flat[0]
        super().__init__(first.reason, source=first.source, location=first.location)
        self.message = "\n".join(e.message for e in flat)


class CycleError(MelodyError):
    """Steps depend on each other in a circle.

    Attributes:
        path: the cycle as step ids, first id repeated at the end (``["a", "b", "a"]``): each
            step depends on the next.
    """

    def __init__(
        self, path: list[str], *, source: str | None = None, location: str | None = None
    ) -> None:
        self.path = path
        super().__init__(f"dependency cycle: {' → '.join(path)}", source=source, location=location)


class StepInputError(ExtensionError):
    """A step was given inputs its declaration does not accept (or returned bad outputs)."""

    code = "extension.bad_step_io"
    exit_code = EXIT_USAGE


class Cancelled(SymphonyError):
    """Work was cancelled on request (a step, a run); not a failure of the work itself."""

    code = "cancelled"
    exit_code = EXIT_INTERRUPTED


class PermissionDenied(SymphonyError):
    """An extension asked for something its manifest's permissions do not grant.

    Attributes:
        extension: the extension's id.
        permission: the permission checked (``fs.read``, ``fs.write``, ``process``, ``env``,
            ``network`` or ``models``).
        target: what it was asked for (a workspace path, a program, a variable, a host…).
    """

    code = "permission.denied"

    def __init__(self, extension: str, permission: str, target: str, reason: str = "") -> None:
        self.extension = extension
        self.permission = permission
        self.target = target
        detail = f" ({reason})" if reason else ""
        super().__init__(
            f"extension {extension!r} is not allowed {permission} on {target!r}{detail}"
        )


class TerminalError(SymphonyError):
    """A terminal session could not be started, or was used when it cannot take input."""

    code = "terminal.error"


class IpcError(SymphonyError):
    """A message could not cross a process boundary."""

    code = "ipc.error"
    exit_code = EXIT_RETRYABLE
    retryable = True


class IpcTimeout(IpcError):
    """An IPC request (or the next chunk of a stream) got no answer in time."""

    code = "ipc.timeout"


class IpcHandshakeError(IpcError):
    """An IPC peer was refused: wrong protocol version, failed authentication, another user."""

    code = "ipc.handshake_failed"
    exit_code = EXIT_FAILED
    retryable = False


class IpcRemoteError(IpcError):
    """The IPC peer answered a request with an error (its handler raised, or it refused).

    Attributes:
        remote_code: the error frame's code (``rate_limited``, ``permission.denied``…).
        remote_exception: the class name of the exception the peer's handler raised, if any.
    """

    code = "ipc.remote_error"
    exit_code = EXIT_FAILED
    retryable = False

    def __init__(self, message: str, *, remote_code: str, remote_exception: str = "") -> None:
        super().__init__(message)
        self.remote_code = remote_code
        self.remote_exception = remote_exception


class BusError(SymphonyError):
    """The in-process bus could not deliver a message."""

    code = "bus.error"


class BusTimeout(BusError):
    """A request got no reply in time."""

    code = "bus.timeout"
    exit_code = EXIT_RETRYABLE
    retryable = True


class NoHandler(BusError):
    """A request was sent to a topic nobody answers."""

    code = "bus.no_handler"


class Backpressure(BusError):
    """A subscriber's queue stayed full; the message went to the dead letters."""

    code = "bus.backpressure"
    exit_code = EXIT_RETRYABLE
    retryable = True


class RemoteError(BusError):
    """A request handler raised; carries the handler's error code and message."""

    code = "bus.remote_error"

    def __init__(self, message: str, *, remote_code: str) -> None:
        super().__init__(message)
        self.remote_code = remote_code


class RunError(SymphonyError):
    """A melody run failed."""

    code = "run.failed"


class ArtifactError(SymphonyError):
    """The artifact store could not store, find or verify an artifact."""

    code = "artifact.error"


class BootstrapError(SymphonyError):
    """Start-up failed in one phase; earlier phases were rolled back.

    Attributes:
        report: the :class:`engine.bootstrap.BootReport` describing every phase.
    """

    code = "bootstrap.failed"

    def __init__(self, message: str, *, report: object) -> None:
        super().__init__(message)
        self.report = report


class Interrupted(SymphonyError):
    """The user interrupted the operation (Ctrl+C)."""

    code = "interrupted"
    exit_code = EXIT_INTERRUPTED


class ModelError(SymphonyError):
    """A model provider failed: it answered with an error, could not be reached, or its reply
    could not be read.

    Attributes:
        status: the HTTP status, when there was a reply.
    """

    code = "model.error"

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class ModelUnavailable(ModelError):
    """The provider stayed busy or unreachable after the retries (429, 5xx, connection)."""

    code = "model.unavailable"
    exit_code = EXIT_RETRYABLE
    retryable = True


class ModelNotConfigured(SymphonyError):
    """An AI feature was asked for but no model is configured (the message says how)."""

    code = "model.not_configured"
    exit_code = EXIT_USAGE


class PlanFailed(ModelError):
    """A model's answers could not be made into a valid melody (the rules plan instead)."""

    code = "model.plan_invalid"
