"""Answer the change commands (:mod:`engine.changes.messages`) on the engine's bus.

The TUI never touches files itself: its review screen asks, then sends :class:`ApplyChanges`;
undo is :class:`UndoChanges`. Checkpoints go under the configured ``core.state_dir``; applied
changes are recorded in the workspace's artifact store.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from engine.bus.handlers import on_payload
from engine.changes.apply import apply_changes
from engine.changes.checkpoints import list_checkpoints, undo
from engine.changes.messages import (
    ApplyChanges,
    ChangesApplied,
    ChangesUndone,
    CheckpointList,
    GetProposedChanges,
    ListCheckpoints,
    ProposedChanges,
    UndoChanges,
)
from engine.types.messages import Command, Message, command_topic

if TYPE_CHECKING:
    from collections.abc import Callable

    from engine.bus import Bus
    from engine.runtime import Engine

__all__ = ["register"]


def register(bus: Bus, engine: Engine) -> None:
    """Answer ``ApplyChanges``, ``UndoChanges`` and ``ListCheckpoints`` for ``engine``."""

    def state_dir() -> str:
        return str(engine.config.core.state_dir)

    def apply(cmd: ApplyChanges) -> ChangesApplied:
        from engine.pit.artifacts.models import Producer

        producer = Producer(
            run=cmd.run or None, node=cmd.step or None, extension="symphony.changes"
        )
        checkpoint = apply_changes(
            engine.workspace,
            cmd.change_set,
            cmd.accepted,
            state_dir=state_dir(),
            store=engine.pit.store(),
            producer=producer,
            inputs=cmd.inputs,
            keep=engine.config.aide.keep_checkpoints,
        )
        return ChangesApplied(checkpoint=checkpoint, files=checkpoint.paths)

    def undo_(cmd: UndoChanges) -> ChangesUndone:
        result = undo(engine.workspace, cmd.checkpoint, force=cmd.force, state_dir=state_dir())
        return ChangesUndone(checkpoint=result.checkpoint, files=result.files, forced=result.forced)

    def list_(cmd: ListCheckpoints) -> CheckpointList:
        found = list_checkpoints(engine.workspace, state_dir())
        return CheckpointList(checkpoints=tuple(found[: max(0, cmd.limit)]))

    def proposed(cmd: GetProposedChanges) -> ProposedChanges:
        from engine.changes.from_runs import proposed_changes

        outputs = engine.runs.step_outputs(cmd.run_id)
        change_set = proposed_changes(
            engine.workspace, outputs, title=f"run {cmd.run_id}", state_dir=state_dir()
        )
        return ProposedChanges(change_set=change_set)

    handlers: dict[type[Command], Callable[[Any], Message]] = {
        GetProposedChanges: proposed,
        ApplyChanges: apply,
        UndoChanges: undo_,
        ListCheckpoints: list_,
    }
    for cls, fn in handlers.items():
        bus.handle(command_topic(cls), on_payload(fn))
