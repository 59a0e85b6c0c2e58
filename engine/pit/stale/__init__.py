"""The stale manager: tiering of artifacts by age, use and value (SPEC §3.5)."""

from __future__ import annotations

from engine.pit.stale.manager import StaleManager, TierReport
from engine.pit.stale.moves import MoveSkipped, move, recover
from engine.pit.stale.policy import (
    PlannedMove,
    RetentionSettings,
    estimated_warm_size,
    plan,
    value_score,
)
from engine.pit.stale.tiers import TierStorage

__all__ = [
    "MoveSkipped",
    "PlannedMove",
    "RetentionSettings",
    "StaleManager",
    "TierReport",
    "TierStorage",
    "estimated_warm_size",
    "move",
    "plan",
    "recover",
    "value_score",
]
