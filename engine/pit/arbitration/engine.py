"""The arbitration engine: who may use which resources now, and why (SPEC §3.5).

Steps of concurrent runs compete for named resources with capacities: cpu slots,
``model:<name>`` concurrency, token or cost budgets, exclusive write locks on ``path:<file>``.
(A budget here is units held at once, e.g. tokens in flight, returned on release; a budget that
is spent for good is for the caller to track.) An :class:`Arbiter` hands them out under these
rules:

* **All or nothing.** A request names every unit it needs; it is granted only when all of them
  are free at once, and it never holds some while waiting for the rest. No one waits while
  holding, so the arbiter itself cannot deadlock. (A client that holds a :class:`Grant` and asks
  again can: ask for everything in one request.)
* **Ranking.** Waiting requests are ranked by the strategy (``priority`` with aging, ``fifo``,
  ``fair`` share across owners; see ``strategies.py``).
* **Scheduling pass.** Whenever something changes (a release, an arrival, a departure, a new
  capacity) one pass walks the queue in rank order and grants every request whose units are
  free and not *reserved*. So smaller requests may overtake one that cannot be served yet.
* **Reservation (head of line).** The highest-ranked request that does not fit and has waited
  at least ``reserve_after`` seconds (0.5 s by default) reserves what it needs: lower-ranked
  requests get only the units left over, so it cannot be overtaken forever. Under ``fifo`` every
  request that does not fit reserves at once, so a later request only ever takes units no
  earlier waiting request needs. The price: reserved units may sit idle until the rest of what
  the reserving request needs comes free.

Every grant, queueing, denial, timeout, cancellation and release is a
:class:`~engine.pit.arbitration.models.Decision` with a one-sentence rationale, kept in a
bounded history, queryable by owner, and handed to ``on_decision`` in decision order, one call
at a time, outside the lock, by one of the client threads (so the callback must be quick and
must not wait for a grant; a failing callback is logged and never breaks arbitration).

This module owns the threads' side: the one lock, waiting on one :class:`threading.Condition`
(a pass notifies it when it grants anything; waiters with a cancel event poll every 50 ms),
timeouts, cancellation and delivery. The pass and the bookkeeping are in ``scheduler.py``.
Nothing here knows about runs, steps or the UI; the conductor decides what to ask for.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING

from engine.pit.arbitration.grant import Grant
from engine.pit.arbitration.models import (
    STRATEGIES,
    ArbiterMetrics,
    ArbitrationTimeout,
    Decision,
    Resource,
    Strategy,
)
from engine.pit.arbitration.scheduler import AT_ONCE, RANKED_AHEAD, Scheduler, fmt, waiting, who
from engine.types.errors import Cancelled, UsageError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping

    from engine.pit.arbitration.waiters import Waiter

__all__ = ["Arbiter", "Grant"]

log = logging.getLogger("symphony.arbitration")

CANCEL_POLL_S = 0.05


class Arbiter:
    """Hands out named resources to competing requests, all or nothing, and explains why.

    Args:
        resources: the resources known from the start (more with :meth:`define`).
        strategy: ``priority`` (with aging), ``fifo`` or ``fair`` (share across owners).
        aging_per_s: effective priority gained per second of waiting (``priority`` only).
        reserve_after: seconds a blocked top-ranked request waits before it reserves its units.
        on_decision: called with every decision, in order, one call at a time, outside the
            arbiter's lock; it must be quick and must not wait for a grant.
        history: how many decisions :meth:`decisions` can return.
        clock: the monotonic clock for ages and waits (tests pass a fake one; timeouts always
            use :func:`time.monotonic`).

    Raises:
        UsageError: an unknown strategy or a negative rate, threshold or history.
    """

    def __init__(
        self,
        resources: Iterable[Resource] = (),
        *,
        strategy: Strategy = "priority",
        aging_per_s: float = 1.0,
        reserve_after: float = 0.5,
        on_decision: Callable[[Decision], None] | None = None,
        history: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if strategy not in STRATEGIES:
            raise UsageError(f"unknown arbitration strategy {strategy!r}; one of {STRATEGIES}")
        if aging_per_s < 0 or reserve_after < 0 or history < 0:
            raise UsageError("aging_per_s, reserve_after and history must not be negative")
        self._lock = threading.Lock()  # guards the scheduler; entered directly (cheaper)
        self._cond = threading.Condition(self._lock)  # waiters sleep on it
        self._on_decision = on_decision
        self._delivering = threading.Lock()
        self._s = Scheduler(
            self,
            strategy=strategy,
            aging_per_s=float(aging_per_s),
            reserve_after=float(reserve_after),
            history=history,
            clock=clock,
            wake=self._cond.notify_all,
            deliver=on_decision is not None,
        )
        for resource in resources:
            self._s.ledger.define(resource.name, resource.capacity)

    @property
    def strategy(self) -> Strategy:
        """The ranking strategy."""
        return self._s.strategy

    def define(self, name: str, capacity: int) -> None:
        """Add a resource or change its capacity.

        Holders keep what they hold; a smaller capacity applies to future grants. Waiting
        requests that now ask for more than the capacity fail with :class:`UsageError`.

        Raises:
            UsageError: empty name, or a capacity that is not an integer of at least 1.
        """
        Resource(name, capacity)  # validates
        with self._lock:
            self._s.ledger.define(name, capacity)
            self._s.refuse_over(name, capacity)
            self._s.schedule(self._s.clock())
            self._cond.notify_all()  # the refused ones wake too
        self._deliver()

    def acquire(
        self,
        needs: Mapping[str, int],
        *,
        owner: str,
        label: str = "",
        priority: int = 0,
        timeout: float | None = None,
        cancel: threading.Event | None = None,
    ) -> Grant:
        """Wait until every unit in ``needs`` can be granted together, then hold them.

        Args:
            needs: resource name -> units. Unknown ``path:`` names become exclusive locks.
            owner: who asks (a run id); the unit of fair share.
            label: what for (a step id).
            priority: higher goes first under ``priority``.
            timeout: seconds to wait at most (``None``: no limit).
            cancel: when set, stop waiting (checked at least every 50 ms).

        Raises:
            UsageError: unknown resource, bad units, or more units than a capacity.
            ArbitrationTimeout: not granted within ``timeout``.
            Cancelled: ``cancel`` was set first.
        """
        s = self._s
        try:
            with self._lock:
                request, seq = s.admit(needs, owner, label, priority)
                now = request.created
                if cancel is not None and cancel.is_set():
                    s.note(request, "cancelled", "cancelled before it was queued")
                    raise Cancelled(f"{who(request)}: cancelled before asking for {fmt(needs)}")
                if s.free_at_once(request):
                    return s.issue(request, now, 0.0, AT_ONCE)
                waiter = s.enqueue(request, seq, now, probe=False)
                s.schedule(now, explain=waiter)
                if waiter.grant is not None:
                    return waiter.grant
                waiter.queued = True
                s.note(request, "queued", waiting(waiter), waiter.ahead)
                return self._wait(waiter, timeout, cancel)
        finally:
            self._deliver()

    def try_acquire(
        self,
        needs: Mapping[str, int],
        *,
        owner: str,
        label: str = "",
        priority: int = 0,
    ) -> Grant | None:
        """Grant ``needs`` if the rules allow it right now, else return ``None`` (a denial).

        Raises:
            UsageError: unknown resource, bad units, or more units than a capacity.
        """
        s = self._s
        try:
            with self._lock:
                request, seq = s.admit(needs, owner, label, priority)
                now = request.created
                if s.free_at_once(request):
                    return s.issue(request, now, 0.0, AT_ONCE)
                probe = s.enqueue(request, seq, now, probe=True)
                s.schedule(now, explain=probe)
                if probe.grant is not None:
                    return probe.grant
                s.dequeue(probe)
                why = f"not free now (try_acquire does not wait): {probe.why or RANKED_AHEAD}"
                s.note(request, "denied", why, probe.ahead)
                return None
        finally:
            self._deliver()

    def decisions(self, *, owner: str | None = None, limit: int = 100) -> list[Decision]:
        """The newest ``limit`` decisions, about ``owner`` if given, oldest first."""
        with self._lock:
            return self._s.journal.select(owner, limit)

    def snapshot(self) -> dict[str, dict[str, object]]:
        """Per resource: ``capacity``, ``in_use``, ``free``, ``waiting`` (requests that need
        it) and ``holders`` (request, owner, label, units)."""
        with self._lock:
            return self._s.snapshot()

    @property
    def metrics(self) -> ArbiterMetrics:
        """Decision counters and rate, grants, waits, mean and p99 wait."""
        with self._lock:
            return self._s.journal.metrics(waiting=len(self._s.queue), held=len(self._s.held))

    def __repr__(self) -> str:
        s = self._s
        return (
            f"<Arbiter {s.strategy} resources={len(s.ledger.slots)} "
            f"held={len(s.held)} waiting={len(s.queue)}>"
        )

    def _release(self, grant: Grant) -> None:
        """Give a grant's units back (``Grant.release``) and serve whoever can go now."""
        with self._lock:
            if not grant.mark_released():
                return
            self._s.give_back(grant)
            if self._s.queue:
                self._s.schedule(self._s.clock())
        self._deliver()

    def _wait(self, waiter: Waiter, timeout: float | None, cancel: threading.Event | None) -> Grant:
        """Block (lock held on entry and exit) until granted, refused, timed out or cancelled."""
        s = self._s
        deadline = None if timeout is None else time.monotonic() + max(0.0, timeout)
        request = waiter.request
        while waiter.grant is None and waiter.error is None:
            if cancel is not None and cancel.is_set():
                waited = s.leave(waiter, "cancelled", "cancelled while waiting")
                raise Cancelled(f"{who(request)}: cancelled after waiting {waited:.2f} s")
            step = CANCEL_POLL_S if cancel is not None else None
            if deadline is not None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    why = s.blocked_by(request)
                    waited = s.leave(waiter, "timed_out", f"gave up: {why}")
                    raise ArbitrationTimeout(
                        f"{who(request)}: not granted {fmt(request.needs)} within "
                        f"{timeout:g} s: {why}",
                        request=request,
                        waited=waited,
                    )
                step = remaining if step is None else min(step, remaining)
            try:
                self._cond.wait(step)
            except BaseException:  # interrupted (e.g. KeyboardInterrupt): leave nothing behind
                if waiter.grant is not None:
                    waiter.grant.mark_released()
                    s.give_back(waiter.grant)
                    s.schedule(s.clock())
                elif waiter.error is None:
                    s.leave(waiter, "cancelled", "interrupted while waiting")
                raise
        if waiter.error is not None:
            raise waiter.error
        assert waiter.grant is not None
        return waiter.grant

    def _deliver(self) -> None:
        """Hand recorded decisions to ``on_decision``, in decision order, one call at a time.

        Whoever holds the delivery lock drains the outbox for everyone; a thread that finds it
        taken leaves its decisions to that thread instead of waiting for someone else's callback.
        Checking again after letting go closes the gap between the last pop and the release.
        """
        callback = self._on_decision
        if callback is None:
            return
        outbox = self._s.outbox
        while outbox:
            if not self._delivering.acquire(blocking=False):
                return
            try:
                while outbox:
                    decision = outbox.popleft()
                    try:
                        callback(decision)
                    except Exception:
                        log.exception("on_decision callback failed on %s", decision.request_id)
            finally:
                self._delivering.release()
