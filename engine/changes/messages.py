"""Bus commands of proposed changes (the TUI's review and undo), answered by
:mod:`engine.changes.phase`."""

from __future__ import annotations

from engine.changes.model import ChangeSet, Checkpoint, RestoredFile
from engine.types.messages import Command, Reply

__all__ = [
    "ApplyChanges",
    "ChangesApplied",
    "ChangesUndone",
    "CheckpointList",
    "GetProposedChanges",
    "ListCheckpoints",
    "ProposedChanges",
    "UndoChanges",
]


class ApplyChanges(Command, frozen=True, kw_only=True):
    """Apply the ``accepted`` paths of a change set atomically, behind a checkpoint.

    ``run``/``step`` name what proposed the changes and ``inputs`` the artifacts they derive
    from, for the recorded artifacts' lineage.
    """

    change_set: ChangeSet
    accepted: tuple[str, ...]
    run: str = ""
    step: str = ""
    inputs: tuple[str, ...] = ()


class ChangesApplied(Reply, frozen=True, kw_only=True):
    """The accepted changes were written; the checkpoint that undoes them and the files."""

    checkpoint: Checkpoint
    files: tuple[str, ...]


class UndoChanges(Command, frozen=True, kw_only=True):
    """Restore the files of a checkpoint (``""``: the newest not undone); ``force`` restores
    files that changed since."""

    checkpoint: str = ""
    force: bool = False


class ChangesUndone(Reply, frozen=True, kw_only=True):
    """A checkpoint was undone: what was done to each file, and which were forced."""

    checkpoint: Checkpoint
    files: tuple[RestoredFile, ...]
    forced: tuple[str, ...] = ()


class ListCheckpoints(Command, frozen=True, kw_only=True):
    """The workspace's checkpoints, newest first (at most ``limit``)."""

    limit: int = 50


class CheckpointList(Reply, frozen=True, kw_only=True):
    """Checkpoints, newest first."""

    checkpoints: tuple[Checkpoint, ...]


class GetProposedChanges(Command, frozen=True, kw_only=True):
    """The file changes a run's steps proposed (``llm.edit``). Replies
    :class:`ProposedChanges`."""

    run_id: str


class ProposedChanges(Reply, frozen=True, kw_only=True):
    """A run's proposed changes as one change set; None when it proposed none."""

    change_set: ChangeSet | None
