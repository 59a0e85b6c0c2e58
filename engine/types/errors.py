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
        self.source = source
        self.key = key
        self.reason = reason
        where = ": ".join(part for part in (source, key) if part)
        super().__init__(f"{where}: {reason}" if where else reason)


class ConfigErrors(ConfigError):
    """Several configuration problems found at once; ``errors`` keeps each one."""

    def __init__(self, errors: list[ConfigError]) -> None:
        self.errors = errors
        first = errors[0]
        super().__init__(first.reason, source=first.source, key=first.key)
        self.message = "\n".join(e.message for e in errors)


class ThemeError(SymphonyError):
    """A theme file is malformed; the theme is skipped, never fatal."""

    code = "theme.invalid"
    exit_code = EXIT_USAGE


class ExtensionError(SymphonyError):
    """An extension failed to load, activate or answer."""

    code = "extension.error"


class ManifestError(ExtensionError):
    """An extension manifest is invalid."""

    code = "extension.manifest_invalid"
    exit_code = EXIT_USAGE


class PermissionDenied(SymphonyError):
    """An extension or user asked for something its permissions do not allow."""

    code = "permission.denied"


class IpcError(SymphonyError):
    """A message could not cross a process boundary."""

    code = "ipc.error"
    exit_code = EXIT_RETRYABLE
    retryable = True


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
