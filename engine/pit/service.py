"""The Pit's engine phase: the workspace's artifact store, opened when first needed.

Starting Symphony in a folder must not litter it: the store (``.symphony/artifacts`` by default)
is opened at start-up only if it already exists, otherwise on the first command that needs it.
The phase answers the artifact commands of :mod:`engine.pit.messages` on the bus.
"""

from __future__ import annotations

import threading
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.bus.handlers import on_payload
from engine.pit.artifacts import layout
from engine.pit.messages import (
    ArtifactReply,
    ArtifactSearchResults,
    ArtifactStored,
    GetArtifactInfo,
    PutArtifact,
    SearchArtifacts,
)
from engine.types.errors import SymphonyError, UsageError
from engine.types.messages import (
    Command,
    ComponentHealth,
    Event,
    HealthStatus,
    Message,
    command_topic,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from engine.bus import Bus
    from engine.config import ArtifactRetention
    from engine.pit.artifacts.store import ArtifactStore


class PitPhase:
    """Own the artifact store of one workspace."""

    name = "pit"

    def __init__(
        self,
        workspace: Path,
        retention: Callable[[], ArtifactRetention],
        emit: Callable[[Event], None],
    ) -> None:
        self.workspace = workspace
        self._retention = retention
        self._emit = emit
        self._lock = threading.Lock()
        self._store: ArtifactStore | None = None

    @property
    def root(self) -> Path:
        """The store folder ``aide.artifacts.root`` points at."""
        root = Path(self._retention().root).expanduser()
        return root if root.is_absolute() else self.workspace / root

    def start(self) -> None:
        if (self.root / layout.DB_NAME).exists():
            self.store()  # opening runs crash recovery of interrupted tier moves

    def store(self) -> ArtifactStore:
        """The store, opened (and created) on first use."""
        with self._lock:
            if self._store is None:
                from engine.pit.artifacts.store import ArtifactStore

                self._store = ArtifactStore.for_workspace(self.workspace, self._retention())
            return self._store

    def stop(self) -> None:
        with self._lock:
            if self._store is not None:
                self._store.close()
                self._store = None

    def health(self) -> ComponentHealth:
        with self._lock:
            store = self._store
        if store is None:
            return ComponentHealth(
                name=self.name,
                status=HealthStatus.HEALTHY,
                detail={"root": str(self.root), "opened": False},
            )
        try:
            count = store.count()
            size = store.total_size()
        except SymphonyError as e:
            return ComponentHealth(name=self.name, status=HealthStatus.UNHEALTHY, reasons=(str(e),))
        return ComponentHealth(
            name=self.name,
            status=HealthStatus.HEALTHY,
            detail={"root": str(self.root), "opened": True, "artifacts": count, "bytes": size},
        )

    # --- bus commands ------------------------------------------------------------------------

    def register(self, bus: Bus) -> None:
        """Answer the artifact commands on ``bus``."""
        handlers: dict[type[Command], Callable[[Any], Message]] = {
            PutArtifact: self._put,
            GetArtifactInfo: self._info,
            SearchArtifacts: self._search,
        }
        for cls, fn in handlers.items():
            bus.handle(command_topic(cls), on_payload(fn))

    def _put(self, cmd: PutArtifact) -> ArtifactReply:
        if (cmd.path is None) == (cmd.data is None):
            raise UsageError("PutArtifact needs exactly one of path or data")
        store = self.store()
        if cmd.data is not None:
            put = partial(store.put_bytes, cmd.data)
        else:
            path = Path(cmd.path or "")
            put = partial(store.put_file, path if path.is_absolute() else self.workspace / path)
        info = put(
            name=cmd.name,
            tags=cmd.tags,
            media_type=cmd.media_type,
            producer=cmd.producer,
            inputs=cmd.inputs,
        )
        self._emit(ArtifactStored(info=info))
        return ArtifactReply(info=info)

    def _info(self, cmd: GetArtifactInfo) -> ArtifactReply:
        return ArtifactReply(info=self.store().info(cmd.ref))

    def _search(self, cmd: SearchArtifacts) -> ArtifactSearchResults:
        hits = self.store().search(
            cmd.query,
            tags=cmd.tags,
            media_type=cmd.media_type,
            producer=cmd.producer,
            since=cmd.since,
            limit=cmd.limit,
        )
        return ArtifactSearchResults(hits=tuple(hits))
