"""The pool's work outside its lock on live instances: returning leases, closing, health checks.

Each function claims its instance under the table's lock first (a COOLING state, a ``closing``
flag, a ``checking`` flag), so every created instance is closed exactly once and a health check
never races an eviction; then it calls the factory with the lock released and records the
outcome under the lock again. A factory that raises here is logged and described, never
propagated: a broken ``close`` must not keep a slot from going COLD.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from engine.pit.pool.lifecycle import InstanceState

if TYPE_CHECKING:
    from collections.abc import Sequence

    from engine.pit.pool.lease import Lease, Live, Slot
    from engine.pit.pool.table import PoolTable

__all__ = ["check_health", "close_instance", "close_retired", "cool", "describe", "release"]

log = logging.getLogger("symphony.pool")


def release(table: PoolTable, lease: Lease) -> None:
    """Give a lease back (idempotent); closes a retired instance after its last lease."""
    live = lease._live
    with table.lock:
        if lease._released:
            return
        lease._released = True
        live.leases -= 1
        slot = lease._slot
        if slot.live is live:
            slot.last_used = table.clock()
            if live.leases == 0:
                table.wake()
            return
        if not live.retired or live.leases or live.closing:
            return
        live.closing = True
    close_retired(table, live)


def cool(table: PoolTable, slots: Sequence[tuple[Slot, Live]]) -> None:
    """Close the instances of COOLING slots and make the slots COLD."""
    for slot, live in slots:
        problem = close_instance(live)
        with table.cond:
            slot.live = None
            table.move(slot, InstanceState.COLD, problem or slot.reason)
            table.wake()
        table.events.flush()


def close_retired(table: PoolTable, live: Live) -> None:
    """Close a retired instance whose ``closing`` this thread claimed, and free its room."""
    close_instance(live)
    with table.cond:
        table.retired.discard(live)
        table.wake()


def check_health(table: PoolTable, slot: Slot, live: Live) -> None:
    """Run one claimed health check; a failed one makes the slot FAILED and retires ``live``.

    The retired instance is closed now, or after its last lease when it is leased.
    """
    try:
        problem = "" if live.factory.healthy(slot.key, live.value) else "health check failed"
    except Exception as e:
        problem = f"health check raised {describe(e)}"
    with table.cond:
        slot.checking = False
        slot.last_checked = table.clock()
        if not problem or slot.live is not live or slot.state is not InstanceState.HOT:
            return
        slot.live = None
        live.retired = True
        table.retired.add(live)
        table.fail(slot, problem)
        live.closing = close_now = live.leases == 0
    table.events.flush()
    if close_now:
        close_retired(table, live)


def close_instance(live: Live) -> str:
    """Close one instance through its factory; returns what went wrong ("" when nothing)."""
    try:
        live.factory.close(live.key, live.value)
    except Exception as e:
        log.warning("pool: closing %s failed", live.key, exc_info=True)
        return f"close failed: {describe(e)}"
    return ""


def describe(error: BaseException) -> str:
    """``Type: message`` of an exception, for reasons."""
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__
