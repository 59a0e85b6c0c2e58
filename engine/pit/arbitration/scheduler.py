"""The scheduler of the arbitration engine: queue, scheduling pass, reservation, decisions.

Everything here runs under the arbiter's one lock and never blocks, sleeps or calls a client:
``engine.py`` owns the lock, the waiting threads and the ``on_decision`` delivery. The pass
(:meth:`Scheduler.schedule`) walks the waiting requests in the strategy's order and grants each
one whose units are free and not reserved; the highest-ranked request that does not fit and
has waited ``reserve_after`` seconds reserves what it needs (under ``fifo`` every request that
does not fit does, at once). Every outcome is written as a decision with its rationale.
"""

from __future__ import annotations

import time
from collections import deque
from itertools import count
from typing import TYPE_CHECKING

from engine.pit.arbitration import strategies
from engine.pit.arbitration.grant import Grant
from engine.pit.arbitration.journal import Journal
from engine.pit.arbitration.ledger import Ledger
from engine.pit.arbitration.models import Decision, Request
from engine.pit.arbitration.strategies import FairShare
from engine.pit.arbitration.waiters import Waiter
from engine.types.errors import UsageError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping

    from engine.pit.arbitration.grant import Releaser
    from engine.pit.arbitration.models import Action, Strategy

ALTERNATIVES_SHOWN = 16
AT_ONCE = "granted at once: the units were free and nobody was waiting"
RANKED_AHEAD = "its units are reserved for requests ranked ahead"
_NOTHING_RESERVED: dict[str, int] = {}


class Scheduler:
    """The arbiter's state and decisions (not thread-safe: the caller holds the lock).

    Args:
        releaser: what grants give their units back through (the arbiter).
        strategy: how waiting requests are ranked.
        aging_per_s: effective priority gained per second of waiting.
        reserve_after: seconds a blocked top request waits before it reserves its units.
        history: decisions kept for queries.
        clock: the monotonic clock for ages and waits.
        wake: called when a pass granted something (the arbiter notifies its waiters).
        deliver: keep decisions in :attr:`outbox` for an ``on_decision`` callback.
    """

    def __init__(
        self,
        releaser: Releaser,
        *,
        strategy: Strategy,
        aging_per_s: float,
        reserve_after: float,
        history: int,
        clock: Callable[[], float],
        wake: Callable[[], None],
        deliver: bool,
    ) -> None:
        self.releaser = releaser
        self.strategy: Strategy = strategy
        self.aging = aging_per_s
        self.reserve_after = reserve_after
        self.clock = clock
        self.wake = wake
        self.deliver = deliver
        self.ledger = Ledger()
        self.queue: dict[int, Waiter] = {}  # by arrival number, so in arrival order
        self.held: dict[str, Grant] = {}
        self.shares = FairShare()
        self.journal = Journal(history)
        self.outbox: deque[Decision] = deque()  # decided, not yet handed to on_decision
        self._seq = count(1)
        self._granted = 0

    def admit(
        self, needs: Mapping[str, int], owner: str, label: str, priority: int
    ) -> tuple[Request, int]:
        """Number and validate a request; one that can never be granted is denied.

        Raises:
            UsageError: unknown resource, bad units, or more units than a capacity.
        """
        seq = next(self._seq)
        rid = f"req-{seq}"
        try:
            resolved = self.ledger.resolve(needs, who=f"{owner}/{label}" if label else owner)
        except UsageError as e:
            bad = Request(
                id=rid, owner=owner, label=label, needs=dict(needs), priority=priority, created=0
            )
            self.note(bad, "denied", e.message)
            raise
        request = Request(
            id=rid,
            owner=owner,
            label=label,
            needs=resolved,
            priority=priority,
            created=self.clock(),
        )
        return request, seq

    def free_at_once(self, request: Request) -> bool:
        """Whether nobody waits and every unit is free: the fast path."""
        return not self.queue and self.ledger.fits(request.needs, _NOTHING_RESERVED)

    def enqueue(self, request: Request, seq: int, now: float, *, probe: bool) -> Waiter:
        """Put a request in the queue (a ``probe`` is a try_acquire that never reserves)."""
        waiter = Waiter(request, seq, now, self._granted, probe=probe)
        self.queue[seq] = waiter
        self.ledger.enqueue(request.needs)
        return waiter

    def dequeue(self, waiter: Waiter) -> None:
        """Take a request out of the queue."""
        del self.queue[waiter.seq]
        self.ledger.dequeue(waiter.request.needs)

    def schedule(self, now: float, explain: Waiter | None = None) -> None:
        """One scheduling pass; ``explain`` gets ``why`` and ``ahead`` if it stays waiting."""
        granted_any = False
        strategy = self.strategy
        ledger = self.ledger
        while self.queue:
            ranked = strategies.ranked(self.queue.values(), strategy, now, self.aging, self.shares)
            reserved: dict[str, int] = {}
            reserver_found = False
            rerank = False
            for rank, waiter in enumerate(ranked):
                needs = waiter.request.needs
                if ledger.fits(needs, reserved):
                    self._grant_waiter(waiter, now, ranked, rank)
                    granted_any = True
                    if strategy == "fair":  # holdings changed: so did the ranking
                        rerank = True
                        break
                    continue
                if waiter is explain:
                    waiter.why = ledger.shortfall(needs, reserved, self.holder_name)
                    waiter.ahead = ids(ranked[:rank])
                if waiter.probe:
                    continue
                if strategy == "fifo" or (
                    not reserver_found and now - waiter.enqueued >= self.reserve_after
                ):
                    reserver_found = True
                    waiter.reserving = True
                    for name, units in needs.items():
                        reserved[name] = reserved.get(name, 0) + units
            if not rerank:
                break
        if granted_any:
            self.wake()

    def _grant_waiter(self, waiter: Waiter, now: float, ranked: list[Waiter], rank: int) -> None:
        rationale = strategies.why_granted(
            self.strategy,
            waiter,
            now=now,
            rank=rank,
            considered=len(ranked),
            aging_per_s=self.aging,
            reserve_after=self.reserve_after,
            shares=self.shares,
            granted_meanwhile=self._granted - waiter.grants_before,
        )
        others = ids(w for w in ranked if w is not waiter)
        waited = max(0.0, now - waiter.enqueued)
        waiter.grant = self.issue(
            waiter.request, now, waited, rationale, others, queued=waiter.queued
        )
        self.dequeue(waiter)  # only now: first would drop an idle auto-defined path: slot

    def issue(
        self,
        request: Request,
        now: float,
        waited: float,
        rationale: str,
        alternatives: tuple[str, ...] = (),
        *,
        queued: bool = False,
    ) -> Grant:
        """Hand the units to a request that fits, and record the grant."""
        needs = request.needs
        self.ledger.take(request.id, needs)
        self.shares.granted(
            request.owner, sum(needs.values()), now, remember=self.strategy == "fair"
        )
        grant = Grant(self.releaser, request, now, waited)
        self.held[request.id] = grant
        self._granted += 1
        self.journal.waited(waited, queued=queued)
        self.note(request, "granted", rationale, alternatives)
        return grant

    def give_back(self, grant: Grant) -> None:
        """Take a grant's units back and record the release (the caller runs a pass after)."""
        request = grant.request
        self.ledger.give_back(request.id, request.needs)
        self.shares.released(request.owner, sum(request.needs.values()))
        del self.held[request.id]
        held_for = max(0.0, self.clock() - grant.granted_at)
        self.note(request, "released", f"released after holding {held_for:.2f} s")

    def leave(self, waiter: Waiter, action: Action, why: str) -> float:
        """Take a waiter out of the queue for good; return how long it waited."""
        now = self.clock()
        waited = max(0.0, now - waiter.enqueued)
        self.dequeue(waiter)
        self.note(waiter.request, action, f"{why} (waited {waited:.2f} s)")
        self.schedule(now)  # its place or its reservation may have held others back
        return waited

    def refuse_over(self, name: str, capacity: int) -> None:
        """Fail the waiters that now ask for more of ``name`` than its capacity."""
        for waiter in list(self.queue.values()):
            units = waiter.request.needs.get(name, 0)
            if units > capacity:
                self.dequeue(waiter)
                waiter.error = UsageError(
                    f"{who(waiter.request)}: {name!r} now has capacity {capacity}, "
                    f"below the {units} units asked for; it could never be granted"
                )
                self.note(waiter.request, "denied", str(waiter.error))

    def blocked_by(self, request: Request) -> str:
        """Why a request is not granted now, ignoring reservations."""
        return self.ledger.shortfall(request.needs, {}, self.holder_name) or RANKED_AHEAD

    def note(
        self,
        request: Request,
        action: Action,
        rationale: str,
        alternatives: tuple[str, ...] = (),
    ) -> None:
        """Record a decision (and keep it for delivery when there is a callback)."""
        decision = Decision(
            ts=time.time(),
            request_id=request.id,
            owner=request.owner,
            label=request.label,
            action=action,
            resources=request.needs,
            rationale=rationale,
            alternatives=alternatives,
        )
        self.journal.add(decision)
        if self.deliver:
            self.outbox.append(decision)

    def holder_name(self, request_id: str) -> str:
        """``owner/label`` of a holder, for rationales."""
        grant = self.held.get(request_id)
        return who(grant.request) if grant is not None else request_id

    def snapshot(self) -> dict[str, dict[str, object]]:
        """Per resource: capacity, in use, free, waiting count and holders."""
        return {
            name: {
                "capacity": slot.capacity,
                "in_use": slot.in_use,
                "free": slot.free,
                "waiting": slot.waiting,
                "holders": [
                    {
                        "request": rid,
                        "owner": self.held[rid].owner,
                        "label": self.held[rid].label,
                        "units": units,
                    }
                    for rid, units in slot.holders.items()
                ],
            }
            for name, slot in self.ledger.slots.items()
        }


def who(request: Request) -> str:
    """``owner/label`` (or just the owner) of a request."""
    return f"{request.owner}/{request.label}" if request.label else request.owner


def fmt(needs: Mapping[str, int]) -> str:
    """``1 cpu, 2 model:x`` for messages."""
    return ", ".join(f"{units} {name}" for name, units in needs.items()) or "nothing"


def waiting(waiter: Waiter) -> str:
    """The rationale of a ``queued`` decision."""
    ahead = f"; {len(waiter.ahead)} request(s) ranked ahead" if waiter.ahead else ""
    return f"waiting: {waiter.why or RANKED_AHEAD}{ahead}"


def ids(waiters: Iterable[Waiter]) -> tuple[str, ...]:
    """The ids of at most ``ALTERNATIVES_SHOWN`` waiters."""
    found: list[str] = []
    for waiter in waiters:
        if len(found) >= ALTERNATIVES_SHOWN:
            break
        found.append(waiter.request.id)
    return tuple(found)
