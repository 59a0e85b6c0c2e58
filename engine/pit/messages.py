"""Commands, replies and events of the artifact store on the bus.

The TUI, melodies and the conductor reach the store through these, exactly like the CLI's
``symphony artifacts`` sub-commands reach it through :class:`ArtifactStore`.
"""

from __future__ import annotations

import msgspec

from engine.pit.artifacts.models import ArtifactInfo, Producer, SearchHit
from engine.types.messages import Command, Event, Reply


class PutArtifact(Command, frozen=True, kw_only=True):
    """Store a file (``path``) or bytes (``data``). Replies :class:`ArtifactReply`."""

    path: str | None = None
    data: bytes | None = None
    name: str | None = None
    tags: tuple[str, ...] = ()
    media_type: str | None = None
    producer: Producer | None = None
    inputs: tuple[str, ...] = ()


class GetArtifactInfo(Command, frozen=True, kw_only=True):
    """Metadata of one artifact by hash, prefix, NAME or NAME@N. Replies :class:`ArtifactReply`."""

    ref: str


class SearchArtifacts(Command, frozen=True, kw_only=True):
    """Full-text search with filters. Replies :class:`ArtifactSearchResults`."""

    query: str = ""
    tags: tuple[str, ...] = ()
    media_type: str | None = None
    producer: str | None = None
    since: float | None = None
    limit: int = 20


class ArtifactReply(Reply, frozen=True, kw_only=True):
    """One artifact's metadata."""

    info: ArtifactInfo


class ArtifactSearchResults(Reply, frozen=True, kw_only=True):
    """Search results, best first."""

    hits: tuple[SearchHit, ...] = msgspec.field(default_factory=tuple)


class ArtifactStored(Event, frozen=True, kw_only=True):
    """An artifact was stored (or an existing one gained a name, tag or producer)."""

    info: ArtifactInfo
