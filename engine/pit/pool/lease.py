"""The pool's per-key records and the :class:`Lease` a caller holds while using an instance.

:class:`Slot` is one key's row in the pool's table; :class:`Live` is one created instance, which
outlives its slot's hold on it when it is retired (failed a health check while leased) until
its last lease is released. Both are mutated only with the pool's lock held. Nothing here takes
a lock of its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from engine.pit.pool.lifecycle import InstanceState

if TYPE_CHECKING:
    from types import TracebackType

    from engine.pit.pool.factory import Factory
    from engine.pit.pool.manager import PoolManager

__all__ = ["Lease", "Live", "Slot"]


@dataclass(slots=True, eq=False)
class Live:
    """One created instance.

    Attributes:
        key: the key it was made for.
        value: what the factory's ``create`` returned.
        factory: the factory that made it (and will close it).
        memory_mb: its estimated memory.
        leases: leases not yet released.
        retired: no longer its slot's instance; closed when ``leases`` reaches 0.
        closing: its close has been claimed (so it happens exactly once).
    """

    key: str
    value: object
    factory: Factory
    memory_mb: float
    leases: int = 0
    retired: bool = False
    closing: bool = False


@dataclass(slots=True, eq=False)
class Slot:
    """One key's row in the pool's table.

    Attributes:
        key: ``kind:name``.
        state: where it is in the lifecycle.
        live: its instance while HOT (and while COOLING, until closed).
        memory_mb: estimated memory reserved while WARMING, HOT or COOLING.
        last_used: pool-clock time of the last acquire or release (LRU and idle cool-down).
        last_checked: pool-clock time of the last health check (or of warming).
        checking: a health check is running outside the lock.
        prewarmed: warmed by ``prewarm`` and not leased since (prewarm never evicts it).
        failures: failures in a row (create raised, health check failed).
        failed_until: pool-clock time before which a FAILED key is not retried.
        reason: why it last failed or changed state.
    """

    key: str
    state: InstanceState = InstanceState.COLD
    live: Live | None = None
    memory_mb: float = 0.0
    last_used: float = 0.0
    last_checked: float = 0.0
    checking: bool = False
    prewarmed: bool = False
    failures: int = 0
    failed_until: float = 0.0
    reason: str = ""


class Lease:
    """The right to use one pooled instance until released.

    Use it as a context manager, or call :meth:`release` (idempotent). A leased instance is never
    evicted or cooled down; it is closed under the lease only when the pool itself is closed.

    Attributes:
        key: the key of the instance actually leased (a fallback's key after failover).
        instance: the instance.
    """

    __slots__ = ("_live", "_pool", "_released", "_slot", "instance", "key")

    def __init__(self, pool: PoolManager, slot: Slot, live: Live) -> None:
        self._pool = pool
        self._slot = slot
        self._live = live
        self._released = False
        self.key = slot.key
        self.instance = live.value

    @property
    def released(self) -> bool:
        """Whether :meth:`release` was called."""
        return self._released

    def release(self) -> None:
        """Give the instance back to the pool; calling it again does nothing."""
        self._pool._release(self)

    def __enter__(self) -> Lease:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()

    def __repr__(self) -> str:
        state = "released" if self._released else "held"
        return f"<Lease {self.key} {state}>"
