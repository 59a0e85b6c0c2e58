"""The one crash-safe tier move, and recovery of moves a crash interrupted.

A move of artifact ``h`` from ``src`` to ``dst`` runs these steps, each durable before the next:

1. journal: insert ``moves(h, src, dst)`` (one transaction, which also checks the artifact is in
   ``src``);
2. copy: write the ``dst`` copy from a streaming read of ``src`` and verify its sha256
   (skipped when ``dst`` is ``deleted``);
3. switch: ``artifacts.tier = dst`` and the new ``stored_size`` (one transaction; the journal row
   stays);
4. clean: remove the ``src`` copy;
5. done: delete the journal row.

Metadata only ever points at a copy that was verified, and the source copy is removed only
after the metadata moved away from it, so a crash at any point leaves a good copy that the
metadata names; :func:`recover` then finishes or undoes what the journal says was in flight.
Removing the journal row last (rather than in step 3) means a crash between steps 3 and 4
leaves no orphan source copy behind.

A move the tiering policy planned earlier (``planned``) is re-checked in the transaction that
journals it, and again in one right before its switch: it is *skipped* (:class:`MoveSkipped`)
when the artifact got pinned, was read or stored again since planning (``last_access`` changed;
checked for every move away from hot), became protected (for a deletion), or was moved by
someone else.

A put of content whose move away from hot is in flight *cancels* that move by deleting its
journal row (:func:`engine.pit.artifacts.catalog.record_put`): the switch and the removal of a
hot source copy only happen in a transaction that still finds the journal row, so the bytes the
put confirmed stay; the mover then removes its own ``dst`` copy and reports the move skipped.

Each move holds an exclusive ``flock`` on ``<root>/moving/<hash>.lock``, so :func:`recover`
never mistakes a move running in another thread or process for a crashed one (the kernel drops
the lock of a killed process), and a shared one on ``<root>/moves.lock``, which the store's
``gc`` takes exclusively to know no move is creating files.

This module must not choose what to move (that is :mod:`engine.pit.stale.policy`) nor touch
blobs other than through :class:`~engine.pit.stale.tiers.TierStorage`.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from typing import TYPE_CHECKING, NamedTuple

from engine.pit.artifacts.models import Tier
from engine.pit.stale.policy import protected_by
from engine.types.errors import ArtifactError

if TYPE_CHECKING:
    import sqlite3
    from collections.abc import Iterator
    from pathlib import Path

    from engine.pit.artifacts.db import Database
    from engine.pit.stale.tiers import TierStorage

LOCK_NAME = "moves.lock"
MOVING_DIR = "moving"  # per-artifact lock files of moves in flight


class MoveSkipped(ArtifactError):
    """A move that was not carried out because it is no longer wanted; not a failure.

    The artifact is untouched (still readable where its metadata says); the message says why.
    """


class Planned(NamedTuple):
    """What a planned move is re-checked against when it is applied.

    Attributes:
        last_access: the artifact's ``last_access`` when planned (None: not checked).
        keep_tags: the tags that protect an artifact from deletion (``keep_tags``).
    """

    last_access: float | None
    keep_tags: tuple[str, ...]


def move(
    db: Database,
    tiers: TierStorage,
    digest: str,
    src: Tier,
    dst: Tier,
    *,
    planned: Planned | None = None,
) -> int:
    """Move one artifact's bytes from ``src`` to ``dst`` (copy → verify → switch → delete).

    An artifact already in ``dst`` is a no-op (so two readers rehydrating the same artifact
    both succeed: the second waits for the first, then finds it hot). A move of the same
    artifact that a crash interrupted is recovered first.

    Args:
        planned: set for a move the policy planned earlier: it is re-checked (see the module
            docstring) and skipped when no longer wanted; an artifact already in ``dst`` is
            then skipped too (someone else moved it) rather than a no-op.

    Returns:
        The stored size of the artifact in ``dst`` (0 for ``deleted``).

    Raises:
        MoveSkipped: the move is no longer wanted, was cancelled by a put, or someone else
            moved the artifact; nothing was changed.
        ArtifactError: unknown artifact; the copy failed or did not verify (the artifact then
            stays in ``src``, untouched).
    """
    if src is dst or src is Tier.DELETED:
        raise ArtifactError(f"{digest}: cannot move from {src} to {dst}")
    with (
        _move_lock(tiers.root),
        _digest_lock(tiers.root, digest, blocking=True),
    ):
        row = _journal_row(db.connection(), digest)
        if row is not None:  # we hold the artifact's lock, so its mover is dead
            _recover_one(db, tiers, digest, Tier(row["from_tier"]), Tier(row["to_tier"]))
        current_size = _begin(db, digest, src, dst, planned)
        if current_size is not None:
            return current_size
        try:
            size = 0 if dst is Tier.DELETED else tiers.copy(digest, src, dst)
        except BaseException as e:
            _abandon(db, tiers, digest, dst, e)
            raise
        try:
            if planned is not None:
                _recheck(db, digest, dst, planned)  # the copy may have taken a while
            _switch(db, digest, src, dst, size)
        except MoveSkipped:
            _discard_copy(db, tiers, digest, dst)
            raise
        try:
            finished = _finish(db, tiers, digest, src)
        except ArtifactError as e:
            e.add_note(f"the move to {dst} is complete; recover() removes the old {src} copy")
            raise
        if not finished:
            # A put stored the content again after the switch and made it hot again.
            _discard_copy(db, tiers, digest, dst)
            raise MoveSkipped(f"{digest}: cancelled: the content was stored again (put)")
        return size


def recover(db: Database, tiers: TierStorage) -> list[str]:
    """Finish or undo every move a crash left in the journal.

    Moves still running in this or another process (their artifact lock is held) are left
    alone. For each other journal row: metadata already in ``dst`` with a good ``dst`` copy →
    remove the leftover ``src`` copy; metadata in ``src`` and a ``dst`` copy that verifies →
    finish the move; otherwise remove the partial ``dst`` copy (metadata keeps naming ``src``).
    Temp files in ``<root>/tmp`` are left to the store's ``gc``.

    Returns:
        One human-readable line per journal row handled (a row that cannot be fixed yet, e.g.
        because the cold tier is unreachable, stays in the journal and its line says why).
    """
    lines: list[str] = []
    with _move_lock(tiers.root):
        rows = db.connection().execute("SELECT * FROM moves ORDER BY started_at, hash").fetchall()
        for row in rows:
            digest, src, dst = row["hash"], Tier(row["from_tier"]), Tier(row["to_tier"])
            with _digest_lock(tiers.root, digest, blocking=False) as ours:
                if not ours or _journal_row(db.connection(), digest) is None:
                    continue  # running elsewhere, or finished meanwhile
                try:
                    lines.append(_recover_one(db, tiers, digest, src, dst))
                except MoveSkipped as e:
                    lines.append(f"{digest[:12]} ({src} → {dst}): left alone: {e}")
                except ArtifactError as e:
                    # The row stays for the next attempt; the other rows are still worth fixing.
                    lines.append(f"{digest[:12]} ({src} → {dst}): not recovered: {e}")
        _sweep_lock_files(tiers.root)
    return lines


def _recover_one(db: Database, tiers: TierStorage, digest: str, src: Tier, dst: Tier) -> str:
    short = f"{digest[:12]} ({src} → {dst})"
    row = db.connection().execute("SELECT tier FROM artifacts WHERE hash = ?", (digest,)).fetchone()
    current = Tier(row["tier"]) if row is not None else None
    if current is dst:
        if dst is Tier.DELETED or tiers.verify(digest, dst):
            if not _finish(db, tiers, digest, src):
                _discard_copy(db, tiers, digest, dst)
                return f"{short}: cancelled by a put; kept the {src} copy"
            return f"{short}: finished; removed the old {src} copy"
        if tiers.verify(digest, src):
            _switch(db, digest, dst, src, tiers.stored_size(digest, src))
            tiers.remove_partial(digest, dst)
            _drop(db, digest)
            return f"{short}: the {dst} copy is bad; back to the good {src} copy"
        _drop(db, digest)
        return f"{short}: neither copy verifies; `verify` reports the artifact"
    if current is src:
        if dst is not Tier.DELETED and tiers.verify(digest, dst):
            _switch(db, digest, src, dst, tiers.stored_size(digest, dst))
            if not _finish(db, tiers, digest, src):
                _discard_copy(db, tiers, digest, dst)
                return f"{short}: cancelled by a put; kept the {src} copy"
            return f"{short}: finished; the {dst} copy verified, removed the {src} copy"
        if dst is not Tier.DELETED:
            tiers.remove_partial(digest, dst)
        _drop(db, digest)
        return f"{short}: undone; kept the {src} copy"
    # The artifact is gone or was moved elsewhere since: only the dst copy can be ours to drop.
    if dst is not Tier.DELETED:
        tiers.remove_partial(digest, dst)
    _drop(db, digest)
    state = "no longer exists" if current is None else f"is now {current}"
    return f"{short}: dropped; the artifact {state}"


def _begin(db: Database, digest: str, src: Tier, dst: Tier, planned: Planned | None) -> int | None:
    """Journal the move; returns the stored size instead when the artifact is already in dst.

    Raises:
        MoveSkipped: a planned move that is no longer wanted, or someone else moved it.
    """
    with db.write() as conn:
        row = conn.execute(
            "SELECT tier, stored_size, pinned, last_access FROM artifacts WHERE hash = ?",
            (digest,),
        ).fetchone()
        if row is None:
            raise ArtifactError(f"{digest}: no such artifact")
        tier = Tier(row["tier"])
        if tier is dst and planned is None:
            return int(row["stored_size"])
        if tier is not src:
            raise MoveSkipped(
                f"{digest}: cannot move {src} → {dst}: the artifact is {tier} (moved by someone"
                " else)"
            )
        if planned is not None and (why := _unwanted(conn, row, digest, dst, planned)):
            raise MoveSkipped(f"{digest}: {why}")
        journal = _journal_row(conn, digest)
        if journal is not None:
            raise ArtifactError(
                f"{digest}: a move {journal['from_tier']} → {journal['to_tier']} is in progress"
            )
        conn.execute(
            "INSERT INTO moves (hash, from_tier, to_tier, started_at) VALUES (?, ?, ?, ?)",
            (digest, src.value, dst.value, time.time()),
        )
    return None


def _unwanted(
    conn: sqlite3.Connection, row: sqlite3.Row, digest: str, dst: Tier, planned: Planned
) -> str | None:
    """Why a planned move is no longer wanted (None: it still is); ``row`` is the artifact's."""
    if row["pinned"]:
        return "pinned since it was planned"
    if (
        dst is not Tier.HOT
        and planned.last_access is not None
        and row["last_access"] != planned.last_access
    ):
        return "read or stored again since it was planned"
    if dst is Tier.DELETED:
        why = protected_by(conn, digest, planned.keep_tags)
        if why is not None:
            return f"not deleted: {why}"
    return None


def _recheck(db: Database, digest: str, dst: Tier, planned: Planned) -> None:
    """Right before the switch: skip a planned move that is no longer wanted (drops the row)."""
    with db.write() as conn:
        row = conn.execute(
            "SELECT pinned, last_access FROM artifacts WHERE hash = ?", (digest,)
        ).fetchone()
        why = None if row is None else _unwanted(conn, row, digest, dst, planned)
        if why is None:
            return
        conn.execute("DELETE FROM moves WHERE hash = ?", (digest,))
    raise MoveSkipped(f"{digest}: {why}")


def _switch(db: Database, digest: str, src: Tier, dst: Tier, size: int) -> None:
    """Point the metadata at ``dst``, only if it still points at ``src`` and the move is journaled.

    Raises:
        MoveSkipped: the move was cancelled (its journal row is gone: a put stored the content
            again) or the artifact left ``src``; the metadata is unchanged, the row dropped.
    """
    with db.write() as conn:
        updated = conn.execute(
            "UPDATE artifacts SET tier = ?, stored_size = ? WHERE hash = ? AND tier = ?"
            " AND EXISTS (SELECT 1 FROM moves WHERE hash = ?)",
            (dst.value, size, digest, src.value, digest),
        ).rowcount
        if updated:
            return
        journaled = _journal_row(conn, digest) is not None
        conn.execute("DELETE FROM moves WHERE hash = ?", (digest,))
    if not journaled:
        raise MoveSkipped(f"{digest}: cancelled: the content was stored again (put)")
    raise MoveSkipped(f"{digest}: the artifact left {src} while it was being moved")


def _finish(db: Database, tiers: TierStorage, digest: str, src: Tier) -> bool:
    """Remove the ``src`` copy and the journal row, unless a put cancelled the move.

    A hot source copy is removed inside the transaction that finds the journal row, so a put
    (which places its blob and cancels the move under the same write lock) never loses its
    bytes. Other tiers are never written by a put, so their copy is removed before.

    Returns:
        False when the move was cancelled (nothing removed).
    """
    if src is not Tier.HOT:
        if _journal_row(db.connection(), digest) is None:
            return False
        tiers.remove(digest, src)
    with db.write() as conn:
        if _journal_row(conn, digest) is None:
            return False
        if src is Tier.HOT:
            tiers.remove(digest, src)
        conn.execute("DELETE FROM moves WHERE hash = ?", (digest,))
    return True


def _discard_copy(db: Database, tiers: TierStorage, digest: str, dst: Tier) -> None:
    """Remove the ``dst`` copy of a move that did not happen, unless the metadata names it.

    A hot copy is never discarded: it may be the one a put confirmed (moves to hot are never
    cancelled by a put). We hold the artifact's move lock, so no other move can make the
    metadata name ``dst`` after the check.
    """
    if dst in (Tier.HOT, Tier.DELETED):
        return
    row = db.connection().execute("SELECT tier FROM artifacts WHERE hash = ?", (digest,)).fetchone()
    if row is not None and row["tier"] == dst.value:
        return
    with contextlib.suppress(ArtifactError):  # an orphan at worst; gc reclaims it
        tiers.remove_partial(digest, dst)


def _abandon(
    db: Database, tiers: TierStorage, digest: str, dst: Tier, error: BaseException
) -> None:
    """After a failed copy: remove the partial dst copy and the journal row."""
    try:
        if dst is not Tier.DELETED:
            tiers.remove_partial(digest, dst)
    except ArtifactError as cleanup:
        # The journal row stays, so recover() removes the partial copy later.
        error.add_note(f"the partial {dst} copy stays until recover(): {cleanup}")
        return
    _drop(db, digest)


def _drop(db: Database, digest: str) -> None:
    with db.write() as conn:
        conn.execute("DELETE FROM moves WHERE hash = ?", (digest,))


def _journal_row(conn: sqlite3.Connection, digest: str) -> sqlite3.Row | None:
    row: sqlite3.Row | None = conn.execute(
        "SELECT from_tier, to_tier FROM moves WHERE hash = ?", (digest,)
    ).fetchone()
    return row


@contextlib.contextmanager
def _move_lock(root: Path) -> Iterator[None]:
    """Hold the store-wide move lock shared (``gc`` takes it exclusively when no move runs)."""
    try:
        root.mkdir(parents=True, exist_ok=True)
        fd = os.open(root / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as e:
        raise ArtifactError(f"cannot open the move lock in {root}: {e}") from e
    try:
        fcntl.flock(fd, fcntl.LOCK_SH)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


@contextlib.contextmanager
def _digest_lock(root: Path, digest: str, *, blocking: bool) -> Iterator[bool]:
    """Hold the lock of one artifact's move (``<root>/moving/<hash>.lock``).

    The file exists only while its move runs (a crash leaves it unlocked), so the lock is taken
    on an inode that is checked to still be the one the path names (it may have been unlinked
    by the previous holder while we waited).
    """
    folder = root / MOVING_DIR
    path = folder / f"{digest}.lock"
    while True:
        try:
            folder.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as e:
            raise ArtifactError(f"cannot open the move lock {path}: {e}") from e
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            os.close(fd)
            yield False
            return
        try:
            current = path.stat().st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            current = False
        if current:
            break
        os.close(fd)
    try:
        yield True
    finally:
        path.unlink(missing_ok=True)  # before closing, so waiters see a stale inode and retry
        os.close(fd)


def _sweep_lock_files(root: Path) -> None:
    """Remove lock files that dead movers left behind (a crash right before unlinking one)."""
    folder = root / MOVING_DIR
    if not folder.is_dir():
        return
    for path in sorted(folder.glob("*.lock")):
        with _digest_lock(root, path.name.removesuffix(".lock"), blocking=False):
            pass  # taking and releasing the lock of a dead mover removes its file
