"""The engine facade: wires the components, runs start-up off the caller's thread, and answers
commands on the bus.

Clients (the TUI bridge, the CLI, later the daemon) only ever ``send`` commands and receive
events; they never reach into components. Must not import Textual.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any

from engine.bootstrap import BootReport, Bootstrapper
from engine.bootstrap.components import (
    BusPhase,
    ConfigPhase,
    TypesPhase,
    WorkspacePhase,
    environment_health,
)
from engine.bus import Bus, Subscription
from engine.bus.handlers import on_payload
from engine.changes import phase as changes_phase
from engine.extensions.service import ExtensionsPhase
from engine.instruments.chat import ChatService
from engine.instruments.models import Models
from engine.pit.service import PitPhase
from engine.runs import messages as run_messages
from engine.runs.phase import RunsPhase
from engine.types.errors import BootstrapError, SymphonyError
from engine.types.messages import (
    Ack,
    Command,
    ConfigChanged,
    ConfigRejected,
    ConfigSnapshot,
    EngineFailed,
    EngineStarted,
    EngineStopped,
    Envelope,
    Event,
    GetConfig,
    GetHealth,
    HealthChanged,
    HealthReport,
    HealthStatus,
    Message,
    ReloadConfig,
    SetConfigValue,
    command_topic,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence
    from pathlib import Path

    from engine.config import ConfigService
    from engine.extensions.manager import ExtensionManager

#: Run events are emitted by runners outside the engine's phases; importing them here registers
#: them with the codec like every other message type.
RUN_EVENTS = (run_messages.RunStarted, run_messages.RunFinished)


class Engine:
    """Symphony's headless core for one workspace.

    Args:
        workspace: the project folder.
        overrides: ``--set key=value`` strings, the highest configuration layer.
        env: environment to read ``SYMPHONY_*`` variables from (default ``os.environ``).
        watch_config: reload configuration files when they change (off for one-shot CLI use).
    """

    def __init__(
        self,
        workspace: Path,
        *,
        overrides: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
        watch_config: bool = True,
    ) -> None:
        self.workspace = workspace.resolve()
        self.bus = Bus("engine")
        self._config = ConfigPhase(
            self.workspace,
            overrides=overrides,
            env=env,
            watch=watch_config,
            on_event=self._on_config_event,
        )
        self._pit = PitPhase(self.workspace, lambda: self.config.aide.artifacts, self._emit_if_open)
        #: The configured AI models (``aide.models``): clients, call limits, totals.
        self.models = Models(lambda: self.config.aide)
        self._extensions = ExtensionsPhase(
            self.workspace,
            lambda: self.config,
            self._pit.store,
            self._emit_if_open,
            origins=lambda: self._service().current.origins,
            models=self.models,
        )
        self._runs = RunsPhase(self)
        self._chat = ChatService(self)
        self._boot = Bootstrapper(
            [
                TypesPhase(),
                self._config,
                WorkspacePhase(self.workspace, self._state_dir),
                BusPhase(self.bus, self._register_handlers),
                self._pit,
                self._extensions,
                self._runs,
            ]
        )
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._failure: BootstrapError | None = None
        self._stopped = False
        self._failure_listeners: list[Callable[[EngineFailed], None]] = []
        self._health_lock = threading.Lock()
        self._last_status: dict[str, HealthStatus] = {}

    # --- lifecycle ---------------------------------------------------------------------------

    def start(self, *, timeout: float = 30.0) -> BootReport:
        """Start the engine on its own thread and wait until it is up.

        Raises:
            BootstrapError: a phase failed; earlier phases were rolled back.
        """
        self.start_background()
        if not self._ready.wait(timeout):
            raise BootstrapError(f"engine did not start within {timeout:g} s", report=self.report)
        if self._failure is not None:
            raise self._failure
        return self.report

    def start_background(self) -> None:
        """Start the engine on its own thread and return at once; events announce the outcome."""
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run_boot, name="symphony-engine", daemon=True)
        self._thread.start()

    def _run_boot(self) -> None:
        t0 = time.perf_counter()
        try:
            report = self._boot.start()
        except BootstrapError as e:
            self._failure = e
            report = self._boot.report
            # The bus was rolled back with the rest, so failure listeners hear it directly.
            self._announce_failure(report)
        else:
            self.models.register_keys()
            self._announce_health_changes()  # records the baseline
            self.bus.emit(
                EngineStarted(
                    phases=tuple(r.timing() for r in report.results),
                    duration_ms=(time.perf_counter() - t0) * 1000,
                    workspace=str(self.workspace),
                )
            )
        finally:
            self._ready.set()

    def _announce_failure(self, report: BootReport) -> None:
        for callback in list(self._failure_listeners):
            callback(
                EngineFailed(
                    phases=tuple(r.timing() for r in report.results),
                    failed_phase=report.failed_phase or "?",
                    reason=report.reason or "",
                )
            )

    def on_failure(self, callback: Callable[[EngineFailed], None]) -> None:
        """Call ``callback`` if start-up fails (the bus is gone by then)."""
        self._failure_listeners.append(callback)

    @property
    def report(self) -> BootReport:
        """The start-up report so far."""
        return self._boot.report

    @property
    def failed(self) -> bool:
        """True if start-up failed (the components were rolled back)."""
        return self._failure is not None

    @property
    def config_service(self) -> ConfigService | None:
        """The configuration service, once the config phase has started."""
        return self._config.service

    @property
    def ready(self) -> bool:
        """True once start-up finished, successfully or not."""
        return self._ready.is_set()

    def stop(self) -> None:
        """Stop every component in reverse start order. Idempotent.

        The bus closes first, joining its handler threads, so no command is still running
        when the components it uses (the artifact store) shut down.
        """
        if self._stopped:
            return
        self._stopped = True
        self._ready.wait(30)
        self._chat.stop()
        if self._failure is None and not self.bus.closed:
            self.bus.emit(EngineStopped())
        self.bus.close()
        self._boot.stop()
        self.models.close()

    def __enter__(self) -> Engine:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- the client surface ------------------------------------------------------------------

    def send(self, command: Command, *, timeout: float = 30.0) -> Message:
        """Send a command and wait for its reply (an error reply raises RemoteError)."""
        return self.bus.send(command, timeout=timeout)

    def subscribe(
        self, handler: Callable[[Envelope], object], pattern: str = "evt.*"
    ) -> Subscription:
        """Receive events whose topic matches ``pattern`` on a bus delivery thread."""
        return self.bus.subscribe(pattern, handler, name=f"client:{pattern}")

    def health(self) -> HealthReport:
        """Every component's health, plus the host environment's."""
        return HealthReport(components=(*self._boot.health(), environment_health()))

    @property
    def config(self) -> Any:
        """The configuration in force (a :class:`engine.config.SymphonyConfig`)."""
        if self._config.service is None:
            raise SymphonyError("configuration is not loaded yet")
        return self._config.service.current.config

    # --- internals ---------------------------------------------------------------------------

    def _state_dir(self) -> str:
        return str(self.config.core.state_dir)

    def _emit_if_open(self, event: Event) -> None:
        if not self.bus.closed:
            self.bus.emit(event)

    @property
    def runs(self) -> RunsPhase:
        """Melody runs driven over the bus (the runs phase)."""
        return self._runs

    @property
    def pit(self) -> PitPhase:
        """The Pit phase, which owns the workspace's artifact store."""
        return self._pit

    @property
    def extensions(self) -> ExtensionManager:
        """The extension manager (once the extensions phase has started).

        Raises:
            SymphonyError: start-up has not reached the extensions phase.
        """
        if self._extensions.manager is None:
            raise SymphonyError("extensions are not started")
        return self._extensions.manager

    def _on_config_event(self, event: ConfigChanged | ConfigRejected) -> None:
        self.models.register_keys()
        if not self.bus.closed:
            self.bus.emit(event)
            self._announce_health_changes()

    def _announce_health_changes(self) -> None:
        """Emit :class:`HealthChanged` for every component whose status moved."""
        with self._health_lock:
            for component in self._boot.health():
                if self._last_status.get(component.name) not in (None, component.status):
                    self.bus.emit(HealthChanged(component=component))
                self._last_status[component.name] = component.status

    def _register_handlers(self, bus: Bus) -> None:
        handlers: dict[type[Command], Callable[[Any], Message]] = {
            GetHealth: lambda _cmd: self.health(),
            GetConfig: self._get_config,
            ReloadConfig: self._reload_config,
            SetConfigValue: self._set_config_value,
        }
        for cls, fn in handlers.items():
            bus.handle(command_topic(cls), on_payload(fn))
        self._pit.register(bus)
        self._extensions.register(bus)
        self._runs.register(bus)
        changes_phase.register(bus, self)
        self._chat.register(bus)

    def _service(self) -> ConfigService:
        if self._config.service is None:
            raise SymphonyError("configuration is not loaded")
        return self._config.service

    def _get_config(self, _cmd: GetConfig) -> ConfigSnapshot:
        current = self._service().current
        return ConfigSnapshot(
            values=current.flat(),
            origins={k: f"{o.layer}: {o.source}" for k, o in current.origins.items()},
        )

    def _reload_config(self, _cmd: ReloadConfig) -> Ack:
        changed = self._config.reload_now()
        return Ack(detail=f"{len(changed)} key(s) changed")

    def _set_config_value(self, cmd: SetConfigValue) -> Ack:
        path = self._service().set_value(cmd.key, cmd.value, cmd.layer)
        return Ack(detail=str(path))
