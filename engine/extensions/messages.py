"""Commands, replies and events of the extension manager on the bus."""

from __future__ import annotations

from typing import Any

import msgspec

from engine.extensions.lifecycle import ExtensionStatus, State
from engine.types.messages import Command, Event, Reply

__all__ = [
    "ExtensionList",
    "ExtensionStateChanged",
    "ListExtensions",
    "ListStepTypes",
    "RunStep",
    "SetExtensionEnabled",
    "StepDone",
    "StepTypeInfo",
    "StepTypeList",
]


class ListExtensions(Command, frozen=True, kw_only=True):
    """Every extension with its state. Replies :class:`ExtensionList`."""


class SetExtensionEnabled(Command, frozen=True, kw_only=True):
    """Enable or disable an extension persistently. Replies :class:`ExtensionList` (one entry)."""

    id: str
    enabled: bool


class RunStep(Command, frozen=True, kw_only=True):
    """Run one step type with inputs. Replies :class:`StepDone`."""

    step_type: str
    inputs: dict[str, Any] = msgspec.field(default_factory=dict)
    extension: str | None = None
    timeout_s: float | None = None


class ListStepTypes(Command, frozen=True, kw_only=True):
    """Every step type enabled extensions offer. Replies :class:`StepTypeList`."""


class StepTypeInfo(msgspec.Struct, frozen=True, kw_only=True):
    """One step type: what a melody's ``uses`` names, who offers it, its config schema."""

    type: str
    title: str
    description: str
    #: Extensions offering it, first is the one declared first (the conductor chooses).
    providers: tuple[str, ...]
    #: The ``with`` values as a JSON Schema object (``properties``, ``required``).
    input_schema: dict[str, Any]
    outputs: tuple[str, ...] = ()


class StepTypeList(Reply, frozen=True, kw_only=True):
    """Step types, sorted by name."""

    types: tuple[StepTypeInfo, ...]


class ExtensionList(Reply, frozen=True, kw_only=True):
    """Extensions' statuses."""

    extensions: tuple[ExtensionStatus, ...]


class StepDone(Reply, frozen=True, kw_only=True):
    """A step's outputs."""

    extension: str
    step_type: str
    outputs: dict[str, Any]
    duration_ms: float


class ExtensionStateChanged(Event, frozen=True, kw_only=True):
    """An extension moved to another lifecycle state (or was enabled/disabled)."""

    id: str
    state: State
    reason: str = ""
