"""How healthy the bus is, judged from a snapshot of its parts.

Unhealthy: the bus is closed or a delivery thread died. Degraded: a queue is more than 90 % full
or messages were dead-lettered in the last minute. Every reason carries its numbers. This module
must not change the bus; it only reads what it is given.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from engine.types.messages import ComponentHealth, HealthStatus

if TYPE_CHECKING:
    from collections.abc import Sequence

    from engine.bus.deadletters import DeadLetterBox
    from engine.bus.metrics import TopicStats
    from engine.bus.subscription import Subscription

RECENT_DEAD_LETTERS_S = 60.0
FULL_QUEUE_RATIO = 0.9


def assess(
    bus_name: str,
    *,
    closed: bool,
    subscriptions: Sequence[Subscription],
    stats: Sequence[TopicStats],
    dead: DeadLetterBox,
    pending_requests: int,
) -> ComponentHealth:
    """The bus's :class:`ComponentHealth` (named ``bus``) with reasons and counters."""
    worse: list[str] = []
    bad: list[str] = []
    if closed:
        worse.append(f"bus {bus_name!r} is closed")
    for sub in subscriptions:
        if sub.died is not None:
            worse.append(f"delivery thread of {sub.name!r} died: {sub.died}")
        pending = sub.pending
        if pending > FULL_QUEUE_RATIO * sub.maxsize:
            bad.append(
                f"queue of {sub.name!r} is {100 * pending / sub.maxsize:.0f}% full "
                f"({pending}/{sub.maxsize})"
            )
    recent = dead.recent(RECENT_DEAD_LETTERS_S)
    if recent:
        by_reason = ", ".join(f"{reason}: {n}" for reason, n in sorted(recent.items()))
        bad.append(
            f"{sum(recent.values())} dead letters in the last {RECENT_DEAD_LETTERS_S:g} s "
            f"({by_reason})"
        )
    detail: dict[str, Any] = {
        "subscriptions": sum(1 for s in subscriptions if not s.responder),
        "responders": sum(1 for s in subscriptions if s.responder),
        "topics": len(stats),
        "published": sum(s.published for s in stats),
        "delivered": sum(s.delivered for s in stats),
        "queued": sum(s.pending for s in subscriptions),
        "pending_requests": pending_requests,
        "dead_letters": sum(dead.totals().values()),
    }
    if worse:
        status = HealthStatus.UNHEALTHY
    elif bad:
        status = HealthStatus.DEGRADED
    else:
        status = HealthStatus.HEALTHY
    return ComponentHealth(name="bus", status=status, reasons=(*worse, *bad), detail=detail)
