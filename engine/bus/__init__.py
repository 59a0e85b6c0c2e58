"""The in-process bus (SPEC §3.3): glob pub/sub, request/reply, priorities, backpressure.

Import from here; the sub-modules are implementation detail. See :class:`Bus`.
"""

from __future__ import annotations

from engine.bus.bus import Bus
from engine.bus.deadletters import DeadLetter
from engine.bus.metrics import TopicMetrics
from engine.bus.queue import Overflow
from engine.bus.reply import PendingReply
from engine.bus.subscription import Subscription, SubscriptionStats

__all__ = [
    "Bus",
    "DeadLetter",
    "Overflow",
    "PendingReply",
    "Subscription",
    "SubscriptionStats",
    "TopicMetrics",
]
