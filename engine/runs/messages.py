"""Events of melody runs on the bus (the TUI's board and the CLI's live display read them), and
the commands of the runs phase (:mod:`engine.runs.phase`) the TUI drives runs with."""

from __future__ import annotations

from typing import Any

import msgspec

from engine.types.messages import Command, Event, Reply

__all__ = [
    "AnswerRecovery",
    "CancelRun",
    "DecisionInfo",
    "GetRun",
    "ListMelodies",
    "ListRuns",
    "LoadMelody",
    "MelodyEntry",
    "MelodyList",
    "MelodyReply",
    "PlanReply",
    "PlanRequest",
    "RecoveryAsked",
    "ResumeRun",
    "RunAccepted",
    "RunDetail",
    "RunFinished",
    "RunInfo",
    "RunList",
    "RunStarted",
    "StartRun",
    "StepInfo",
    "StepLog",
    "StepProgress",
    "StepStateChanged",
]


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


# --- the runs phase's commands (the TUI's board, runs view and conductor panel) -------------


class RecoveryAsked(Event, frozen=True, kw_only=True):
    """A step that is not optional failed for good: the run waits for :class:`AnswerRecovery`
    (retry, skip or abort)."""

    run_id: str
    step_id: str
    error: str


class StepLog(Event, frozen=True, kw_only=True):
    """A log line of the extension running a step (attributed while the step runs)."""

    run_id: str
    step_id: str
    level: str
    message: str
    ts: float


class StartRun(Command, frozen=True, kw_only=True):
    """Start a run in the engine (replies :class:`RunAccepted` at once; events follow).

    ``target`` names a melody (NAME or file); ``definition`` is a melody as JSON instead (a
    plan of ``ask``), with ``source`` naming where it came from. ``ask_on_failure`` makes a
    step failing for good wait for :class:`AnswerRecovery`.
    """

    target: str = ""
    definition: str = ""
    source: str = ""
    params: dict[str, Any] = msgspec.field(default_factory=dict)
    from_step: str | None = None
    force: bool = False
    ask_on_failure: bool = True


class ResumeRun(Command, frozen=True, kw_only=True):
    """Continue a run that did not finish (failed steps run again). Replies
    :class:`RunAccepted`."""

    run_id: str
    ask_on_failure: bool = True


class CancelRun(Command, frozen=True, kw_only=True):
    """Cancel a run this engine is running. Replies ``Ack``."""

    run_id: str


class AnswerRecovery(Command, frozen=True, kw_only=True):
    """Answer :class:`RecoveryAsked`: ``retry``, ``skip`` or ``abort``. Replies ``Ack``."""

    run_id: str
    step_id: str
    choice: str


class ListRuns(Command, frozen=True, kw_only=True):
    """Recent runs, newest first. Replies :class:`RunList`."""

    melody: str | None = None
    limit: int = 50


class GetRun(Command, frozen=True, kw_only=True):
    """One run with its steps and decisions (``latest`` of ``melody`` if no id). Replies
    :class:`RunDetail`."""

    run_id: str = ""
    melody: str = ""


class PlanRequest(Command, frozen=True, kw_only=True):
    """Plan a melody for a request in plain words (``ask``), without running it. Replies
    :class:`PlanReply`."""

    request: str


class LoadMelody(Command, frozen=True, kw_only=True):
    """Read a melody (NAME or file) and check it against the enabled step types. Replies
    :class:`MelodyReply`."""

    target: str


class ListMelodies(Command, frozen=True, kw_only=True):
    """The workspace's melodies. Replies :class:`MelodyList`."""


class RunInfo(msgspec.Struct, frozen=True, kw_only=True):
    """A run's row: what the runs view lists."""

    id: str
    melody: str
    path: str
    state: str
    created: float
    finished: float | None
    duration_ms: float | None
    counts: dict[str, int]
    error: str = ""
    parent: str | None = None
    from_step: str | None = None
    #: Running in this engine (can be cancelled from here).
    live: bool = False


class StepInfo(msgspec.Struct, frozen=True, kw_only=True):
    """One step of a run."""

    step_id: str
    uses: str
    state: str
    attempts: int
    started: float | None
    finished: float | None
    duration_ms: float | None
    cached: bool
    extension: str | None
    outputs: dict[str, Any] | None
    artifact: str | None
    error: str = ""


class DecisionInfo(msgspec.Struct, frozen=True, kw_only=True):
    """A decision of the conductor with its rationale and the alternatives it had."""

    step_id: str
    kind: str
    choice: str
    rationale: str
    alternatives: tuple[str, ...]
    ts: float


class RunAccepted(Reply, frozen=True, kw_only=True):
    """A run started (or resumed) in the engine."""

    run_id: str
    melody: str
    steps: tuple[str, ...]


class RunList(Reply, frozen=True, kw_only=True):
    runs: tuple[RunInfo, ...]


class RunDetail(Reply, frozen=True, kw_only=True):
    """A run, its steps in declaration order, its decisions and its pinned definition (JSON)."""

    run: RunInfo
    steps: tuple[StepInfo, ...]
    decisions: tuple[DecisionInfo, ...]
    definition: str


class PlanReply(Reply, frozen=True, kw_only=True):
    """The plan ``ask`` would run: its melody (JSON; empty when nothing can be planned), the
    rationale and what was left out."""

    request: str
    definition: str
    rationale: str
    unsupported: tuple[str, ...] = ()
    intents: tuple[str, ...] = ()


class MelodyReply(Reply, frozen=True, kw_only=True):
    """A melody file: its definition (JSON; empty when it does not parse) and every problem
    found (parse or validation errors, one per line)."""

    name: str
    path: str
    definition: str
    problems: tuple[str, ...] = ()


class MelodyEntry(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    path: str


class MelodyList(Reply, frozen=True, kw_only=True):
    melodies: tuple[MelodyEntry, ...]
