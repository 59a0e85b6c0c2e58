"""Where a change may write: workspace-relative paths checked to stay inside the workspace.

A path is refused when it is empty, absolute, not normal (``a//b``, ``./a``), climbs with ``..``,
ends up outside the workspace through a symbolic link in its folders, is itself a link, or lies in
Symphony's state folder (where the checkpoints live). Also reads a file's current state. Writes
nothing.
"""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from engine.changes.errors import UnsafePath

__all__ = ["FileState", "check_path", "read_state"]


def check_path(root: Path, rel: str, *, state_dir: str = ".symphony") -> Path:
    """The absolute path of workspace-relative ``rel`` under ``root`` (already resolved).

    Raises:
        UnsafePath: the path is not a safe place to write (the message says why).
    """
    if not rel or "\x00" in rel:
        raise UnsafePath(f"{rel!r}: not a file name")
    pure = PurePosixPath(rel)
    if pure.is_absolute() or rel.startswith("~"):
        raise UnsafePath(f"{rel}: an absolute path; changes name files relative to the workspace")
    if ".." in pure.parts:
        raise UnsafePath(f"{rel}: goes outside the workspace (..)")
    if pure.as_posix() != rel or "." in rel.split("/"):
        raise UnsafePath(f"{rel}: not a normal path (write it as {pure.as_posix()!r})")
    state = PurePosixPath(state_dir)
    if not state.is_absolute() and pure.parts[: len(state.parts)] == state.parts:
        raise UnsafePath(f"{rel}: inside Symphony's state folder {state_dir}")
    target = root.joinpath(*pure.parts)
    folder = Path(os.path.realpath(target.parent))
    if not folder.is_relative_to(root):
        raise UnsafePath(f"{rel}: its folder is a link out of the workspace (to {folder})")
    # Through a link too: Symphony's state (checkpoints) and git's own files are never changed.
    protected = [(Path(os.path.realpath(root / ".git")), ".git")]
    if not state.is_absolute():
        protected.append((Path(os.path.realpath(root / state_dir)), state_dir))
    for place, name in protected:
        if folder.is_relative_to(place):
            raise UnsafePath(f"{rel}: inside {name} (changes never write there)")
    if target.is_symlink():
        raise UnsafePath(f"{rel}: a symbolic link; Symphony changes files, not links")
    return target


@dataclass(frozen=True, slots=True)
class FileState:
    """A file's content and permission bits, or its absence (``data is None``)."""

    data: bytes | None
    mode: int | None
    folder: bool = False


def read_state(path: Path) -> FileState:
    """What is at ``path`` now: a file's bytes and mode, nothing, or a folder.

    A path under something that is not a folder counts as missing: nothing is there.

    Raises:
        OSError: the file exists but cannot be read.
    """
    try:
        st = path.lstat()
    except OSError as e:
        if e.errno in (errno.ENOENT, errno.ENOTDIR):
            return FileState(None, None)
        raise
    if stat.S_ISDIR(st.st_mode):
        return FileState(None, None, folder=True)
    return FileState(path.read_bytes(), stat.S_IMODE(st.st_mode))
