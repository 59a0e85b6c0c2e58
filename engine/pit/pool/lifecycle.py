"""Instance states of the pool, the transitions allowed between them, events and errors.

    COLD → WARMING → HOT → COOLING → COLD
    WARMING → FAILED    create raised
    HOT → FAILED        a health check failed (the instance is closed)
    FAILED → WARMING    retried once its back-off has passed
    FAILED → COLD       reset(), or the back-off passed while nobody asked for it
    WARMING → COOLING   the pool was closed while the instance warmed

Every change of state is one :class:`PoolEvent`. This module holds data only; it must not import
the manager.
"""

from __future__ import annotations

import time
from enum import StrEnum

import msgspec

from engine.types.errors import EXIT_RETRYABLE, SymphonyError

__all__ = ["TRANSITIONS", "InstanceState", "PoolError", "PoolEvent", "PoolTimeout", "can_move"]


class InstanceState(StrEnum):
    """Where one pooled instance is in its lifecycle."""

    COLD = "cold"
    WARMING = "warming"
    HOT = "hot"
    COOLING = "cooling"
    FAILED = "failed"


TRANSITIONS: dict[InstanceState, frozenset[InstanceState]] = {
    InstanceState.COLD: frozenset({InstanceState.WARMING}),
    InstanceState.WARMING: frozenset(
        {InstanceState.HOT, InstanceState.FAILED, InstanceState.COOLING}
    ),
    InstanceState.HOT: frozenset({InstanceState.COOLING, InstanceState.FAILED}),
    InstanceState.COOLING: frozenset({InstanceState.COLD}),
    InstanceState.FAILED: frozenset({InstanceState.WARMING, InstanceState.COLD}),
}


def can_move(old: InstanceState, new: InstanceState) -> bool:
    """Whether ``old → new`` is a legal transition."""
    return new in TRANSITIONS[old]


class PoolEvent(msgspec.Struct, frozen=True, kw_only=True):
    """One instance changed state.

    Attributes:
        ts: wall-clock time of the change (seconds since the epoch).
        key: the instance's key (``kind:name``).
        old: the state it left.
        new: the state it entered.
        reason: why, in words (``"acquire"``, ``"idle for 300 s"``, ``"create failed: …"``).
    """

    ts: float = msgspec.field(default_factory=time.time)
    key: str
    old: InstanceState
    new: InstanceState
    reason: str = ""


class PoolError(SymphonyError):
    """No instance could be had for a key (failed, unknown kind, over budget, pool closed).

    Attributes:
        key: the key asked for.
        reason: why, naming each key tried when fallbacks were given.
    """

    code = "pool.error"

    def __init__(self, message: str, *, key: str = "", reason: str = "") -> None:
        super().__init__(message)
        self.key = key
        self.reason = reason or message


class PoolTimeout(PoolError):
    """Waiting for capacity (or for another thread's warm-up) took longer than the timeout."""

    code = "pool.timeout"
    exit_code = EXIT_RETRYABLE
    retryable = True
