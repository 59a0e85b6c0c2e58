"""The state of one waiting request, shared between the waiting thread and the scheduler.

A waiter is created under the arbiter's lock, ranked and granted (or refused) by whichever
thread runs the scheduling pass, and read by the thread blocked in ``acquire`` after it wakes.
Every field is read and written only under that lock.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from engine.pit.arbitration.grant import Grant
    from engine.pit.arbitration.models import Request
    from engine.types.errors import SymphonyError


class Waiter:
    """One request in the queue.

    Attributes:
        request: what was asked for.
        seq: arrival number (ties and FIFO order).
        enqueued: arrival time on the arbiter's clock (aging and reservation).
        grants_before: how many grants the arbiter had made when it arrived, so its grant can
            say how many went first.
        probe: a ``try_acquire`` that never waits and so never reserves units.
        queued: its ``queued`` decision was recorded (a grant after that is "after waiting").
        reserving: it has held back units from lower-ranked requests.
        grant: set when granted.
        error: set when it can never be granted (its resource shrank below its need).
        why: why it did not fit in the last pass that looked at it.
        ahead: ids of the requests ranked ahead of it then.
    """

    __slots__ = (
        "ahead",
        "enqueued",
        "error",
        "grant",
        "grants_before",
        "probe",
        "queued",
        "request",
        "reserving",
        "seq",
        "why",
    )

    def __init__(
        self, request: Request, seq: int, enqueued: float, grants_before: int, *, probe: bool
    ) -> None:
        self.request = request
        self.seq = seq
        self.enqueued = enqueued
        self.grants_before = grants_before
        self.probe = probe
        self.queued = False
        self.reserving = False
        self.grant: Grant | None = None
        self.error: SymphonyError | None = None
        self.why = ""
        self.ahead: tuple[str, ...] = ()

    @property
    def priority(self) -> int:
        """The request's own priority."""
        return self.request.priority

    @property
    def owner(self) -> str:
        """The request's owner."""
        return self.request.owner
