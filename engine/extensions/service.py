"""The extensions' engine phase: discovery, registry and start-up activation, and bus commands.

The phase never fails start-up because of an extension: a broken one is ``failed`` and makes the
component ``degraded``. Only an unusable extension database is reported, and even then the
extensions run with an in-memory registry.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.bus.handlers import on_payload
from engine.config.paths import resolve_data_dir
from engine.extensions.discovery import discover
from engine.extensions.installing import InstallCommands
from engine.extensions.manager import ExtensionManager
from engine.extensions.messages import (
    ExtensionList,
    ListExtensions,
    ListStepTypes,
    RunStep,
    SetExtensionEnabled,
    StepDone,
    StepTypeInfo,
    StepTypeList,
)
from engine.extensions.motif_messages import (
    ClosePanel,
    ListPanels,
    OpenPanel,
    PanelEvent,
    PanelList,
)
from engine.extensions.motifs import MotifService
from engine.extensions.store import ExtensionsDB
from engine.types.errors import SymphonyError
from engine.types.messages import Command, ComponentHealth, Event, HealthStatus, command_topic

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from engine.bus import Bus
    from engine.config import SymphonyConfig
    from engine.config.loader import Origin
    from engine.instruments.models import Models as ModelRegistry
    from engine.pit.artifacts.store import ArtifactStore
    from engine.types.messages import Message

__all__ = ["DB_NAME", "ExtensionsPhase", "extension_dirs", "open_db"]

log = logging.getLogger("symphony.extensions")

DB_NAME = "extensions.db"
USER_DIR_NAME = "extensions"


def extension_dirs(workspace: Path, config: SymphonyConfig) -> list[Path]:
    """Folders searched for extensions: the user's extensions folder in the data directory,
    then ``extensions.dirs`` (relative to the workspace)."""
    dirs = [resolve_data_dir(config.core.data_dir) / USER_DIR_NAME]
    for entry in config.extensions.dirs:
        path = Path(entry).expanduser()
        dirs.append(path if path.is_absolute() else workspace / path)
    return dirs


def open_db(config: SymphonyConfig) -> ExtensionsDB:
    """The user's extension database (created on first use).

    Raises:
        ExtensionError: it cannot be opened.
    """
    return ExtensionsDB(resolve_data_dir(config.core.data_dir) / DB_NAME)


class ExtensionsPhase:
    """Own the extension manager of one workspace.

    Args:
        workspace: the workspace root.
        config: returns the configuration in force.
        store: opens the workspace's artifact store.
        emit: publishes events on the bus.
        origins: returns where each configuration value came from.
        models: the configured AI models, for extensions' ``ctx.models``.
    """

    name = "extensions"

    def __init__(
        self,
        workspace: Path,
        config: Callable[[], SymphonyConfig],
        store: Callable[[], ArtifactStore],
        emit: Callable[[Event], None],
        origins: Callable[[], Mapping[str, Origin]] = dict,
        models: ModelRegistry | None = None,
    ) -> None:
        self.workspace = workspace
        self._models = models
        self._config = config
        self._origins = origins
        self._store = store
        self._emit = emit
        self._db: ExtensionsDB | None = None
        self._db_error: str | None = None
        self.manager: ExtensionManager | None = None
        #: The motif panels (answers OpenPanel, PanelEvent, ClosePanel, ListPanels).
        self.motifs = MotifService(self._manager, emit)

    def start(self) -> None:
        config = self._config()
        try:
            self._db = open_db(config)
        except SymphonyError as e:
            self._db_error = str(e)
            log.error("extension registry unavailable, using memory: %s", e)
        ext = config.extensions
        dirs = extension_dirs(self.workspace, config)
        # `extensions.dirs` set by the workspace's own config file: a cloned repository's
        # choice, not the user's. Its extensions are registered disabled until enabled.
        untrusted = dirs[1:] if self._layer_of("extensions.dirs") == "project" else []
        self.manager = ExtensionManager(
            self.workspace,
            discover(dirs, untrusted=untrusted),
            db=self._db,
            store=self._store,
            activation_timeout_s=ext.activation_timeout_s,
            enabled=ext.enabled,
            disabled=ext.disabled,
            settings=ext.settings,
            emit=self._emit,
            models=self._models,
        )
        if config.mcp.servers:
            from engine.mcp import attach

            attach(self.manager, config.mcp.servers)  # starts nothing until first use
        self.manager.start()

    def _layer_of(self, key: str) -> str | None:
        origin = self._origins().get(key)
        return origin.layer if origin is not None else None

    def stop(self) -> None:
        self.motifs.stop()
        if self.manager is not None:
            self.manager.stop()
            self.manager = None
        if self._db is not None:
            self._db.close()
            self._db = None

    def health(self) -> ComponentHealth:
        if self.manager is None:
            return ComponentHealth(name=self.name, status=HealthStatus.HEALTHY)
        health = self.manager.health()
        if self._db_error is None:
            return health
        return ComponentHealth(
            name=self.name,
            status=HealthStatus.DEGRADED,
            reasons=(f"registry not saved: {self._db_error}", *health.reasons),
            detail=health.detail,
        )

    # --- bus commands ------------------------------------------------------------------------

    def register(self, bus: Bus) -> None:
        """Answer the extension commands on ``bus``."""
        handlers: dict[type[Command], Callable[[Any], Message]] = {
            ListExtensions: self._list,
            SetExtensionEnabled: self._set_enabled,
            RunStep: self._run_step,
            ListStepTypes: self._step_types,
        }
        # Details, the marketplace and installs (engine.extensions.installing).
        handlers.update(
            InstallCommands(
                self.workspace, self._config, self._manager, lambda: self._db, self._emit
            ).handlers()
        )
        handlers.update(self._motif_handlers())
        for cls, fn in handlers.items():
            bus.handle(command_topic(cls), on_payload(fn))

    def _motif_handlers(self) -> dict[type[Command], Callable[[Any], Message]]:
        motifs = self.motifs
        return {
            ListPanels: lambda _cmd: PanelList(panels=tuple(motifs.panels())),
            OpenPanel: motifs.open,
            PanelEvent: motifs.event,
            ClosePanel: motifs.close,
        }

    def _manager(self) -> ExtensionManager:
        if self.manager is None:
            raise SymphonyError("extensions are not started")
        return self.manager

    def _list(self, _cmd: ListExtensions) -> ExtensionList:
        return ExtensionList(extensions=tuple(self._manager().statuses()))

    def _set_enabled(self, cmd: SetExtensionEnabled) -> ExtensionList:
        return ExtensionList(extensions=(self._manager().set_enabled(cmd.id, cmd.enabled),))

    def _step_types(self, _cmd: ListStepTypes) -> StepTypeList:
        types = []
        for name, providers in sorted(self._manager().step_types().items()):
            spec = providers[0][1]
            types.append(
                StepTypeInfo(
                    type=name,
                    title=spec.title,
                    description=spec.description,
                    providers=tuple(ext for ext, _ in providers),
                    input_schema=spec.input_schema(),
                    outputs=tuple(spec.outputs),
                )
            )
        return StepTypeList(types=tuple(types))

    def _run_step(self, cmd: RunStep) -> StepDone:
        outcome = self._manager().call(
            cmd.step_type, cmd.inputs, extension=cmd.extension, timeout=cmd.timeout_s
        )
        return StepDone(
            extension=outcome.extension,
            step_type=outcome.step_type,
            outputs=outcome.outputs,
            duration_ms=outcome.duration_ms,
        )
