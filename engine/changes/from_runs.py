"""The changes a run proposes: every ``changes`` output of its steps (``llm.edit``), gathered
into one :class:`~engine.changes.model.ChangeSet` for review.

A proposal names the hash of the content the model saw (``before_sha256``); when the file is no
longer that content, the change keeps the proposal's hash, so applying it is refused with a
message naming the file rather than overwriting work done since.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from engine.changes.model import ChangeSet, FileChange
from engine.changes.propose import propose
from engine.types.errors import UsageError

if TYPE_CHECKING:
    from collections.abc import Iterable
    from pathlib import Path

__all__ = ["proposed_changes"]


def _proposals(outputs: Any) -> list[dict[str, Any]]:
    changes = outputs.get("changes") if isinstance(outputs, dict) else None
    if not isinstance(changes, list):
        return []
    return [c for c in changes if isinstance(c, dict) and isinstance(c.get("path"), str)]


def proposed_changes(
    workspace: Path,
    outputs: Iterable[Any],
    *,
    title: str = "",
    state_dir: str = ".symphony",
) -> ChangeSet | None:
    """The change set of the steps' ``outputs`` (a later step's proposal for a path wins), or
    None when nothing is proposed.

    Raises:
        UnsafePath: a proposal names a path outside the workspace.
        UsageError: a proposal is malformed.
    """
    wanted: dict[str, dict[str, Any]] = {}
    for out in outputs:
        for item in _proposals(out):
            after = item.get("after")
            if after is not None and not isinstance(after, str):
                raise UsageError(f"{item['path']}: a proposed content must be text or null")
            wanted[item["path"]] = item
    # A deletion of a file that is gone already is done: drop it rather than fail the set.
    wanted = {
        p: i
        for p, i in wanted.items()
        if i.get("after") is not None or (workspace / p).is_file() or (workspace / p).is_symlink()
    }
    if not wanted:
        return None
    current = propose(
        workspace, {p: i.get("after") for p, i in wanted.items()}, title=title, state_dir=state_dir
    )
    changes: list[FileChange] = []
    for change in current.changes:
        seen = wanted[change.path].get("before_sha256")
        if seen != change.before_sha256:
            # The file moved on since the model read it: keep what the model saw, so applying
            # this change is refused (ChangeConflict) instead of losing the newer content.
            change = FileChange(
                path=change.path,
                before_sha256=seen,
                before=change.before,
                after=change.after,
                mode=change.mode,
            )
        changes.append(change)
    if not changes:
        return None
    return ChangeSet(id=current.id, changes=tuple(changes), title=title, created=current.created)
