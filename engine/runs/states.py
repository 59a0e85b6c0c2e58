"""Step and run states: small enums with terminal sets (STYLE 16).

A step that raises is ``failed`` (retryable); one whose run was cancelled is ``cancelled``; one
that was running when its process died is ``crashed`` (never retried automatically, re-run on
resume). ``cached`` means an earlier identical result was reused, ``skipped`` that its condition
was false or a dependency did not succeed.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["DONE_OK", "TERMINAL", "RunState", "StepState"]


class StepState(StrEnum):
    PENDING = "pending"
    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    CACHED = "cached"
    FAILED = "failed"
    CRASHED = "crashed"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"


class RunState(StrEnum):
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    CRASHED = "crashed"  # the process running it died; resumable


TERMINAL = frozenset(
    {
        StepState.COMPLETED,
        StepState.CACHED,
        StepState.FAILED,
        StepState.CRASHED,
        StepState.SKIPPED,
        StepState.CANCELLED,
    }
)
DONE_OK = frozenset({StepState.COMPLETED, StepState.CACHED})
