"""How waiting requests are ranked, and the sentence that says why one was granted.

Three strategies, each a total order over the queue (ties always by arrival):

* ``priority``: highest *effective* priority first, where effective = priority +
  ``aging_per_s`` * seconds waited. A request that keeps waiting climbs past every later
  arrival whose priority is less than ``aging_per_s`` * (how much later it arrived) above its
  own, so a low-priority request under a sustained high-priority stream is granted after about
  (priority gap / ``aging_per_s``) seconds plus the holding times ahead of it.
* ``fifo``: arrival order.
* ``fair``: the owner (run) holding the fewest units goes first; then the one granted least
  recently (a count of its grants that halves every ``FAIR_HALF_LIFE_S`` seconds).

Ranking never looks at whether a request fits: that, and the reservation rule that keeps a
long-waiting request from being overtaken forever, belong to the scheduling pass in
``scheduler.py``. Nothing here locks or mutates the queue.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable

    from engine.pit.arbitration.models import Strategy
    from engine.pit.arbitration.waiters import Waiter

FAIR_HALF_LIFE_S = 10.0
_PRUNE_AT = 1024


class FairShare:
    """Units held now and a decaying count of recent grants, per owner."""

    def __init__(self, half_life_s: float = FAIR_HALF_LIFE_S) -> None:
        self.half_life_s = half_life_s
        self.held: dict[str, int] = {}
        self._recent: dict[str, tuple[float, float]] = {}  # owner -> (score, at)

    def granted(self, owner: str, units: int, now: float, *, remember: bool) -> None:
        """Count units as held by owner; with ``remember``, also count the grant as recent."""
        self.held[owner] = self.held.get(owner, 0) + units
        if remember:
            self._recent[owner] = (self.recent(owner, now) + 1.0, now)
            if len(self._recent) > _PRUNE_AT:
                self._prune(now)

    def released(self, owner: str, units: int) -> None:
        """Count units as given back."""
        left = self.held.get(owner, 0) - units
        if left > 0:
            self.held[owner] = left
        else:
            self.held.pop(owner, None)

    def recent(self, owner: str, now: float) -> float:
        """The owner's grant count, each grant weighing half as much every half-life."""
        entry = self._recent.get(owner)
        if entry is None:
            return 0.0
        score, at = entry
        return float(score * 0.5 ** (max(0.0, now - at) / self.half_life_s))

    def _prune(self, now: float) -> None:
        for owner in list(self._recent):
            if owner not in self.held and self.recent(owner, now) < 0.05:
                del self._recent[owner]


def effective_priority(waiter: Waiter, now: float, aging_per_s: float) -> float:
    """Priority plus what waiting has added to it."""
    return waiter.priority + aging_per_s * max(0.0, now - waiter.enqueued)


def ranked(
    queue: Iterable[Waiter],
    strategy: Strategy,
    now: float,
    aging_per_s: float,
    shares: FairShare,
) -> list[Waiter]:
    """The queue in the order the strategy serves it; ``queue`` must be in arrival order."""
    waiters = list(queue)  # arrival order; sorts below are stable, so ties stay in it
    if strategy == "priority":
        waiters.sort(key=lambda w: -effective_priority(w, now, aging_per_s))
    elif strategy == "fair":
        held = shares.held
        waiters.sort(key=lambda w: (held.get(w.owner, 0), shares.recent(w.owner, now)))
    return waiters


def why_granted(
    strategy: Strategy,
    waiter: Waiter,
    *,
    now: float,
    rank: int,
    considered: int,
    aging_per_s: float,
    reserve_after: float,
    shares: FairShare,
    granted_meanwhile: int,
) -> str:
    """The rationale of a grant made by a scheduling pass.

    Args:
        strategy: the arbiter's strategy.
        waiter: the request granted.
        now: the time of the pass.
        rank: its position in the pass's ranking (0 = first).
        considered: how many requests the pass ranked (itself included).
        aging_per_s: the arbiter's aging rate.
        reserve_after: the arbiter's reservation threshold.
        shares: per-owner holdings before this grant.
        granted_meanwhile: grants to others since it arrived.
    """
    others = considered - 1
    if not waiter.queued:
        if rank == 0:
            return "granted at once: the units were free and it ranked first"
        return (
            f"granted at once ahead of {rank} waiting request(s) that cannot use the free "
            "units; what it needs was neither taken nor reserved for them"
        )
    waited = max(0.0, now - waiter.enqueued)
    head = f"waited {waited:.2f} s"
    if granted_meanwhile:
        head += f" while {granted_meanwhile} other request(s) were granted"
    if strategy == "priority":
        eff = effective_priority(waiter, now, aging_per_s)
        head += f"; aged priority {waiter.priority} → {eff:.1f}"
    elif strategy == "fair":
        held = shares.held.get(waiter.owner, 0)
        recent = shares.recent(waiter.owner, now)
        head += f"; owner {waiter.owner!r} held {held} unit(s) with {recent:.1f} recent grant(s)"
    order = {"priority": "effective priority", "fifo": "arrival order", "fair": "fair share"}[
        strategy
    ]
    if not others:
        place = "the only request waiting"
    elif rank == 0:
        place = f"first by {order} of {considered} waiting"
    else:
        place = (
            f"ranked {rank + 1} of {considered} by {order}; the {rank} ahead of it could not "
            "use the free units"
        )
    reserved = (
        f"; its units were reserved for it after waiting {reserve_after:g} s"
        if waiter.reserving and strategy != "fifo"
        else ("; its units were reserved for it in arrival order" if waiter.reserving else "")
    )
    return f"{head}; {place}{reserved}"
