"""Build a :class:`ChangeSet` from proposed new file contents, reading the current files.

Writes nothing: applying is :func:`engine.changes.apply.apply_changes`.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import TYPE_CHECKING

from engine.changes.errors import UnsafePath
from engine.changes.model import ChangeSet, FileChange, new_id, sha256
from engine.changes.paths import check_path, read_state
from engine.types.errors import UsageError

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["propose"]


def propose(
    workspace: Path,
    contents: Mapping[str, str | bytes | None],
    *,
    title: str = "",
    modes: Mapping[str, int] | None = None,
    state_dir: str = ".symphony",
) -> ChangeSet:
    """The change set that turns the workspace's files into ``contents``.

    Args:
        workspace: the workspace folder.
        contents: workspace-relative path → new content (text is encoded as UTF-8); None
            deletes the file. A path whose content would not change is left out.
        title: what the changes are for (shown in review, kept in the checkpoint).
        modes: permission bits for some paths (e.g. ``0o755`` for a new script).
        state_dir: Symphony's state folder, where no change may write.

    Raises:
        UnsafePath: a path is outside the workspace or otherwise unusable.
        UsageError: a deletion names a file that does not exist, or a path is a folder.
    """
    root = Path(os.path.realpath(workspace))
    modes = modes or {}
    changes: list[FileChange] = []
    for rel, new in contents.items():
        target = check_path(root, rel, state_dir=state_dir)
        try:
            current = read_state(target)
        except OSError as e:
            raise UsageError(f"{rel}: cannot read: {e.strerror or e}") from e
        if current.folder:
            raise UnsafePath(f"{rel}: a folder, not a file")
        after = new.encode("utf-8") if isinstance(new, str) else new
        if after is None and current.data is None:
            raise UsageError(f"{rel}: cannot delete it: no such file")
        mode = modes.get(rel)
        if after == current.data and (mode is None or mode == current.mode):
            continue
        changes.append(
            FileChange(
                path=rel,
                before_sha256=None if current.data is None else sha256(current.data),
                before=current.data,
                after=after,
                mode=mode,
            )
        )
    return ChangeSet(id=new_id(), changes=tuple(changes), title=title, created=time.time())
