"""Proposed file changes on the command line: preview them (``--dry-run``) or apply them all
(``--apply``) behind a checkpoint that ``symphony undo`` restores.

:func:`apply_or_preview` is what ``symphony ask`` calls with the change set its maestro
proposed. Diffs and applied files are data (stdout); the summary is narration (stderr). With
``json_`` each call prints one JSON line, like ``ask --json``.
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any

from symphony_cli.output import out, say

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

    from engine.changes.model import ChangeSet, Checkpoint, FileChange
    from engine.pit.artifacts.models import Producer
    from engine.pit.artifacts.store import ArtifactStore

__all__ = ["apply_or_preview", "file_entry"]


def file_entry(change: FileChange) -> dict[str, Any]:
    """One changed file for JSON output: path, kind, lines added and removed."""
    from engine.changes.diff import line_counts

    added, removed = line_counts(change)
    return {"path": change.path, "kind": change.kind.value, "added": added, "removed": removed}


def _plural(n: int) -> str:
    return f"{n} file{'s' if n != 1 else ''}"


def apply_or_preview(
    change_set: ChangeSet,
    workspace: Path,
    *,
    apply: bool,
    json_: bool = False,
    state_dir: str = ".symphony",
    store: ArtifactStore | None = None,
    producer: Producer | None = None,
    inputs: Sequence[str] = (),
    keep: int | None = None,
) -> Checkpoint | None:
    """Print a change set's diffs (``apply=False``) or apply every change in it.

    Args:
        change_set: the proposed changes.
        workspace: the workspace folder.
        apply: write the files (behind a checkpoint) instead of printing the diffs.
        json_: print one JSON line (``ChangesProposed`` or ``ChangesApplied``) instead of text.
        state_dir: ``core.state_dir`` of the workspace's configuration.
        store, producer, inputs: record the change set, diff and checkpoint as artifacts.
        keep: checkpoints kept after the apply (``aide.keep_checkpoints``).

    Returns:
        The checkpoint when files were written; None for a preview or an empty change set.

    Raises:
        ChangeConflict: a file changed since the change was proposed (nothing written; exit 2).
        UnsafePath: a path is outside the workspace (exit 2).
        SymphonyError: a write failed (the files already written were restored).
    """
    from engine.changes.apply import apply_changes
    from engine.changes.diff import diff_text, stat_line

    files = [file_entry(c) for c in change_set.changes]
    if not change_set.changes:
        if json_:
            _json_line({"event": "ChangesProposed", "change_set": change_set.id, "files": []})
        else:
            say("no file changes proposed")
        return None
    if not apply:
        if json_:
            _json_line(
                {
                    "event": "ChangesProposed",
                    "change_set": change_set.id,
                    "files": files,
                    "diff": diff_text(change_set),
                }
            )
        else:
            sys.stdout.write(diff_text(change_set))
            for change in change_set.changes:
                say(stat_line(change))
            say(f"{_plural(len(files))} would change (dry run; --apply writes them)")
        return None
    checkpoint = apply_changes(
        workspace,
        change_set,
        None,
        state_dir=state_dir,
        store=store,
        producer=producer,
        inputs=inputs,
        keep=keep,
    )
    if json_:
        _json_line(
            {
                "event": "ChangesApplied",
                "change_set": change_set.id,
                "checkpoint": checkpoint.id,
                "files": files,
            }
        )
    else:
        for change in change_set.changes:
            out(stat_line(change))
        say(
            f"applied {_plural(len(files))}; checkpoint {checkpoint.id} "
            "(symphony undo restores them)"
        )
    return checkpoint


def _json_line(data: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(data, sort_keys=True) + "\n")
    sys.stdout.flush()
