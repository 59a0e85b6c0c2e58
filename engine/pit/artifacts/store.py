"""The artifact store: put, resolve, read and describe content-addressed artifacts (SPEC §3.5).

Writes stream into a locked temp file while hashing (never reading a whole file), fsync, then —
inside one ``BEGIN IMMEDIATE`` transaction — rename the blob into place (or drop it when the
content is already stored) and record rows, so a crash leaves either nothing or a complete,
referenced blob; ``gc`` takes the same lock, so it never sees a blob between its rename and its
row. Reads of warm or cold artifacts first bring them back to hot through the stale manager.

The store is thread-safe (one SQLite connection per thread) and safe across processes (SQLite
locking, atomic renames). It must not decide tiering policy: that is ``engine.pit.stale``.
"""

from __future__ import annotations

import functools
import threading
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Concatenate, ParamSpec, TypeVar

from engine.pit.artifacts import blobs, catalog, layout, maintenance, reads, search, writes
from engine.pit.artifacts.db import Database
from engine.types.errors import ArtifactError, UsageError

if TYPE_CHECKING:
    import sqlite3
    from collections.abc import Callable, Iterable, Sequence
    from types import TracebackType

    from engine.config.models import ArtifactRetention
    from engine.pit.artifacts.models import (
        ArtifactInfo,
        GcReport,
        LineageEdge,
        Producer,
        SearchHit,
        Tier,
        VerifyReport,
        Version,
    )
    from engine.pit.artifacts.writes import PutItem
    from engine.pit.stale.tiers import TierStorage

DEFAULT_INDEX_TEXT_BYTES = 1 << 20

_P = ParamSpec("_P")
_R = TypeVar("_R")


def _operation(
    method: Callable[Concatenate[ArtifactStore, _P], _R],
) -> Callable[Concatenate[ArtifactStore, _P], _R]:
    """Run a store method as one database session, so :meth:`ArtifactStore.close` waits for it."""

    @functools.wraps(method)
    def run(self: ArtifactStore, /, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        with self.db.session():
            return method(self, *args, **kwargs)

    return run


class ArtifactStore:
    """A content-addressed artifact store rooted at a folder.

    Args:
        root: the store folder (created if missing).
        index_text_bytes: how many leading bytes of a text artifact go into the search index.
        cold_url: fsspec URL of the cold tier, if any.

    Raises:
        ArtifactError: the folder or database cannot be created or opened.
    """

    def __init__(
        self,
        root: Path,
        *,
        index_text_bytes: int = DEFAULT_INDEX_TEXT_BYTES,
        cold_url: str | None = None,
    ) -> None:
        self.root = Path(root)
        self.index_text_bytes = index_text_bytes
        self.cold_url = cold_url
        try:
            layout.tmp_dir(self.root).mkdir(parents=True, exist_ok=True)
            (self.root / layout.HOT_DIR).mkdir(exist_ok=True)
            ignore = self.root / ".gitignore"
            if not ignore.exists():
                # Blobs and the database never belong in the project's git history.
                ignore.write_text("# Symphony's artifact store: never committed.\n*\n")
        except OSError as e:
            raise ArtifactError(f"{self.root}: cannot create the artifact store: {e}") from e
        self.db = Database(self.root / layout.DB_NAME)
        self._lock = threading.Lock()
        self._rehydrate_lock = threading.Lock()
        self._tiers: TierStorage | None = None
        self._recover()

    @classmethod
    def for_workspace(cls, workspace: Path, config: ArtifactRetention) -> ArtifactStore:
        """The store ``aide.artifacts`` configures; a relative root is inside ``workspace``."""
        root = Path(config.root).expanduser()
        if not root.is_absolute():
            root = workspace / root
        return cls(root, index_text_bytes=config.index_text_bytes, cold_url=config.cold_url)

    # -- lifecycle ---------------------------------------------------------------------------

    def close(self) -> None:
        """Close the database; the store is unusable afterwards (ArtifactError).

        Safe while other threads use the store: their operations in flight finish first (for a
        bounded time; see :meth:`Database.close`), later ones fail with ArtifactError.
        """
        self.db.close()

    def __enter__(self) -> ArtifactStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _conn(self) -> sqlite3.Connection:
        return self.db.connection()

    def tiers(self) -> TierStorage:
        """The stale manager's tier storage for this store (created on first use)."""
        with self._lock:
            if self._tiers is None:
                from engine.pit.stale.tiers import TierStorage

                self._tiers = TierStorage(self.root, self.cold_url)
            return self._tiers

    @_operation
    def _recover(self) -> None:
        """Finish or roll back tier moves a crash left half done (only if the journal says so)."""
        if self._conn().execute("SELECT 1 FROM moves LIMIT 1").fetchone():
            from engine.pit.stale.moves import recover

            recover(self.db, self.tiers())

    # -- put ---------------------------------------------------------------------------------

    def put_bytes(
        self,
        data: bytes,
        *,
        name: str | None = None,
        tags: Sequence[str] = (),
        media_type: str | None = None,
        producer: Producer | None = None,
        inputs: Sequence[str] = (),
    ) -> ArtifactInfo:
        """Store ``data``; see :meth:`put_stream` for the arguments."""
        return self._put([data], name, name, tags, media_type, producer, inputs)

    def put_file(
        self,
        path: Path,
        *,
        name: str | None = None,
        tags: Sequence[str] = (),
        media_type: str | None = None,
        producer: Producer | None = None,
        inputs: Sequence[str] = (),
    ) -> ArtifactInfo:
        """Store a file's content, streamed; its file name helps guess the media type.

        Raises:
            UsageError: the file cannot be read.
        """
        path = Path(path)
        try:
            fileobj = path.open("rb")
        except OSError as e:
            raise UsageError(f"{path}: cannot read: {e.strerror or e}") from e
        with fileobj:
            return self._put(
                blobs.read_chunks(fileobj), path.name, name, tags, media_type, producer, inputs
            )

    def put_stream(
        self,
        fileobj: BinaryIO,
        *,
        name: str | None = None,
        tags: Sequence[str] = (),
        media_type: str | None = None,
        producer: Producer | None = None,
        inputs: Sequence[str] = (),
    ) -> ArtifactInfo:
        """Store everything left in a binary stream, read in 1 MiB chunks.

        Args:
            fileobj: the content.
            name: give the artifact this name; a new version unless the latest already is it.
            tags: tags to add.
            media_type: the media type; guessed from ``name`` and the content when None.
            producer: what made it (recorded once per distinct producer).
            inputs: references of the artifacts it was made from (lineage).

        Returns:
            The artifact as stored (the existing one when the content was already there). Content
            already stored in the warm or cold tier, or deleted by tiering, is hot again: the
            new hot copy is kept and the tier set to hot (no rehydration needed); a leftover
            warm file is reclaimed by :meth:`gc`, a cold copy stays where it is.

        Raises:
            UsageError: a bad name or tag, or an input that does not exist.
            ArtifactError: the content could not be written.
        """
        return self._put(blobs.read_chunks(fileobj), name, name, tags, media_type, producer, inputs)

    @_operation
    def _put(
        self,
        chunks: Iterable[bytes],
        name_hint: str | None,
        name: str | None,
        tags: Sequence[str],
        media_type: str | None,
        producer: Producer | None,
        inputs: Sequence[str],
    ) -> ArtifactInfo:
        self._conn()
        opts = writes.options(
            self.db, name=name, tags=tags, media_type=media_type, producer=producer, inputs=inputs
        )
        return writes.put(
            self.db,
            self.root,
            chunks,
            opts,
            name_hint=name_hint,
            index_text_bytes=self.index_text_bytes,
        )

    @_operation
    def put_many(self, items: Iterable[PutItem]) -> list[str]:
        """Store many small artifacts quickly, with the guarantees of ``put_bytes``.

        A few hundred go in one transaction, made durable by one ``sync()`` instead of an
        fsync per blob. Inputs must name artifacts stored before the call.

        Returns:
            The hashes, in the order of ``items``.
        """
        self._conn()
        return writes.put_many(self.db, self.root, items, index_text_bytes=self.index_text_bytes)

    # -- references and reads ----------------------------------------------------------------

    @_operation
    def resolve(self, ref: str) -> str:
        """The full hash a reference names.

        Args:
            ref: a full hash, a unique hash prefix (at least 4 hex digits), a name (its latest
                version) or ``name@N``. An exact name wins over a hash prefix.

        Raises:
            UsageError: nothing matches, or the prefix matches several artifacts.
        """
        return catalog.resolve(self._conn(), ref)

    @_operation
    def open(self, ref: str) -> BinaryIO:
        """Open an artifact's content for streaming reads, rehydrating it to hot if needed.

        Records the access (``last_access``, ``access_count``).

        Raises:
            UsageError: the reference matches no artifact.
            ArtifactError: the bytes were deleted by tiering, or are missing or unreadable.
        """
        digest = self.resolve(ref)
        return reads.open_hot(self.db, self.root, digest, self.tiers, self._rehydrate_lock)

    @_operation
    def get_bytes(self, ref: str) -> bytes:
        """The whole content of an artifact (use :meth:`open` for large ones)."""
        with self.open(ref) as fileobj:
            return fileobj.read()

    @_operation
    def export(self, ref: str, dest: Path) -> int:
        """Write an artifact to ``dest`` atomically, checking its hash on the way.

        A temp file next to ``dest`` is written, fsynced and renamed over it, so ``dest`` holds
        either its old content or the artifact, never a mix.

        Returns:
            The number of bytes written.

        Raises:
            UsageError: the reference matches nothing, ``dest`` is a folder or its folder does
                not exist.
            ArtifactError: the stored bytes are unreadable or corrupt (``dest`` is untouched).
        """
        dest = Path(dest)
        if dest.is_dir():
            raise UsageError(f"{dest}: is a folder; give a file path")
        if not dest.parent.is_dir():
            raise UsageError(f"{dest}: the folder {dest.parent} does not exist")
        digest = self.resolve(ref)
        with self.open(digest) as src:
            return blobs.export(src, dest, digest)

    # -- metadata ----------------------------------------------------------------------------

    @_operation
    def info(self, ref: str) -> ArtifactInfo:
        """Everything known about an artifact (does not count as an access)."""
        conn = self._conn()
        return catalog.info(conn, catalog.resolve(conn, ref))

    @_operation
    def versions(self, name: str) -> list[Version]:
        """The version chain of a named artifact, oldest first (UsageError if unknown)."""
        return catalog.versions(self._conn(), name)

    def pin(self, ref: str) -> None:
        """Pin an artifact: tiering never deletes it."""
        self._set_pinned(ref, True)

    def unpin(self, ref: str) -> None:
        """Remove the pin of an artifact."""
        self._set_pinned(ref, False)

    @_operation
    def _set_pinned(self, ref: str, pinned: bool) -> None:
        digest = self.resolve(ref)
        with self.db.write() as conn:
            conn.execute("UPDATE artifacts SET pinned = ? WHERE hash = ?", (int(pinned), digest))

    def tag(self, ref: str, *tags: str) -> None:
        """Add tags to an artifact."""
        self._retag(ref, tags, add=True)

    def untag(self, ref: str, *tags: str) -> None:
        """Remove tags from an artifact (absent tags are ignored)."""
        self._retag(ref, tags, add=False)

    @_operation
    def _retag(self, ref: str, tags: Sequence[str], *, add: bool) -> None:
        checked = catalog.check_tags(tags)
        digest = self.resolve(ref)
        sql = (
            "INSERT OR IGNORE INTO tags(hash, tag) VALUES (?, ?)"
            if add
            else "DELETE FROM tags WHERE hash = ? AND tag = ?"
        )
        with self.db.write() as conn:
            conn.executemany(sql, [(digest, t) for t in checked])
            search.write_row(conn, digest)

    @_operation
    def count(self) -> int:
        """Number of artifacts (every tier, including deleted)."""
        return int(self._conn().execute("SELECT count(*) FROM artifacts").fetchone()[0])

    @_operation
    def total_size(self, tier: Tier | None = None) -> int:
        """Bytes stored on disk, in one tier or in all."""
        conn = self._conn()
        if tier is None:
            row = conn.execute("SELECT total(stored_size) FROM artifacts").fetchone()
        else:
            row = conn.execute(
                "SELECT total(stored_size) FROM artifacts WHERE tier = ?", (str(tier),)
            ).fetchone()
        return int(row[0])

    # -- search and lineage ------------------------------------------------------------------

    @_operation
    def search(
        self,
        query: str,
        *,
        tags: Sequence[str] = (),
        media_type: str | None = None,
        producer: str | None = None,
        since: float | None = None,
        limit: int = 20,
    ) -> list[SearchHit]:
        """Full-text search over names, tags, media types, producers and text content.

        Args:
            query: words that must all appear (any punctuation is safe); ``wor*`` matches a
                prefix of at least 3 characters (a shorter one, ``wo*``, is searched as the
                word itself). Empty (or no word in it): list the newest artifacts that pass
                the filters.
            tags: only artifacts carrying every one of these tags.
            media_type: exact type, or ``text/*`` for a family (``*/*``: any).
            producer: a run, node, model or extension id (``pytest`` matches ``pytest@1.2``).
            since: only artifacts first stored at or after this unix time.
            limit: at most this many hits, best (BM25) first.
        """
        return search.search(
            self._conn(),
            query,
            tags=tags,
            media_type=media_type,
            producer=producer,
            since=since,
            limit=limit,
        )

    @_operation
    def lineage(
        self, ref: str, *, direction: catalog.Direction = "both", depth: int | None = None
    ) -> list[LineageEdge]:
        """Lineage edges around an artifact, nearest first (cycle-safe).

        Args:
            ref: the artifact.
            direction: ``up`` (what it was made from), ``down`` (what was made from it) or both.
            depth: how many steps to follow; None follows all.
        """
        conn = self._conn()
        return catalog.lineage(conn, catalog.resolve(conn, ref), direction, depth)

    # -- maintenance -------------------------------------------------------------------------

    @_operation
    def verify(self, progress: Callable[[int, int], None] | None = None) -> VerifyReport:
        """Re-hash every artifact's stored bytes; see :func:`maintenance.verify`."""
        return maintenance.verify(self.root, self.db, self.tiers, progress)

    @_operation
    def gc(
        self,
        *,
        dry_run: bool = False,
        tmp_age_s: float = 3600,
        progress: Callable[[int, int], None] | None = None,
    ) -> GcReport:
        """Remove orphan blobs and dead temp files; see :func:`maintenance.gc`."""
        return maintenance.gc(
            self.root, self.db, dry_run=dry_run, tmp_age_s=tmp_age_s, progress=progress
        )
