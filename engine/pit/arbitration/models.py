"""Typed records of the arbitration engine: resources, requests, decisions, metrics, its error.

These are the shapes a client sees (the conductor records decisions with a run, the CLI prints
them, the TUI renders them). Decisions and metrics are msgspec Structs (STYLE 6) so they encode
as they are; they carry no behaviour.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import msgspec

from engine.types.errors import EXIT_RETRYABLE, SymphonyError, UsageError

Strategy = Literal["priority", "fifo", "fair"]
"""How waiting requests are ranked: aged priority, arrival order, or fair share across owners."""

Action = Literal["granted", "queued", "denied", "timed_out", "cancelled", "released"]
"""What a decision did. ``denied``: refused without waiting (never satisfiable, or ``try_acquire``
found the units taken)."""

STRATEGIES: tuple[Strategy, ...] = ("priority", "fifo", "fair")
PATH_PREFIX = "path:"
"""Resources named ``path:<workspace path>`` are exclusive write locks, defined on first use."""


@dataclass(frozen=True, slots=True)
class Resource:
    """A named resource and how many units of it can be held at once.

    Attributes:
        name: ``cpu``, ``model:gpt-4o``, ``path:src/app.py``, ``budget:tokens``…
        capacity: units available at once (1 = exclusive).

    Raises:
        UsageError: the name is empty or the capacity is not an integer of at least 1.
    """

    name: str
    capacity: int = 1

    def __post_init__(self) -> None:
        if not self.name:
            raise UsageError("a resource needs a name")
        if isinstance(self.capacity, bool) or not isinstance(self.capacity, int):
            raise UsageError(f"capacity of {self.name!r} must be an integer")
        if self.capacity < 1:
            raise UsageError(f"capacity of {self.name!r} must be at least 1, not {self.capacity}")


class Request(msgspec.Struct, frozen=True, kw_only=True):
    """What one client asked for.

    Attributes:
        id: unique within its arbiter (``req-<n>``).
        owner: who asks, usually a run id; the unit of fair share.
        label: what for, usually a step id.
        needs: resource name -> units, all granted together or not at all.
        priority: higher goes first under the ``priority`` strategy.
        created: when it arrived, on the arbiter's monotonic clock.
    """

    id: str
    owner: str
    label: str
    needs: dict[str, int]
    priority: int
    created: float


class Decision(msgspec.Struct, frozen=True, kw_only=True):
    """One thing the arbiter decided, with the reason in a sentence.

    Attributes:
        ts: wall-clock time (seconds since the epoch).
        request_id: the request decided on.
        owner: its owner.
        label: its label.
        action: what happened to it.
        resources: the units it asked for (shared with its other decisions; do not mutate).
        rationale: why now or why waiting, for people ("waited 1.20 s while 2 other requests
            were granted; aged priority 3 → 4.2").
        alternatives: ids of the other requests considered (at most 16).
    """

    ts: float
    request_id: str
    owner: str
    label: str
    action: Action
    resources: dict[str, int]
    rationale: str
    alternatives: tuple[str, ...] = ()


class ArbiterMetrics(msgspec.Struct, frozen=True, kw_only=True):
    """Counters and wait times of one arbiter.

    Attributes:
        decisions: decisions recorded since the arbiter was made.
        decisions_per_s: decisions per second over the last ten seconds (or the history kept).
        grants: requests granted.
        immediate: grants given without queueing.
        waits: grants that queued first.
        denials: requests refused without waiting.
        timeouts: requests that gave up waiting.
        cancellations: requests cancelled while waiting.
        releases: grants released.
        waiting: requests waiting now.
        held: grants held now.
        mean_wait_s: mean time from request to grant over the recent grants (immediate ones
            count as zero).
        p99_wait_s: 99th percentile of the same.
    """

    decisions: int
    decisions_per_s: float
    grants: int
    immediate: int
    waits: int
    denials: int
    timeouts: int
    cancellations: int
    releases: int
    waiting: int
    held: int
    mean_wait_s: float
    p99_wait_s: float


class ArbitrationTimeout(SymphonyError):
    """A request was not granted within its timeout; the same request later may succeed.

    Attributes:
        request: the request that gave up.
        waited: seconds it waited.
    """

    code = "arbitration.timeout"
    exit_code = EXIT_RETRYABLE
    retryable = True

    def __init__(self, message: str, *, request: Request, waited: float) -> None:
        super().__init__(message)
        self.request = request
        self.waited = waited
