"""Commands, replies and events of the artifact store on the bus.

The TUI, melodies and the conductor reach the store through these, exactly like the CLI's
``symphony artifacts`` sub-commands reach it through :class:`ArtifactStore`.
"""

from __future__ import annotations

from typing import Literal

import msgspec

from engine.pit.artifacts.models import ArtifactInfo, LineageEdge, Producer, SearchHit
from engine.types.messages import Command, Event, Reply

#: Most bytes one :class:`ReadArtifact` returns, whatever it asks for: a preview never ships a
#: whole large artifact over the bus.
READ_LIMIT = 4 * 1024 * 1024
#: Most edges one :class:`GetArtifactLineage` returns.
LINEAGE_LIMIT = 2000


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
    #: Also reply each hit's full :class:`ArtifactInfo` (producers, pinned…) in ``infos``.
    details: bool = False


class GetArtifactLineage(Command, frozen=True, kw_only=True):
    """Lineage around one artifact. Replies :class:`ArtifactLineage`.

    ``direction``: ``up`` (what it was made from), ``down`` (what was made from it) or ``both``;
    ``depth``: how many steps to follow (None: all); at most ``limit`` edges (nearest first).
    """

    ref: str
    direction: Literal["up", "down", "both"] = "both"
    depth: int | None = 3
    limit: int = 500


class PinArtifact(Command, frozen=True, kw_only=True):
    """Pin (``pinned=True``) or unpin an artifact. Replies :class:`ArtifactReply`."""

    ref: str
    pinned: bool = True


class ReadArtifact(Command, frozen=True, kw_only=True):
    """The first ``max_bytes`` of an artifact's content (at most :data:`READ_LIMIT`).

    Replies :class:`ArtifactContent`. Counts as a read (tiering sees it) and brings a warm or
    cold artifact back to hot.
    """

    ref: str
    max_bytes: int = 64 * 1024


class ExportArtifact(Command, frozen=True, kw_only=True):
    """Write an artifact's content to a file under the workspace's ``.symphony/tmp/artifacts``
    (to open it in an editor). Replies :class:`ArtifactExported`.

    ``max_bytes``: refuse (UsageError) an artifact larger than this; None: any size.
    """

    ref: str
    max_bytes: int | None = None


class ArtifactReply(Reply, frozen=True, kw_only=True):
    """One artifact's metadata."""

    info: ArtifactInfo


class ArtifactSearchResults(Reply, frozen=True, kw_only=True):
    """Search results, best first."""

    hits: tuple[SearchHit, ...] = msgspec.field(default_factory=tuple)
    #: With ``details``: the metadata of each hit, in the order of ``hits``.
    infos: tuple[ArtifactInfo, ...] = ()


class ArtifactLineage(Reply, frozen=True, kw_only=True):
    """The lineage graph around ``root``: edges nearest first and every artifact they name."""

    root: ArtifactInfo
    edges: tuple[LineageEdge, ...] = ()
    #: Metadata of every artifact an edge names (the root included), by hash.
    nodes: dict[str, ArtifactInfo] = msgspec.field(default_factory=dict)
    #: More edges exist than ``limit`` allowed.
    truncated: bool = False


class ArtifactContent(Reply, frozen=True, kw_only=True):
    """The first bytes of an artifact; ``info.size`` is its whole size."""

    info: ArtifactInfo
    data: bytes = b""
    #: ``data`` is only the first part of the content.
    truncated: bool = False


class ArtifactExported(Reply, frozen=True, kw_only=True):
    """Where :class:`ExportArtifact` wrote the content (an absolute path)."""

    path: str
    info: ArtifactInfo


class ArtifactStored(Event, frozen=True, kw_only=True):
    """An artifact was stored (or an existing one gained a name, tag or producer)."""

    info: ArtifactInfo
