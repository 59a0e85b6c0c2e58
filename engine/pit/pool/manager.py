"""The pool manager: keeps expensive instances (model sessions, later language servers) warm.

Making an instance is slow (loading a model, starting a server), so the pool keeps instances HOT
between uses, within a count limit and a memory budget, and cools down those nobody used for a
while (SPEC §3.5). The rules:

* ``acquire`` of a HOT key is the fast path: a dict lookup and a counter under the lock; it never
  calls the factory. A COLD key is warmed by its first acquirer; concurrent acquirers of the same
  key wait for that one warm-up.
* Capacity: live and warming instances ≤ ``max_instances``, their estimated memory ≤ the budget.
  Room is made by evicting the least recently used *idle* HOT instance (Cooling → Cold). A leased
  instance is never evicted; with nothing idle, ``acquire`` waits up to its timeout, then raises
  :class:`PoolTimeout`. ``prewarm`` never waits and never evicts what an earlier prewarm warmed.
* Failures: ``create`` raising or a failed health check makes the key FAILED with the reason;
  ``acquire`` then fails over to its fallbacks, in order. A failed key is retried after a back-off
  that doubles with each failure in a row; after ``max_failures`` in a row it stays FAILED for
  ``failure_cooldown_s`` or until :meth:`PoolManager.reset`.
* One lock (with a Condition for waiting) guards the table (:mod:`engine.pit.pool.table`).
  ``create``, ``close``, ``healthy`` and event callbacks always run outside it; every created
  instance is closed exactly once.
* ``clock`` drives LRU order, idle cool-down, health intervals and back-off, so tests can use a
  fake one; ``acquire`` timeouts are real time.

This module must not know what the instances are, and must not call a factory or a callback with
the lock held.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from engine.pit.pool.background import Prewarmer, Ticker
from engine.pit.pool.lease import Lease, Live, Slot
from engine.pit.pool.lifecycle import InstanceState, PoolError, PoolEvent
from engine.pit.pool.table import PoolTable, Unavailable
from engine.pit.pool.upkeep import check_health, close_retired, cool, describe, release

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping, Sequence
    from types import TracebackType

    from engine.pit.pool.factory import Factory

__all__ = ["PoolManager"]

log = logging.getLogger("symphony.pool")

_COLD = InstanceState.COLD
_WARMING = InstanceState.WARMING
_HOT = InstanceState.HOT
_COOLING = InstanceState.COOLING
_FAILED = InstanceState.FAILED


class PoolManager:
    """Lifecycle, capacity and failover of pooled instances, keyed ``kind:name``.

    Args:
        factories: a factory per kind (more with :meth:`register`).
        max_instances: live or warming instances at most.
        memory_budget_mb: their estimated memory at most (None: no budget).
        idle_cooldown_s: a HOT instance without leases for this long is cooled down by :meth:`tick`.
        health_interval_s: how often :meth:`tick` checks each HOT instance's health.
        on_event: receives every :class:`PoolEvent`, in order, outside the pool's lock.
        clock: monotonic seconds for LRU, cool-down, health checks and back-off.
        max_failures: failures in a row after which a key stays FAILED for ``failure_cooldown_s``.
        retry_backoff_s: wait before retrying a failed key, doubled per failure in a row.
        failure_cooldown_s: how long a key that failed ``max_failures`` times stays FAILED.
        tick_interval_s: how often the thread of :meth:`start` calls :meth:`tick`.
        prewarm_workers: threads that run :meth:`prewarm` warm-ups.
    """

    def __init__(
        self,
        factories: Mapping[str, Factory] | None = None,
        *,
        max_instances: int = 8,
        memory_budget_mb: float | None = None,
        idle_cooldown_s: float = 300.0,
        health_interval_s: float = 30.0,
        on_event: Callable[[PoolEvent], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        max_failures: int = 3,
        retry_backoff_s: float = 1.0,
        failure_cooldown_s: float = 300.0,
        tick_interval_s: float = 1.0,
        prewarm_workers: int = 2,
    ) -> None:
        if max_instances < 1 or max_failures < 1 or prewarm_workers < 1:
            raise PoolError("max_instances, max_failures and prewarm_workers must be at least 1")
        if memory_budget_mb is not None and not memory_budget_mb > 0:
            raise PoolError(f"memory_budget_mb must be positive, not {memory_budget_mb}")
        if not min(idle_cooldown_s, health_interval_s, tick_interval_s) > 0:
            raise PoolError("idle_cooldown_s, health_interval_s, tick_interval_s must be positive")
        self._table = table = PoolTable(
            max_instances=max_instances,
            memory_budget_mb=memory_budget_mb,
            clock=clock,
            max_failures=max_failures,
            retry_backoff_s=retry_backoff_s,
            failure_cooldown_s=failure_cooldown_s,
            on_event=on_event,
        )
        # The fast path reads these without going through the table.
        self._lock = table.lock
        self._slots = table.slots
        self._clock = clock
        self._idle_cooldown_s = idle_cooldown_s
        self._health_interval_s = health_interval_s
        self._ticker = Ticker(self.tick, tick_interval_s, "symphony-pool")
        self._prewarmer = Prewarmer(self._prewarm_one, prewarm_workers, "symphony-pool-warm")
        for kind, factory in (factories or {}).items():
            self.register(kind, factory)

    # -- public API -----------------------------------------------------------------------------

    def register(self, kind: str, factory: Factory) -> None:
        """Use ``factory`` for keys ``kind:…`` (replacing an earlier one for new instances)."""
        if not kind or ":" in kind:
            raise PoolError(f"a kind is a non-empty name without ':', not {kind!r}")
        with self._lock:
            self._table.factories[kind] = factory

    def acquire(
        self, key: str, *, timeout: float | None = None, fallbacks: Sequence[str] = ()
    ) -> Lease:
        """Lease the instance for ``key``, warming it (or a fallback) when needed.

        Args:
            key: ``kind:name``.
            timeout: seconds to wait for capacity or another thread's warm-up (None: no limit).
            fallbacks: keys to try, in order, when ``key`` is failed or fails to warm.

        Raises:
            PoolTimeout: no room (or warm-up) within ``timeout``.
            PoolError: neither ``key`` nor any fallback could be had (the reason names each), or
                the pool is closed.
        """
        with self._lock:
            slot = self._slots.get(key)
            if slot is not None and slot.state is _HOT and not self._table.closed:
                live = slot.live
                assert live is not None
                live.leases += 1
                slot.last_used = self._clock()
                slot.prewarmed = False
                return Lease(self, slot, live)
        deadline = None if timeout is None else time.monotonic() + max(0.0, timeout)
        problems: list[str] = []
        for candidate in dict.fromkeys((key, *fallbacks)):
            try:
                lease = self._obtain(candidate, deadline, lease=True)
            except Unavailable as e:
                problems.append(f"{candidate}: {e.reason}")
                continue
            assert lease is not None
            if candidate != key:
                log.info("pool: %s unavailable, using fallback %s", key, candidate)
            return lease
        reason = "; ".join(problems)
        raise PoolError(f"no instance for {key!r}: {reason}", key=key, reason=reason)

    def prewarm(self, keys: Iterable[str]) -> None:
        """Start warming ``keys`` in the background; returns at once.

        A key is skipped when it is not COLD (or FAILED past its back-off), when it would have to
        wait for room, or when its kind is unknown. Prewarming evicts only idle instances that
        were used since they warmed, never leased ones nor other prewarmed ones.
        """
        table = self._table
        with self._lock:
            if table.closed:
                return
            now = self._clock()
            wanted: list[str] = []
            for key in keys:
                slot = self._slots.get(key)
                if slot is not None and not table.may_warm(slot, now):
                    continue
                if table.factories.get(key.partition(":")[0]) is None:
                    log.warning("pool: cannot prewarm %r: no factory for its kind", key)
                    continue
                wanted.append(key)
        for key in wanted:
            self._prewarmer.submit(key)

    def settle(self, timeout: float | None = None) -> bool:
        """Wait until every warm-up :meth:`prewarm` started has finished (or was skipped).

        Returns:
            False when ``timeout`` passed first.
        """
        return self._prewarmer.settle(timeout)

    def state(self, key: str) -> InstanceState:
        """The state of ``key`` (COLD when the pool has never seen it)."""
        with self._lock:
            slot = self._slots.get(key)
            return _COLD if slot is None else slot.state

    def snapshot(self) -> list[dict[str, Any]]:
        """One row per known key: key, state, leases, last_used, memory (MB), failures, reason."""
        with self._lock:
            return [
                {
                    "key": slot.key,
                    "state": slot.state,
                    "leases": 0 if slot.live is None else slot.live.leases,
                    "last_used": slot.last_used,
                    "memory": slot.memory_mb,
                    "failures": slot.failures,
                    "reason": slot.reason,
                }
                for slot in sorted(self._slots.values(), key=lambda s: s.key)
            ]

    def tick(self) -> None:
        """Cool down idle instances, check the health of HOT ones, release expired failures.

        A HOT instance without leases for ``idle_cooldown_s`` goes Cooling → Cold; one whose
        health check fails (or raises) goes FAILED and is closed (after its last lease, if
        leased); a FAILED key whose back-off has passed goes COLD.
        """
        table = self._table
        now = self._clock()
        cooling: list[tuple[Slot, Live]] = []
        check: list[tuple[Slot, Live]] = []
        with self._lock:
            if table.closed:
                return
            for slot in self._slots.values():
                live = slot.live
                if slot.state is _HOT and live is not None and not slot.checking:
                    idle_s = now - slot.last_used
                    if live.leases == 0 and idle_s >= self._idle_cooldown_s:
                        table.move(slot, _COOLING, f"idle for {idle_s:.0f} s")
                        cooling.append((slot, live))
                    elif now - slot.last_checked >= self._health_interval_s:
                        slot.checking = True
                        check.append((slot, live))
                elif slot.state is _FAILED and now >= slot.failed_until:
                    table.move(slot, _COLD, f"may be retried after {slot.failures} failure(s)")
        table.events.flush()
        cool(self._table, cooling)
        for slot, live in check:
            check_health(self._table, slot, live)

    def reset(self, key: str) -> None:
        """Forget the failures of ``key``; a FAILED key becomes COLD and is tried again."""
        with self._lock:
            slot = self._slots.get(key)
            if slot is None:
                return
            slot.failures = 0
            slot.failed_until = 0.0
            if slot.state is _FAILED:
                self._table.move(slot, _COLD, "reset")
        self._table.events.flush()

    def start(self) -> None:
        """Start the thread that calls :meth:`tick` every ``tick_interval_s`` (idempotent)."""
        with self._lock:
            if self._table.closed:
                raise PoolError("the pool is closed")
        self._ticker.start()

    def close(self) -> None:
        """Stop the threads and close every instance exactly once (idempotent).

        Waits for warm-ups and closes already under way (a warm-up that finishes now is closed
        at once); leased instances are closed too, and later ``acquire`` calls raise.
        """
        table = self._table
        with table.cond:
            if table.closed:
                return
            table.closed = True
            table.cond.notify_all()
        self._ticker.stop()
        self._prewarmer.stop()
        with table.cond:
            while table.busy():
                table.wait_for_change(None)
            cooling: list[tuple[Slot, Live]] = []
            for slot in self._slots.values():
                if slot.state is _HOT and slot.live is not None:
                    table.move(slot, _COOLING, "pool closed")
                    cooling.append((slot, slot.live))
            retired = list(table.retired)
            for live in retired:
                live.closing = True
        table.events.flush()
        cool(self._table, cooling)
        for live in retired:
            close_retired(self._table, live)

    def __enter__(self) -> PoolManager:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- warming --------------------------------------------------------------------------------

    def _obtain(self, key: str, deadline: float | None, *, lease: bool) -> Lease | None:
        """Make ``key`` HOT — waiting, evicting and warming as needed — and lease it if asked.

        Without ``lease`` (a prewarm) it never waits: it returns None instead. Raises
        :class:`Unavailable` when the key cannot be had (the caller fails over).
        """
        table = self._table
        need: float | None = None
        try:
            while True:
                evict: list[tuple[Slot, Live]] = []
                with table.cond:
                    while True:
                        if table.closed:
                            raise PoolError("the pool is closed", key=key)
                        slot = table.slot_for(key)
                        if slot.state is _HOT:
                            return table.lease(self, slot) if lease else None
                        if slot.state is _WARMING or slot.state is _COOLING:
                            if not lease:
                                return None
                            table.wait(deadline, key, f"{key} is {slot.state}")
                            continue
                        if not table.may_warm(slot, self._clock()):
                            raise Unavailable(table.failure_story(slot))
                        if need is None:
                            break  # estimate its memory outside the lock, then look again
                        room = table.room(need, prewarm=not lease)
                        if room.impossible:
                            raise Unavailable(room.impossible)
                        if room.fits:
                            slot.memory_mb = need
                            table.move(slot, _WARMING, "acquire" if lease else "prewarm")
                            factory = table.factory_of(key)
                            break
                        if room.evict:
                            reason = f"evicted (least recently used idle) for {key}"
                            for victim in (self._slots[k] for k in room.evict):
                                assert victim.live is not None
                                table.move(victim, _COOLING, reason)
                                evict.append((victim, victim.live))
                            break
                        if not lease:
                            return None
                        table.wait(deadline, key, table.capacity_story(need))
                table.events.flush()
                if need is None:
                    need = self._estimate(key)
                elif evict:
                    cool(self._table, evict)
                else:
                    return self._warm(slot, factory, lease=lease)
        finally:
            table.events.flush()

    def _warm(self, slot: Slot, factory: Factory, *, lease: bool) -> Lease | None:
        """Create the instance of a WARMING slot (outside the lock) and make it HOT."""
        table = self._table
        started = time.perf_counter()
        try:
            value = factory.create(slot.key)
        except BaseException as e:
            reason = f"create failed: {describe(e)}"
            with table.cond:
                table.fail(slot, reason)
                table.wake()
            if not isinstance(e, Exception):
                raise
            raise Unavailable(reason) from e
        live = Live(slot.key, value, factory, slot.memory_mb)
        with table.cond:
            slot.live = live
            if not table.closed:
                slot.failures = 0
                slot.failed_until = 0.0
                slot.last_used = slot.last_checked = self._clock()
                slot.prewarmed = not lease
                table.move(slot, _HOT, f"warmed in {time.perf_counter() - started:.3g} s")
                table.wake()
                return table.lease(self, slot) if lease else None
            table.move(slot, _COOLING, "pool closed while warming")
        table.events.flush()
        cool(self._table, [(slot, live)])
        raise PoolError("the pool is closed", key=slot.key)

    def _prewarm_one(self, key: str) -> None:
        try:
            self._obtain(key, None, lease=False)
        except Unavailable as e:  # a failed warm-up was logged (and announced) as it failed
            log.debug("pool: prewarm of %s failed: %s", key, e.reason)
        except PoolError as e:
            log.debug("pool: prewarm of %s skipped: %s", key, e)

    def _estimate(self, key: str) -> float:
        try:
            memory_mb = float(self._table.factory_of(key).memory_mb(key))
        except Exception as e:
            raise Unavailable(f"memory estimate failed: {describe(e)}") from e
        if not memory_mb >= 0:
            raise Unavailable(f"memory estimate must be a number ≥ 0, not {memory_mb}")
        return memory_mb

    def _release(self, lease: Lease) -> None:
        release(self._table, lease)
