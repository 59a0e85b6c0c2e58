"""Choosing among extensions that offer the same step type (capability).

The default policy is Thompson sampling over each extension's recorded successes and failures
(a Beta(successes + 1, failures + 1) draw per candidate; the highest draw goes first, the rest
are the fallback order). A new extension gets explored, a reliable one is preferred, and one
that starts failing loses its place without being banned forever. Anything with a ``rank``
method of the same shape can replace it (an external, learned policy).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from engine.runs.store import Outcome

__all__ = ["Policy", "Ranking", "ThompsonPolicy"]


@dataclass(frozen=True, slots=True)
class Ranking:
    """Candidates best first, and why."""

    order: tuple[str, ...]
    rationale: str


class Policy(Protocol):
    """Orders the providers of a capability; the first is called, the rest are fallbacks."""

    def rank(
        self, capability: str, candidates: Sequence[str], outcomes: Mapping[str, Outcome]
    ) -> Ranking: ...


class ThompsonPolicy:
    """Thompson sampling on success rates; ``seed`` makes it reproducible (tests)."""

    def __init__(self, seed: int | None = None) -> None:
        self._random = random.Random(seed)

    def rank(
        self, capability: str, candidates: Sequence[str], outcomes: Mapping[str, Outcome]
    ) -> Ranking:
        if len(candidates) == 1:
            return Ranking(
                tuple(candidates), f"{candidates[0]} is the only provider of {capability}"
            )
        draws: dict[str, float] = {}
        for ext in candidates:
            o = outcomes.get(ext)
            wins, losses = (o.successes, o.failures) if o else (0, 0)
            draws[ext] = self._random.betavariate(wins + 1, losses + 1)
        order = tuple(sorted(candidates, key=lambda e: (-draws[e], e)))

        def record(ext: str) -> str:
            o = outcomes.get(ext)
            seen = f"{o.successes}/{o.successes + o.failures} succeeded" if o else "untried"
            return f"{ext} ({seen}, draw {draws[ext]:.2f})"

        return Ranking(
            order,
            f"Thompson sampling: {record(order[0])} over "
            + ", ".join(record(e) for e in order[1:]),
        )
