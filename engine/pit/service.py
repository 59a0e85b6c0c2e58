"""The Pit's engine phase: the workspace's artifact store, opened when first needed.

Starting Symphony in a folder must not litter it: the store (``.symphony/artifacts`` by default)
is opened at start-up only if it already exists, otherwise on the first command that needs it.
The phase answers the artifact commands of :mod:`engine.pit.messages` on the bus; commands that
only read (search, lineage, read) answer from an empty store without creating one.
"""

from __future__ import annotations

import mimetypes
import re
import threading
from functools import cache, partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.bus.handlers import on_payload
from engine.pit.artifacts import layout
from engine.pit.messages import (
    LINEAGE_LIMIT,
    READ_LIMIT,
    ArtifactContent,
    ArtifactExported,
    ArtifactLineage,
    ArtifactReply,
    ArtifactSearchResults,
    ArtifactStored,
    ExportArtifact,
    GetArtifactInfo,
    GetArtifactLineage,
    PinArtifact,
    PutArtifact,
    ReadArtifact,
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
    from engine.pit.artifacts.models import ArtifactInfo
    from engine.pit.artifacts.store import ArtifactStore

#: Where :class:`ExportArtifact` writes, relative to the workspace.
EXPORT_DIR = Path(".symphony") / "tmp" / "artifacts"
_UNSAFE = re.compile(r"[^\w.+-]+")


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

    def _existing_store(self) -> ArtifactStore | None:
        """The store if it exists (opening it), else None: reading must not create one."""
        with self._lock:
            opened = self._store is not None
        if opened or (self.root / layout.DB_NAME).exists():
            return self.store()
        return None

    def _store_for(self, ref: str) -> ArtifactStore:
        store = self._existing_store()
        if store is None:
            raise UsageError(f"no artifact {ref!r}: nothing has been stored in this workspace")
        return store

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
            GetArtifactLineage: self._lineage,
            PinArtifact: self._pin,
            ReadArtifact: self._read,
            ExportArtifact: self._export,
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
        return ArtifactReply(info=self._store_for(cmd.ref).info(cmd.ref))

    def _search(self, cmd: SearchArtifacts) -> ArtifactSearchResults:
        store = self._existing_store()
        if store is None:
            return ArtifactSearchResults()
        hits = store.search(
            cmd.query,
            tags=cmd.tags,
            media_type=cmd.media_type,
            producer=cmd.producer,
            since=cmd.since,
            limit=cmd.limit,
        )
        infos = tuple(store.info(hit.hash) for hit in hits) if cmd.details else ()
        return ArtifactSearchResults(hits=tuple(hits), infos=infos)

    def _lineage(self, cmd: GetArtifactLineage) -> ArtifactLineage:
        if not 1 <= cmd.limit <= LINEAGE_LIMIT:
            raise UsageError(f"lineage limit must be 1 to {LINEAGE_LIMIT}, not {cmd.limit}")
        store = self._store_for(cmd.ref)
        root = store.info(cmd.ref)
        edges = store.lineage(root.hash, direction=cmd.direction, depth=cmd.depth)
        kept = edges[: cmd.limit]
        nodes: dict[str, ArtifactInfo] = {root.hash: root}
        for edge in kept:
            for digest in (edge.parent, edge.child):
                if digest not in nodes:
                    nodes[digest] = store.info(digest)
        return ArtifactLineage(
            root=root, edges=tuple(kept), nodes=nodes, truncated=len(edges) > len(kept)
        )

    def _pin(self, cmd: PinArtifact) -> ArtifactReply:
        store = self._store_for(cmd.ref)
        if cmd.pinned:
            store.pin(cmd.ref)
        else:
            store.unpin(cmd.ref)
        return ArtifactReply(info=store.info(cmd.ref))

    def _read(self, cmd: ReadArtifact) -> ArtifactContent:
        if cmd.max_bytes < 0:
            raise UsageError(f"max_bytes must not be negative, not {cmd.max_bytes}")
        store = self._store_for(cmd.ref)
        digest = store.resolve(cmd.ref)
        wanted = min(cmd.max_bytes, READ_LIMIT)
        with store.open(digest) as fileobj:
            data = fileobj.read(wanted)
        info = store.info(digest)  # after the read: its access is counted
        return ArtifactContent(info=info, data=data, truncated=len(data) < info.size)

    def _export(self, cmd: ExportArtifact) -> ArtifactExported:
        store = self._store_for(cmd.ref)
        info = store.info(cmd.ref)
        if cmd.max_bytes is not None and info.size > cmd.max_bytes:
            raise UsageError(
                f"artifact {info.hash[:12]} is {info.size:,} bytes, over the limit of"
                f" {cmd.max_bytes:,}; use `symphony artifacts get {info.hash[:12]} -o FILE`"
            )
        folder = self.workspace / EXPORT_DIR / info.hash[:12]
        try:
            folder.mkdir(parents=True, exist_ok=True)
            ignore = folder.parent / ".gitignore"
            if not ignore.exists():
                ignore.write_text("# Artifacts opened from Symphony: never committed.\n*\n")
        except OSError as e:
            raise UsageError(f"{folder}: cannot create the folder: {e.strerror or e}") from e
        dest = folder / export_name(info)
        store.export(info.hash, dest)
        return ArtifactExported(path=str(dest), info=store.info(info.hash))


@cache
def _media_types() -> mimetypes.MimeTypes:
    # Python's own table only (never the host's mime.types), so names are the same everywhere.
    return mimetypes.MimeTypes()


def export_name(info: ArtifactInfo) -> str:
    """A safe file name for an artifact: its (latest) name's last part, else its short hash,
    with a suffix from its media type when the name has none (so editors highlight it)."""
    name = ""
    if info.names:
        plain = info.names[-1].rsplit("@", 1)[0]
        name = _UNSAFE.sub("_", re.split(r"[\\/]", plain)[-1]).strip("._") or ""
    stem = name or info.hash[:12]
    if "." in name:
        return name
    base = info.media_type.split(";", 1)[0].strip()
    suffix = {"text/markdown": ".md", "text/plain": ".txt"}.get(base) or (
        _media_types().guess_extension(base, strict=False) or ""
    )
    return stem + suffix
