"""Typed records of the artifact store (msgspec Structs, STYLE 6).

These are the shapes every client sees: the CLI prints them, the TUI renders them, melodies
record them. They carry no behaviour.
"""

from __future__ import annotations

import enum

import msgspec


class Tier(enum.StrEnum):
    """Where an artifact's bytes live.

    ``hot``: plain file under ``blobs/``; ``warm``: zstd file under ``warm/``; ``cold``: a copy
    under the configured fsspec URL; ``deleted``: metadata kept, bytes gone.
    """

    HOT = "hot"
    WARM = "warm"
    COLD = "cold"
    DELETED = "deleted"


class Producer(msgspec.Struct, frozen=True, kw_only=True):
    """What made an artifact. All fields optional: a user ``put`` has only ``extension="user"``."""

    run: str | None = None
    node: str | None = None
    extension: str | None = None  # "id@version"
    model: str | None = None


class ArtifactInfo(msgspec.Struct, frozen=True, kw_only=True):
    """Everything known about one artifact (one content hash)."""

    hash: str  # sha256 hex, 64 chars
    size: int  # bytes of the original content
    media_type: str
    created_at: float  # unix time of the first put
    tier: Tier
    pinned: bool
    last_access: float
    access_count: int
    stored_size: int  # bytes on disk in its current tier (compressed size when warm)
    names: tuple[str, ...] = ()  # "name@version" entries pointing at this hash
    tags: tuple[str, ...] = ()
    producers: tuple[Producer, ...] = ()
    inputs: tuple[str, ...] = ()  # hashes this artifact was made from (lineage, one level up)


class Version(msgspec.Struct, frozen=True, kw_only=True):
    """One entry of a named artifact's version chain (versions count from 1)."""

    name: str
    version: int
    hash: str
    created_at: float


class SearchHit(msgspec.Struct, frozen=True, kw_only=True):
    """A search result, best first; ``snippet`` shows the matching words in context."""

    hash: str
    score: float
    media_type: str
    size: int
    created_at: float
    names: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    snippet: str = ""


class LineageEdge(msgspec.Struct, frozen=True, kw_only=True):
    """``parent`` was an input of ``child``; ``depth`` counts from the queried artifact."""

    parent: str
    child: str
    depth: int


class VerifyProblem(msgspec.Struct, frozen=True, kw_only=True):
    """One artifact whose stored bytes are missing or do not hash to its id."""

    hash: str
    tier: Tier
    problem: str  # "missing" | "corrupt: sha256 is …" | "unreadable: …"


class VerifyReport(msgspec.Struct, frozen=True, kw_only=True):
    """Result of re-hashing every stored blob."""

    checked: int
    bytes_checked: int
    problems: tuple[VerifyProblem, ...] = ()
    orphans: tuple[str, ...] = ()  # files in the store that no artifact row mentions

    @property
    def ok(self) -> bool:
        """True when nothing is missing or corrupt."""
        return not self.problems


class GcReport(msgspec.Struct, frozen=True, kw_only=True):
    """What garbage collection removed (or would remove with ``dry_run``)."""

    dry_run: bool
    removed_files: tuple[str, ...]  # paths relative to the store root
    freed_bytes: int
