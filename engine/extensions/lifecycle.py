"""The extension lifecycle: states, the transitions allowed between them, and status records.

    discovered → installed → loaded → activating → active → deactivating → inactive → unloaded
                                                                 (any state) → failed(reason)

``installed`` means registered with its manifest pinned; a disabled extension stays there.
``loaded`` means its module is imported and its class instantiated; it activates lazily, on its
first call or a matching activation event, unless it asks for ``on_startup``. ``inactive`` can
activate again; ``failed`` can be retried by enabling the extension again.
"""

from __future__ import annotations

from enum import StrEnum

import msgspec

__all__ = ["TRANSITIONS", "ExtensionStatus", "State", "can_move"]


class State(StrEnum):
    DISCOVERED = "discovered"
    INSTALLED = "installed"
    LOADED = "loaded"
    ACTIVATING = "activating"
    ACTIVE = "active"
    DEACTIVATING = "deactivating"
    INACTIVE = "inactive"
    UNLOADED = "unloaded"
    FAILED = "failed"


TRANSITIONS: dict[State, frozenset[State]] = {
    State.DISCOVERED: frozenset({State.INSTALLED}),
    State.INSTALLED: frozenset({State.LOADED}),
    State.LOADED: frozenset({State.ACTIVATING, State.UNLOADED}),
    State.ACTIVATING: frozenset({State.ACTIVE}),
    State.ACTIVE: frozenset({State.DEACTIVATING}),
    State.DEACTIVATING: frozenset({State.INACTIVE}),
    State.INACTIVE: frozenset({State.ACTIVATING, State.UNLOADED}),
    State.UNLOADED: frozenset({State.LOADED, State.INSTALLED}),
    State.FAILED: frozenset({State.INSTALLED}),
}


def can_move(old: State, new: State) -> bool:
    """Whether ``old → new`` is a legal transition (``failed`` is reachable from anywhere)."""
    return new is State.FAILED or new in TRANSITIONS[old]


class ExtensionStatus(msgspec.Struct, frozen=True, kw_only=True):
    """What Symphony knows about one extension, for listings (CLI, TUI, bus)."""

    id: str
    name: str
    version: str
    type: str
    source: str  # builtin | entry_point | folder
    path: str
    state: State
    enabled: bool
    reason: str = ""  # why failed, or why disabled
    description: str = ""
    isolation: str = "in-process"
    permissions: dict[str, list[str]] = msgspec.field(default_factory=dict)
    step_types: tuple[str, ...] = ()
    commands: tuple[str, ...] = ()
    activation: tuple[str, ...] = ()
    manifest_hash: str = ""
