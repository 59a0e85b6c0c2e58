"""The pool manager: lifecycle, capacity and failover of expensive instances (SPEC §3.5).

:class:`PoolManager` keeps instances made by a :class:`Factory` per kind (AI model sessions and
clients, later language servers) Cold → Warming → Hot → Cooling → Cold, or Failed; callers hold
a :class:`Lease` while they use one. Every state change is a :class:`PoolEvent`.

Inside: ``lifecycle`` (states, transitions, events, errors), ``factory``, ``lease`` (per-key
records), ``capacity`` (room and eviction arithmetic), ``table`` (the locked table and its rules),
``upkeep`` (closing and health checks outside the lock), ``events`` (ordered delivery),
``background`` (the ticker and prewarm threads) and ``manager`` (the public API).
"""

from __future__ import annotations

from engine.pit.pool.capacity import Room, Usage, make_room
from engine.pit.pool.factory import Factory, FunctionFactory
from engine.pit.pool.lease import Lease
from engine.pit.pool.lifecycle import (
    TRANSITIONS,
    InstanceState,
    PoolError,
    PoolEvent,
    PoolTimeout,
    can_move,
)
from engine.pit.pool.manager import PoolManager

__all__ = [
    "TRANSITIONS",
    "Factory",
    "FunctionFactory",
    "InstanceState",
    "Lease",
    "PoolError",
    "PoolEvent",
    "PoolManager",
    "PoolTimeout",
    "Room",
    "Usage",
    "can_move",
    "make_room",
]
