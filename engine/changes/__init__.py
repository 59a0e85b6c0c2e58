"""Proposed file changes: review, atomic apply behind a checkpoint, and undo (SPEC 3.6, 5).

The maestro never writes files: it proposes a :class:`ChangeSet` (:func:`propose`), the user
reviews its diffs (:mod:`engine.changes.diff`) and accepts files, :func:`apply_changes` writes the
accepted ones as a group after taking a checkpoint, and :func:`undo` restores them. Independent
of git. Must not import Textual.
"""

from __future__ import annotations

from engine.changes.apply import apply_changes
from engine.changes.checkpoints import list_checkpoints, load_checkpoint, undo
from engine.changes.diff import change_diff, diff_text, line_counts, stat_line
from engine.changes.errors import ChangeConflict, NothingToUndo, UnsafePath
from engine.changes.model import (
    ChangeKind,
    ChangeSet,
    Checkpoint,
    CheckpointFile,
    CheckpointState,
    FileChange,
    RestoredFile,
    UndoResult,
)
from engine.changes.propose import propose

__all__ = [
    "ChangeConflict",
    "ChangeKind",
    "ChangeSet",
    "Checkpoint",
    "CheckpointFile",
    "CheckpointState",
    "FileChange",
    "NothingToUndo",
    "RestoredFile",
    "UndoResult",
    "UnsafePath",
    "apply_changes",
    "change_diff",
    "diff_text",
    "line_counts",
    "list_checkpoints",
    "load_checkpoint",
    "propose",
    "stat_line",
    "undo",
]
