"""The concrete start-up phases of the engine: types, config, workspace and bus.

Each phase owns one component and reports its health. Later components (the Pit, the
conductor, extensions) add their own phases here as they land.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

from engine.types.codec import Codec
from engine.types.errors import ConfigError, SymphonyError, UsageError
from engine.types.messages import (
    ComponentHealth,
    ConfigChanged,
    ConfigRejected,
    Envelope,
    HealthStatus,
    message_types,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence
    from pathlib import Path

    from engine.bus import Bus
    from engine.config import ConfigService


def _health(
    name: str, reasons: list[str], *, fatal: bool = False, **detail: object
) -> ComponentHealth:
    if not reasons:
        status = HealthStatus.HEALTHY
    else:
        status = HealthStatus.UNHEALTHY if fatal else HealthStatus.DEGRADED
    return ComponentHealth(name=name, status=status, reasons=tuple(reasons), detail=dict(detail))


class TypesPhase:
    """Build the wire codec once and prove every message type round-trips."""

    name = "types"

    def __init__(self) -> None:
        self.codec: Codec | None = None
        self._count = 0

    def start(self) -> None:
        from engine.types.messages import Ack

        self.codec = Codec()
        self._count = len(message_types())
        probe = Envelope(topic="probe", payload=Ack(detail="probe"))
        if self.codec.decode(self.codec.encode(probe)) != probe:
            raise SymphonyError("message codec does not round-trip an envelope")

    def stop(self) -> None:
        self.codec = None

    def health(self) -> ComponentHealth:
        reasons = [] if self.codec else ["codec not built"]
        return _health(self.name, reasons, fatal=True, message_types=self._count)


class ConfigPhase:
    """Load the layered configuration; optionally watch the files for changes."""

    name = "config"

    def __init__(
        self,
        workspace: Path,
        *,
        overrides: Sequence[str],
        env: Mapping[str, str] | None,
        watch: bool,
        on_event: Callable[[ConfigChanged | ConfigRejected], None],
    ) -> None:
        self.workspace = workspace
        self.overrides = overrides
        self.env = env
        self.watch = watch
        self._on_event = on_event
        self.service: ConfigService | None = None
        self.rejected: ConfigRejected | None = None

    def start(self) -> None:
        from engine.config import ConfigService

        self.service = ConfigService(self.workspace, overrides=self.overrides, env=self.env)
        if self.watch:
            self.service.watch(self._relay)

    def _relay(self, event: ConfigChanged | ConfigRejected) -> None:
        self.rejected = event if isinstance(event, ConfigRejected) else None
        self._on_event(event)

    def reload_now(self) -> list[str]:
        """Re-read every layer now, announcing the outcome like a file edit would.

        Raises:
            ConfigError: the configuration is invalid; the last good one stays in force.
        """
        if self.service is None:
            raise SymphonyError("configuration is not loaded")
        try:
            changed = self.service.reload()
        except ConfigError as e:
            self._relay(ConfigRejected(message=str(e), source=e.source, key=e.key))
            raise
        if changed or self.rejected is not None:
            flat = self.service.current.flat()
            self._relay(
                ConfigChanged(changed_keys=tuple(changed), values={k: flat.get(k) for k in changed})
            )
        return changed

    def stop(self) -> None:
        if self.service is not None:
            self.service.stop()

    def health(self) -> ComponentHealth:
        if self.service is None:
            return _health(self.name, ["not loaded"], fatal=True)
        reasons = []
        if self.rejected is not None:
            reasons.append(f"last edit rejected, previous config kept: {self.rejected.message}")
        files = [str(f.path) for f in self.service.current.files if f.exists]
        return _health(self.name, reasons, files=files, watching=self.watch)


class WorkspacePhase:
    """Check the workspace folder exists and whether Symphony can write its state there."""

    name = "workspace"

    def __init__(self, workspace: Path, state_dir: Callable[[], str]) -> None:
        self.workspace = workspace
        self._state_dir = state_dir

    def start(self) -> None:
        if not self.workspace.exists():
            raise UsageError(f"workspace {self.workspace} does not exist")
        if not self.workspace.is_dir():
            raise UsageError(f"workspace {self.workspace} is not a folder")

    def stop(self) -> None:
        """Nothing to release."""

    def health(self) -> ComponentHealth:
        reasons = []
        if not os.access(self.workspace, os.R_OK | os.X_OK):
            return _health(self.name, [f"{self.workspace} is not readable"], fatal=True)
        state = self.workspace / self._state_dir()
        target = state if state.exists() else self.workspace
        if not os.access(target, os.W_OK):
            reasons.append(f"{target} is read-only: runs and artifacts cannot be saved there")
        return _health(self.name, reasons, path=str(self.workspace), state_dir=str(state))


class BusPhase:
    """Open the in-process bus and register the engine's command handlers."""

    name = "bus"

    def __init__(self, bus: Bus, register: Callable[[Bus], None]) -> None:
        self.bus = bus
        self._register = register

    def start(self) -> None:
        self._register(self.bus)

    def stop(self) -> None:
        self.bus.close()

    def health(self) -> ComponentHealth:
        return self.bus.health()


def environment_health() -> ComponentHealth:
    """Facts about the host that affect Symphony: Python version and terminal."""
    reasons = []
    term = os.environ.get("TERM", "")
    if term in ("", "dumb"):
        reasons.append(f"TERM is {term or 'unset'}: the TUI needs a capable terminal")
    return _health(
        "environment",
        reasons,
        python=sys.version.split()[0],
        term=term,
        colorterm=os.environ.get("COLORTERM", ""),
        tmux=bool(os.environ.get("TMUX")),
    )
