"""Integrity checks and garbage collection of the artifact store.

``verify`` re-hashes every artifact's bytes in its tier and lists files no row accounts for;
``gc`` removes those orphans, temp files of dead writers and empty shard folders. ``gc`` decides
and deletes under the database write lock, the same lock a put holds from the rename of its blob
to the commit of its row, so it never removes a blob that is about to be referenced. Neither
function changes metadata rows: repairing or re-tiering is the stale manager's job.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import time
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from engine.pit.artifacts import blobs, layout
from engine.pit.artifacts.models import GcReport, Tier, VerifyProblem, VerifyReport
from engine.types.errors import ArtifactError

if TYPE_CHECKING:
    import sqlite3
    from collections.abc import Callable, Iterator

    from engine.pit.artifacts.db import Database
    from engine.pit.stale.tiers import TierStorage

_DIGEST = re.compile(r"[0-9a-f]{64}")
_TIER_DIRS = ((Tier.HOT, layout.HOT_DIR, ""), (Tier.WARM, layout.WARM_DIR, layout.WARM_SUFFIX))


def _open_stored(root: Path, digest: str, tier: Tier, tiers: Callable[[], TierStorage]) -> BinaryIO:
    if tier is Tier.HOT:
        return layout.hot_path(root, digest).open("rb")
    return tiers().open(digest, tier)


def _current_tier(conn: sqlite3.Connection, digest: str) -> Tier | None:
    row = conn.execute("SELECT tier FROM artifacts WHERE hash = ?", (digest,)).fetchone()
    return None if row is None else Tier(row[0])


def _check(
    root: Path, conn: sqlite3.Connection, digest: str, tier: Tier, tiers: Callable[[], TierStorage]
) -> tuple[int, VerifyProblem | None]:
    """Hash one artifact in its tier; returns the bytes read and the problem found, if any."""
    for _attempt in range(2):
        try:
            with _open_stored(root, digest, tier, tiers) as fileobj:
                actual, size = blobs.hash_stream(fileobj)
        except Exception as e:  # every failure becomes a reported problem (zstd, fsspec, OS)
            if _copy_exists(root, digest, tier, tiers):
                return 0, VerifyProblem(hash=digest, tier=tier, problem=f"unreadable: {e}")
            # A tier move may have finished since we read the row: look in the new tier once.
            now = _current_tier(conn, digest)
            if now is Tier.DELETED:
                return 0, None
            if now is not None and now is not tier:
                tier = now
                continue
            return 0, VerifyProblem(hash=digest, tier=tier, problem="missing")
        if actual != digest:
            return size, VerifyProblem(
                hash=digest, tier=tier, problem=f"corrupt: sha256 is {actual}"
            )
        return size, None
    return 0, VerifyProblem(hash=digest, tier=tier, problem="missing")


def _copy_exists(root: Path, digest: str, tier: Tier, tiers: Callable[[], TierStorage]) -> bool:
    if tier is Tier.HOT:
        return layout.hot_path(root, digest).exists()
    try:
        return tiers().exists(digest, tier)
    except ArtifactError:
        return True  # cannot tell (cold tier unreachable): report it as unreadable, not missing


def _scan(root: Path) -> Iterator[tuple[Path, Tier, str | None]]:
    """Every file under the hot and warm folders with its tier and the hash its name gives."""
    for tier, folder, suffix in _TIER_DIRS:
        base = root / folder
        if not base.is_dir():
            continue
        for dirpath, _dirs, files in os.walk(base):
            for fname in files:
                stem = fname[: -len(suffix)] if suffix and fname.endswith(suffix) else fname
                ok = _DIGEST.fullmatch(stem) and (not suffix or fname.endswith(suffix))
                yield Path(dirpath) / fname, tier, stem if ok else None


def _is_orphan(conn: sqlite3.Connection, tier: Tier, digest: str | None) -> bool:
    """A file is an orphan unless its artifact lives in that tier or is moving."""
    if digest is None:
        return True
    if _current_tier(conn, digest) is tier:
        return False
    return not conn.execute("SELECT 1 FROM moves WHERE hash = ?", (digest,)).fetchone()


def verify(
    root: Path,
    db: Database,
    tiers: Callable[[], TierStorage],
    progress: Callable[[int, int], None] | None = None,
) -> VerifyReport:
    """Re-hash every artifact's stored bytes in its tier and list orphan files.

    Args:
        root: the store root.
        db: its database.
        tiers: gives the stale manager's tier storage (called only for warm or cold artifacts).
        progress: called with (done, total) after each artifact.

    Returns:
        The report: missing, corrupt or unreadable artifacts, and files no artifact accounts for
        (deleted-tier artifacts have no bytes to check and are skipped).
    """
    conn = db.connection()
    rows = conn.execute(
        "SELECT hash, tier FROM artifacts WHERE tier != 'deleted' ORDER BY hash"
    ).fetchall()
    problems: list[VerifyProblem] = []
    nbytes = 0
    for done, (digest, tier) in enumerate(rows, start=1):
        size, problem = _check(root, conn, digest, Tier(tier), tiers)
        nbytes += size
        if problem is not None:
            problems.append(problem)
        if progress is not None:
            progress(done, len(rows))
    orphans = tuple(
        str(path.relative_to(root))
        for path, tier, digest in _scan(root)
        if _is_orphan(conn, tier, digest)
    )
    return VerifyReport(
        checked=len(rows), bytes_checked=nbytes, problems=tuple(problems), orphans=orphans
    )


def _prune_empty(base: Path) -> None:
    """Remove empty shard folders (two levels) under ``base``."""
    if not base.is_dir():
        return
    for first in base.iterdir():
        if not first.is_dir():
            continue
        for second in first.iterdir():
            if second.is_dir():
                with contextlib.suppress(OSError):
                    second.rmdir()
        with contextlib.suppress(OSError):
            first.rmdir()


@contextlib.contextmanager
def _moves_idle(root: Path) -> Iterator[bool]:
    """Hold the stale manager's move lock exclusively if no move runs; yields whether we do.

    Tier moves create shard folders and temp files outside the database lock (and their temp
    files carry no ``flock``), so those are touched only while no move can be running.
    """
    from engine.pit.stale.moves import LOCK_NAME

    fd = os.open(root / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)


def _old_temps(root: Path, tmp_age_s: float) -> list[Path]:
    """Temp files not modified for ``tmp_age_s`` seconds (their writers may still be alive)."""
    tmp = layout.tmp_dir(root)
    if not tmp.is_dir():
        return []
    cutoff = time.time() - tmp_age_s
    old: list[Path] = []
    for path in sorted(tmp.iterdir()):
        with contextlib.suppress(FileNotFoundError):
            if path.is_file() and path.stat().st_mtime <= cutoff:
                old.append(path)
    return old


def _remove_temp(path: Path, *, dry_run: bool) -> int | None:
    """Remove (or size up, on a dry run) one temp file unless its writer holds its lock."""
    if not dry_run:
        return blobs.remove_dead_temp(path)
    if blobs.temp_is_live(path):
        return None
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return None


def gc(
    root: Path,
    db: Database,
    *,
    dry_run: bool = False,
    tmp_age_s: float = 3600,
    progress: Callable[[int, int], None] | None = None,
) -> GcReport:
    """Remove orphan blob files, dead temp files and empty shard folders.

    Args:
        root: the store root.
        db: its database.
        dry_run: only report what would be removed.
        tmp_age_s: temp files younger than this are kept; a temp file whose writer is alive
            (it holds the file's lock) is always kept.
        progress: called with (files checked, files to check) while blobs are checked.

    Returns:
        The removed files (relative to the root) and the bytes freed.

    Raises:
        ArtifactError: a file could not be removed.
    """
    candidates = list(_scan(root))
    removed: list[str] = []
    freed = 0
    try:
        with db.write() as conn:
            for index, (path, tier, digest) in enumerate(candidates, 1):
                if progress is not None and (index % 256 == 0 or index == len(candidates)):
                    progress(index, len(candidates))
                if not _is_orphan(conn, tier, digest):
                    continue
                try:
                    size = path.stat().st_size
                    if not dry_run:
                        path.unlink()
                except FileNotFoundError:
                    continue
                removed.append(str(path.relative_to(root)))
                freed += size
        temps = _old_temps(root, tmp_age_s)
        with _moves_idle(root) as idle:
            if not idle:  # a move's temp file may be live, and it may need its shard folder
                temps = [p for p in temps if p.name.startswith(blobs.TEMP_PREFIX)]
            for path in temps:
                temp_size = _remove_temp(path, dry_run=dry_run)
                if temp_size is not None:
                    removed.append(str(path.relative_to(root)))
                    freed += temp_size
            if idle and not dry_run:
                with db.write():  # puts create shard folders under this lock
                    for _tier, folder, _suffix in _TIER_DIRS:
                        _prune_empty(root / folder)
    except OSError as e:
        raise ArtifactError(f"{root}: garbage collection failed: {e}") from e
    return GcReport(dry_run=dry_run, removed_files=tuple(removed), freed_bytes=freed)
