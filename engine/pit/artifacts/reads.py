"""The read path of the artifact store: open an artifact's hot blob, rehydrating it first.

A warm or cold artifact is brought back to hot by the stale manager's crash-safe ``move`` (copy
→ verify → switch tier → delete the old copy), then read from ``blobs/`` like any other. Every
successful open records one access (a single ``UPDATE``), which the tiering policy reads.

This module must not write blobs itself nor decide where artifacts should live.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, BinaryIO

from engine.pit.artifacts import layout
from engine.pit.artifacts.models import Tier
from engine.types.errors import ArtifactError, UsageError

if TYPE_CHECKING:
    import sqlite3
    import threading
    from collections.abc import Callable
    from pathlib import Path

    from engine.pit.artifacts.db import Database
    from engine.pit.stale.tiers import TierStorage

MOVE_WAIT_S = 60.0  # how long an open waits for another process's move of the same artifact
_POLL_S = 0.05


def tier_of(conn: sqlite3.Connection, digest: str) -> Tier:
    """The tier an artifact's row names (UsageError for an unknown hash)."""
    row = conn.execute("SELECT tier FROM artifacts WHERE hash = ?", (digest,)).fetchone()
    if row is None:
        raise UsageError(f"no artifact with hash {digest!r}")
    return Tier(row[0])


def open_hot(
    db: Database,
    root: Path,
    digest: str,
    tiers: Callable[[], TierStorage],
    lock: threading.Lock,
) -> BinaryIO:
    """Open the hot blob of ``digest``, rehydrating it first when it is warm or cold.

    Args:
        db: the store's database.
        root: the store root.
        digest: the artifact's full hash.
        tiers: gives the stale manager's tier storage (called only for a non-hot artifact).
        lock: serialises rehydrations within this process.

    Raises:
        ArtifactError: deleted by tiering, missing, unreadable, or not rehydratable.
    """
    conn = db.connection()
    path = layout.hot_path(root, digest)
    for _attempt in range(3):
        tier = tier_of(conn, digest)
        if tier is Tier.DELETED:
            raise ArtifactError(
                f"artifact {digest[:12]} was deleted by tiering (its metadata is kept);"
                " put the same content again to restore it"
            )
        if tier is not Tier.HOT:
            _rehydrate(db, digest, tiers, lock)
        try:
            fileobj = path.open("rb")
        except FileNotFoundError:
            if tier is Tier.HOT and tier_of(conn, digest) is Tier.HOT:
                raise ArtifactError(
                    f"artifact {digest[:12]}: its blob is missing; run verify"
                ) from None
            continue  # demoted meanwhile by another process: look again
        except OSError as e:
            raise ArtifactError(f"artifact {digest[:12]}: cannot read {path}: {e}") from e
        conn.execute(
            "UPDATE artifacts SET last_access = ?, access_count = access_count + 1 WHERE hash = ?",
            (time.time(), digest),
        )
        return fileobj
    raise ArtifactError(f"artifact {digest[:12]}: it keeps moving between tiers; try again")


def _rehydrate(
    db: Database, digest: str, tiers: Callable[[], TierStorage], lock: threading.Lock
) -> None:
    """Move a warm or cold artifact back to hot through the stale manager.

    When another process is moving the same artifact, ``move`` refuses to start a second move;
    wait for that one to end (its journal row to go) and look again.

    Raises:
        ArtifactError: the move failed (the artifact then stays where it was).
    """
    from engine.pit.stale.moves import move

    storage = tiers()
    conn = db.connection()
    deadline = time.monotonic() + MOVE_WAIT_S
    with lock:
        while True:
            tier = tier_of(conn, digest)
            if tier in (Tier.HOT, Tier.DELETED):
                return
            try:
                move(db, storage, digest, tier, Tier.HOT)
                return
            except ArtifactError:
                # Someone else moved it (tier changed) or is moving it (journal row): look again.
                moving = conn.execute("SELECT 1 FROM moves WHERE hash = ?", (digest,)).fetchone()
                changed = tier_of(conn, digest) is not tier
                if not (moving or changed) or time.monotonic() > deadline:
                    raise
            time.sleep(_POLL_S)
