"""A grant: the units one request holds until it gives them back.

Made only by the scheduler, handed to the client by ``Arbiter.acquire``; releasing goes back
through the arbiter so waiting requests are considered at once. Holds no lock of its own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from types import TracebackType

    from engine.pit.arbitration.models import Request


class Releaser(Protocol):
    """What a grant returns its units to (the arbiter)."""

    def _release(self, grant: Grant) -> None: ...


class Grant:
    """Units held by one request until :meth:`release` (idempotent) or the end of a ``with``.

    Attributes:
        request: what was asked for (and got).
        granted_at: when, on the arbiter's clock.
        waited: seconds between the request and the grant.
    """

    __slots__ = ("_arbiter", "_released", "granted_at", "request", "waited")

    def __init__(
        self, arbiter: Releaser, request: Request, granted_at: float, waited: float
    ) -> None:
        self._arbiter = arbiter
        self._released = False
        self.request = request
        self.granted_at = granted_at
        self.waited = waited

    @property
    def id(self) -> str:
        """The request id."""
        return self.request.id

    @property
    def owner(self) -> str:
        """Who holds it."""
        return self.request.owner

    @property
    def label(self) -> str:
        """What for."""
        return self.request.label

    @property
    def resources(self) -> dict[str, int]:
        """Resource name -> units held (do not mutate)."""
        return self.request.needs

    @property
    def released(self) -> bool:
        """Whether the units were given back."""
        return self._released

    def mark_released(self) -> bool:
        """Flag the grant as released (the arbiter does, under its lock); False if it was."""
        if self._released:
            return False
        self._released = True
        return True

    def release(self) -> None:
        """Give the units back and let waiting requests have them; later calls do nothing."""
        if not self._released:
            self._arbiter._release(self)

    def __enter__(self) -> Grant:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()

    def __repr__(self) -> str:
        state = "released" if self._released else "held"
        return f"<Grant {self.id} {self.owner}/{self.label} {self.resources} {state}>"
