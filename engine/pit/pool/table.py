"""The pool's table: every key's slot and the rules applied to it, under one lock.

:class:`PoolTable` holds the slots, the retired instances, the registered factories and the one
lock (with a Condition for waiting) that guards them, and applies the rules that need nothing but
the table: legal transitions and their events, failure back-off, capacity and eviction choice,
bounded waiting. Every method expects the lock held unless its docstring says otherwise; none
calls a factory or an event callback (the manager does that, outside the lock).
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING

from engine.pit.pool.capacity import Room, Usage, make_room
from engine.pit.pool.events import EventRelay
from engine.pit.pool.lease import Lease, Live, Slot
from engine.pit.pool.lifecycle import InstanceState, PoolEvent, PoolTimeout, can_move

if TYPE_CHECKING:
    from collections.abc import Callable

    from engine.pit.pool.factory import Factory
    from engine.pit.pool.manager import PoolManager

__all__ = ["PoolTable", "Unavailable"]

log = logging.getLogger("symphony.pool")

_COLD = InstanceState.COLD
_WARMING = InstanceState.WARMING
_HOT = InstanceState.HOT
_COOLING = InstanceState.COOLING
_FAILED = InstanceState.FAILED


class Unavailable(Exception):
    """This key cannot be had now; the caller may fail over to the next one."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class PoolTable:
    """Slots, retired instances and factories of one pool, and the lock that guards them.

    Args:
        max_instances: live or warming instances at most.
        memory_budget_mb: their estimated memory at most (None: no budget).
        clock: monotonic seconds for LRU order and back-off.
        max_failures: failures in a row after which a key is held for ``failure_cooldown_s``.
        retry_backoff_s: hold after one failure, doubled per failure in a row.
        failure_cooldown_s: hold after ``max_failures`` failures in a row (and the longest hold).
        on_event: receives every :class:`PoolEvent` (delivered by :attr:`events`).
    """

    def __init__(
        self,
        *,
        max_instances: int,
        memory_budget_mb: float | None,
        clock: Callable[[], float],
        max_failures: int,
        retry_backoff_s: float,
        failure_cooldown_s: float,
        on_event: Callable[[PoolEvent], None] | None,
    ) -> None:
        self.lock = threading.Lock()
        self.cond = threading.Condition(self.lock)
        self.slots: dict[str, Slot] = {}
        self.retired: set[Live] = set()  # failed a health check while leased, or being closed
        self.factories: dict[str, Factory] = {}
        self.closed = False
        self.events = EventRelay(on_event)
        self.clock = clock
        self.max_instances = max_instances
        self.budget_mb = memory_budget_mb
        self.max_failures = max_failures
        self.retry_backoff_s = max(0.0, retry_backoff_s)
        self.failure_cooldown_s = max(0.0, failure_cooldown_s)
        self._waiting = 0  # threads in cond.wait: releases notify only when someone waits

    # -- slots and transitions ------------------------------------------------------------------

    def slot_for(self, key: str) -> Slot:
        """The slot of ``key``, made COLD on first sight; Unavailable for a bad key or kind."""
        slot = self.slots.get(key)
        if slot is None:
            kind, colon, name = key.partition(":")
            if not (colon and kind and name):
                raise Unavailable("a key looks like 'kind:name'")
            if kind not in self.factories:
                raise Unavailable(f"no factory registered for kind {kind!r}")
            slot = self.slots[key] = Slot(key)
        return slot

    def factory_of(self, key: str) -> Factory:
        """The factory for ``key``'s kind (it must be registered)."""
        return self.factories[key.partition(":")[0]]

    def lease(self, owner: PoolManager, slot: Slot) -> Lease:
        """Lease the instance of a HOT slot."""
        live = slot.live
        assert live is not None
        live.leases += 1
        slot.last_used = self.clock()
        slot.prewarmed = False
        return Lease(owner, slot, live)

    def move(self, slot: Slot, new: InstanceState, reason: str) -> None:
        """Change a slot's state, record why, and queue the event."""
        old = slot.state
        assert can_move(old, new), f"{slot.key}: {old} → {new}"
        slot.state = new
        slot.reason = reason
        if self.events.wanted:
            self.events.add(PoolEvent(key=slot.key, old=old, new=new, reason=reason))
        log.debug("pool: %s %s → %s (%s)", slot.key, old, new, reason)

    def busy(self) -> bool:
        """Whether a warm-up or a close is under way (outside the lock)."""
        return any(s.state is _WARMING or s.state is _COOLING for s in self.slots.values()) or any(
            live.closing for live in self.retired
        )

    # -- failures -------------------------------------------------------------------------------

    def fail(self, slot: Slot, reason: str) -> None:
        """Make a slot FAILED and hold it for the back-off its failures in a row earn."""
        slot.failures += 1
        if slot.failures >= self.max_failures:
            hold_s = self.failure_cooldown_s
        else:
            hold_s = min(self.retry_backoff_s * 2 ** (slot.failures - 1), self.failure_cooldown_s)
        slot.failed_until = self.clock() + hold_s
        self.move(slot, _FAILED, reason)
        log.warning("pool: %s failed (%d in a row): %s", slot.key, slot.failures, reason)

    def may_warm(self, slot: Slot, now: float) -> bool:
        """Whether the slot is COLD, or FAILED with its hold over."""
        return slot.state is _COLD or (slot.state is _FAILED and now >= slot.failed_until)

    def failure_story(self, slot: Slot) -> str:
        """Why a held FAILED slot is not tried now, and when it will be."""
        left_s = max(0.0, slot.failed_until - self.clock())
        if slot.failures >= self.max_failures:
            return (
                f"failed {slot.failures} times in a row (last: {slot.reason}); "
                f"retried in {left_s:.0f} s or after reset()"
            )
        return f"{slot.reason}; retried in {left_s:.1f} s"

    # -- capacity -------------------------------------------------------------------------------

    def usage(self, *, prewarm: bool) -> tuple[Usage, Usage, list[Slot]]:
        """Used and freeing capacity, and the evictable slots, least recently used first.

        Evictable: HOT, no leases, no health check running, and — for a prewarm — not itself
        prewarmed and unused since.
        """
        count = freeing_count = 0
        memory = freeing_memory = 0.0
        idle: list[Slot] = []
        for slot in self.slots.values():
            state = slot.state
            if state is _WARMING or state is _HOT or state is _COOLING:
                count += 1
                memory += slot.memory_mb
                if state is _COOLING:
                    freeing_count += 1
                    freeing_memory += slot.memory_mb
                elif (
                    state is _HOT
                    and slot.live is not None
                    and slot.live.leases == 0
                    and not slot.checking
                    and not (prewarm and slot.prewarmed)
                ):
                    idle.append(slot)
        for live in self.retired:
            count += 1
            memory += live.memory_mb
            if live.closing:
                freeing_count += 1
                freeing_memory += live.memory_mb
        idle.sort(key=lambda s: s.last_used)
        return Usage(count, memory), Usage(freeing_count, freeing_memory), idle

    def room(self, need_mb: float, *, prewarm: bool) -> Room:
        """How one more instance of ``need_mb`` fits (see :func:`make_room`)."""
        used, freeing, idle = self.usage(prewarm=prewarm)
        return make_room(
            need_mb,
            used=used,
            freeing=freeing,
            idle=[(slot.key, slot.memory_mb) for slot in idle],
            max_instances=self.max_instances,
            budget_mb=self.budget_mb,
        )

    def capacity_story(self, need_mb: float) -> str:
        """Why an instance of ``need_mb`` has to wait, in words."""
        used, _, _ = self.usage(prewarm=False)
        story = f"{used.count}/{self.max_instances} instances"
        if self.budget_mb is not None:
            story += f", {used.memory_mb:g}/{self.budget_mb:g} MB (needs {need_mb:g} MB)"
        return f"no room ({story}) and no idle instance to evict"

    # -- waiting --------------------------------------------------------------------------------

    def wait(self, deadline: float | None, key: str, why: str) -> None:
        """Wait for a change, or raise :class:`PoolTimeout` once ``deadline`` has passed.

        ``deadline`` is :func:`time.monotonic` time (timeouts are real, whatever the clock).
        """
        if deadline is None:
            self.wait_for_change(None)
            return
        left_s = deadline - time.monotonic()
        if left_s <= 0:
            raise PoolTimeout(f"timed out waiting for {key!r}: {why}", key=key, reason=why)
        self.wait_for_change(left_s)

    def wait_for_change(self, timeout: float | None) -> None:
        """Wait until :meth:`wake` (or ``timeout`` seconds)."""
        self._waiting += 1
        try:
            self.cond.wait(timeout)
        finally:
            self._waiting -= 1

    @property
    def waiting(self) -> int:
        """Threads waiting for a change right now."""
        return self._waiting

    def wake(self) -> None:
        """Wake every waiting thread, if any waits."""
        if self._waiting:
            self.cond.notify_all()
