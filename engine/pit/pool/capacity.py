"""Capacity arithmetic of the pool: does one more instance fit, and which idle ones to evict.

Pure functions over numbers, so the rules are testable without threads. An instance being
closed still counts as used until its close returns (a model's memory is not free before then),
but it also counts as *freeing*, so nobody evicts a second instance for room already on its way.
Nothing is evicted unless evicting makes enough room: a half-made room only costs warm instances.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["Room", "Usage", "make_room"]

_SLACK_MB = 1e-9  # sums of float estimates must not refuse an exact fit


@dataclass(frozen=True, slots=True)
class Usage:
    """A number of instances and their estimated memory."""

    count: int = 0
    memory_mb: float = 0.0


@dataclass(frozen=True, slots=True)
class Room:
    """The answer of :func:`make_room`.

    Attributes:
        fits: the new instance fits now.
        evict: keys to evict first (least recently used first); then ask again.
        impossible: why the instance can never fit (empty when it can).

    Neither ``fits`` nor ``evict`` nor ``impossible``: wait until something is released.
    """

    fits: bool = False
    evict: tuple[str, ...] = ()
    impossible: str = ""


def make_room(
    need_mb: float,
    *,
    used: Usage,
    freeing: Usage,
    idle: Sequence[tuple[str, float]],
    max_instances: int,
    budget_mb: float | None,
) -> Room:
    """Decide how one more instance of ``need_mb`` can fit.

    Args:
        need_mb: the new instance's estimated memory.
        used: every live or warming instance, including those being closed.
        freeing: the part of ``used`` being closed right now.
        idle: evictable instances as ``(key, memory_mb)``, least recently used first.
        max_instances: the count limit.
        budget_mb: the memory budget, or None for none.
    """
    if budget_mb is not None and need_mb > budget_mb + _SLACK_MB:
        return Room(
            impossible=f"needs {need_mb:g} MB, more than the whole budget of {budget_mb:g} MB"
        )

    def count_ok(count: int) -> bool:
        return count + 1 <= max_instances

    def memory_ok(memory: float) -> bool:
        return budget_mb is None or memory + need_mb <= budget_mb + _SLACK_MB

    if count_ok(used.count) and memory_ok(used.memory_mb):
        return Room(fits=True)
    count = used.count - freeing.count
    memory = used.memory_mb - freeing.memory_mb
    evict: list[str] = []
    for key, memory_mb in idle:
        if count_ok(count) and memory_ok(memory):
            break
        if count_ok(count) and memory_mb <= 0:
            continue  # only memory is short and this one holds none
        evict.append(key)
        count -= 1
        memory -= memory_mb
    if count_ok(count) and memory_ok(memory):
        return Room(evict=tuple(evict))
    return Room()
