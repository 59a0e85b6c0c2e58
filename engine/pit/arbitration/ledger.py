"""The ledger of the arbitration engine: capacities, units in use, holders, waiting counts.

Pure bookkeeping with no locking and no policy: the :class:`~engine.pit.arbitration.engine.
Arbiter` calls it under its one lock and decides who gets what. It validates what a request
asks for (known resource, whole positive units, never more than the capacity) and defines
``path:`` locks on first use, dropping them again once nobody holds or waits for them so a long
session does not accumulate one entry per file ever written.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine.pit.arbitration.models import PATH_PREFIX
from engine.types.errors import UsageError

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

HOLDERS_SHOWN = 3


class Slot:
    """Accounting of one resource.

    Attributes:
        name: the resource name.
        capacity: units available at once; may drop below ``in_use`` after a shrink.
        in_use: units held now.
        holders: request id -> units it holds.
        waiting: requests waiting that need this resource.
        auto: defined on first use (a ``path:`` lock) and dropped when idle.
    """

    __slots__ = ("auto", "capacity", "holders", "in_use", "name", "waiting")

    def __init__(self, name: str, capacity: int, *, auto: bool = False) -> None:
        self.name = name
        self.capacity = capacity
        self.in_use = 0
        self.holders: dict[str, int] = {}
        self.waiting = 0
        self.auto = auto

    @property
    def free(self) -> int:
        """Units that can be granted now (never negative, even after a shrink)."""
        return max(0, self.capacity - self.in_use)


class Ledger:
    """Every resource's slot, and the arithmetic of taking and giving back units."""

    def __init__(self) -> None:
        self.slots: dict[str, Slot] = {}

    def define(self, name: str, capacity: int) -> None:
        """Add a resource or change its capacity; holders keep what they hold."""
        slot = self.slots.get(name)
        if slot is None:
            self.slots[name] = Slot(name, capacity)
        else:
            slot.capacity = capacity
            slot.auto = False

    def resolve(self, needs: Mapping[str, int], *, who: str) -> dict[str, int]:
        """Check what a request asks for and return it as a plain dict without zero entries.

        Unknown ``path:`` names become exclusive locks (capacity 1); they are created only when
        the whole request is valid.

        Raises:
            UsageError: a name is unknown, a unit count is not a non-negative integer, or a
                count exceeds the capacity (such a request could never be granted).
        """
        resolved: dict[str, int] = {}
        new_paths: list[str] = []
        for name, units in needs.items():
            if isinstance(units, bool) or not isinstance(units, int) or units < 0:
                raise UsageError(f"{who}: units of {name!r} must be a whole number, not {units!r}")
            if units == 0:
                continue
            slot = self.slots.get(name)
            if slot is None:
                if not (isinstance(name, str) and name.startswith(PATH_PREFIX)):
                    raise UsageError(
                        f"{who}: unknown resource {name!r}; define it first "
                        f"(or name a file {PATH_PREFIX}<path> for an exclusive lock)"
                    )
                new_paths.append(name)
                capacity = 1
            else:
                capacity = slot.capacity
            if units > capacity:
                raise UsageError(
                    f"{who}: asks for {units} units of {name!r}, whose capacity is {capacity}; "
                    "it could never be granted"
                )
            resolved[name] = units
        for name in new_paths:
            self.slots[name] = Slot(name, 1, auto=True)
        return resolved

    def fits(self, needs: Mapping[str, int], reserved: Mapping[str, int]) -> bool:
        """Whether every unit asked for is free and not reserved for someone ranked higher."""
        slots = self.slots
        for name, units in needs.items():
            slot = slots[name]
            if slot.capacity - slot.in_use - reserved.get(name, 0) < units:
                return False
        return True

    def take(self, request_id: str, needs: Mapping[str, int]) -> None:
        """Hand the units to a request (the caller checked :meth:`fits`)."""
        slots = self.slots
        for name, units in needs.items():
            slot = slots[name]
            slot.in_use += units
            slot.holders[request_id] = units

    def give_back(self, request_id: str, needs: Mapping[str, int]) -> None:
        """Return a request's units."""
        slots = self.slots
        for name, units in needs.items():
            slot = slots[name]
            slot.in_use -= units
            del slot.holders[request_id]
            if slot.auto and not slot.in_use and not slot.waiting:
                del slots[name]

    def enqueue(self, needs: Mapping[str, int]) -> None:
        """Count a request as waiting for each resource it needs."""
        for name in needs:
            self.slots[name].waiting += 1

    def dequeue(self, needs: Mapping[str, int]) -> None:
        """Stop counting a request as waiting (granted, gone or refused)."""
        slots = self.slots
        for name in needs:
            slot = slots[name]
            slot.waiting -= 1
            if slot.auto and not slot.in_use and not slot.waiting:
                del slots[name]

    def shortfall(
        self,
        needs: Mapping[str, int],
        reserved: Mapping[str, int],
        holder_name: Callable[[str], str],
    ) -> str:
        """Why a request does not fit now, resource by resource, naming who holds the units."""
        parts: list[str] = []
        for name, units in needs.items():
            slot = self.slots[name]
            free = slot.free
            if free < units:
                held = [holder_name(rid) for rid in list(slot.holders)[:HOLDERS_SHOWN]]
                more = len(slot.holders) - len(held)
                if more > 0:
                    held.append(f"{more} more")
                by = f" (held by {', '.join(held)})" if held else ""
                parts.append(f"{name} has {free} of {slot.capacity} free, needs {units}{by}")
            elif free - reserved.get(name, 0) < units:
                parts.append(
                    f"{name} has {free} free but {reserved[name]} reserved for a "
                    "longer-waiting request"
                )
        return "; ".join(parts)
