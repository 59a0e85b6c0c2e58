"""Events of melody runs on the bus (the TUI's board and the CLI's live display read them)."""

from __future__ import annotations

import msgspec

from engine.types.messages import Event

__all__ = ["RunFinished", "RunStarted", "StepProgress", "StepStateChanged"]


class RunStarted(Event, frozen=True, kw_only=True):
    """A run began (or resumed); its steps in declaration order."""

    run_id: str
    melody: str
    steps: tuple[str, ...]
    resumed: bool = False


class StepStateChanged(Event, frozen=True, kw_only=True):
    """A step of a run moved to another state."""

    run_id: str
    step_id: str
    state: str
    attempt: int = 0
    cached: bool = False
    extension: str | None = None
    duration_ms: float | None = None
    error: str = ""


class StepProgress(Event, frozen=True, kw_only=True):
    """A running step reported progress."""

    run_id: str
    step_id: str
    fraction: float | None
    message: str = ""


class RunFinished(Event, frozen=True, kw_only=True):
    """A run ended: its state, duration and how many steps ended in each state."""

    run_id: str
    state: str
    duration_ms: float
    counts: dict[str, int] = msgspec.field(default_factory=dict)
    error: str = ""
