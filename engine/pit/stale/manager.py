"""The stale manager: plans tier moves with the policy and applies them, one safe move at a time.

``plan`` is the dry run (it changes nothing); ``apply`` carries moves out, continuing past a
failed one and reporting it, and skipping (not failing) a move that is no longer wanted by the
time it starts: the artifact got pinned, protected, read or stored again since the plan, or
someone else moved it; ``rehydrate`` brings one artifact back to the hot tier; ``recover``
finishes moves a crash interrupted.

This module must not decide policy (:mod:`engine.pit.stale.policy`) nor move bytes itself
(:mod:`engine.pit.stale.moves`); it never deletes a pinned or protected artifact because the
policy never plans that and each move re-checks it when it starts.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import msgspec

from engine.pit.artifacts.models import Tier
from engine.pit.stale import moves as _moves
from engine.pit.stale.policy import PlannedMove, plan
from engine.types.errors import ArtifactError

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from engine.pit.artifacts.db import Database
    from engine.pit.stale.policy import RetentionSettings
    from engine.pit.stale.tiers import TierStorage

_LOCAL = (Tier.HOT, Tier.WARM)


class TierReport(msgspec.Struct, frozen=True, kw_only=True):
    """What :meth:`StaleManager.apply` did.

    Attributes:
        moved: the moves carried out.
        failed: the moves that failed, each with the error message; the artifact stayed put.
        freed_local_bytes: hot + warm bytes freed (negative when rehydration grew them).
        skipped: the moves not carried out because they were no longer wanted (pinned,
            protected, used or stored again since the plan, moved by someone else, or
            cancelled by a put), each with the reason; not failures.
    """

    moved: tuple[PlannedMove, ...]
    failed: tuple[tuple[PlannedMove, str], ...]
    freed_local_bytes: int
    skipped: tuple[tuple[PlannedMove, str], ...] = ()


class StaleManager:
    """Tiering of one artifact store.

    Args:
        db: the store's metadata database.
        tiers: the store's byte storage (its ``cold_url`` should match ``retention.cold_url``).
        retention: hot_days, warm_days, budget_mb, cold_url, keep_tags (``ArtifactRetention``).
    """

    def __init__(self, db: Database, tiers: TierStorage, retention: RetentionSettings) -> None:
        self.db = db
        self.tiers = tiers
        self.retention = retention

    def plan(self, now: float | None = None) -> list[PlannedMove]:
        """The moves the policy wants now (or at ``now``); the dry run, it changes nothing."""
        return plan(self.db, self.retention, time.time() if now is None else now)

    def apply(
        self,
        moves: Sequence[PlannedMove] | None = None,
        *,
        progress: Callable[[int, int], None] | None = None,
    ) -> TierReport:
        """Carry out ``moves`` (default: a fresh :meth:`plan`), one crash-safe move at a time.

        Args:
            moves: the moves to apply, in order.
            progress: called as ``progress(done, total)`` after each move, failed or not.

        Returns:
            What moved, what was skipped or failed and why, and how many local bytes were freed.
        """
        todo = list(self.plan() if moves is None else moves)
        moved: list[PlannedMove] = []
        failed: list[tuple[PlannedMove, str]] = []
        skipped: list[tuple[PlannedMove, str]] = []
        keep_tags = tuple(self.retention.keep_tags)
        freed = 0
        for done, m in enumerate(todo, start=1):
            planned = _moves.Planned(last_access=m.last_access, keep_tags=keep_tags)
            try:
                new_size = _moves.move(self.db, self.tiers, m.hash, m.src, m.dst, planned=planned)
            except _moves.MoveSkipped as e:
                skipped.append((m, _reason(e, m.hash)))
            except ArtifactError as e:
                failed.append((m, str(e)))
            else:
                moved.append(m)
                freed += (m.size if m.src in _LOCAL else 0) - (new_size if m.dst in _LOCAL else 0)
            if progress is not None:
                progress(done, len(todo))
        return TierReport(
            moved=tuple(moved),
            failed=tuple(failed),
            freed_local_bytes=freed,
            skipped=tuple(skipped),
        )

    def rehydrate(self, digest: str) -> None:
        """Bring ``digest`` back to the hot tier (nothing to do when it is hot already).

        Raises:
            ArtifactError: unknown or deleted artifact, or the move failed.
        """
        row = (
            self.db.connection()
            .execute("SELECT tier FROM artifacts WHERE hash = ?", (digest,))
            .fetchone()
        )
        if row is None:
            raise ArtifactError(f"{digest}: no such artifact")
        tier = Tier(row["tier"])
        if tier is Tier.DELETED:
            raise ArtifactError(
                f"{digest}: the artifact was deleted by tiering; its bytes are gone"
            )
        if tier is not Tier.HOT:
            _moves.move(self.db, self.tiers, digest, tier, Tier.HOT)

    def recover(self) -> list[str]:
        """Finish or undo moves a crash interrupted (see :func:`engine.pit.stale.moves.recover`)."""
        return _moves.recover(self.db, self.tiers)


def _reason(error: Exception, digest: str) -> str:
    """The message of a skipped move without the hash it starts with."""
    return str(error).removeprefix(f"{digest}: ")
