"""Create, rename and delete workspace files, as the explorer offers them.

Names typed by a user are checked first (:func:`resolve_new_path`): they must stay inside the
workspace and not exist yet. New files are created with :func:`~engine.files.atomic.write_atomic`;
renames are one ``rename(2)`` (atomic) and never replace an existing path.
"""

from __future__ import annotations

import os
import shutil
from typing import TYPE_CHECKING

from engine.files.atomic import write_atomic

if TYPE_CHECKING:
    from pathlib import Path

__all__ = [
    "PathProblem",
    "count_files",
    "create_path",
    "delete_path",
    "rename_path",
    "resolve_new_path",
]


class PathProblem(ValueError):
    """A typed name that cannot be used; the message says why."""


def resolve_new_path(workspace: Path, folder: Path, name: str) -> Path:
    """The path ``name`` (relative to ``folder``; ``/`` separates folders) would create.

    Raises:
        PathProblem: the name is empty, absolute, leaves the workspace or already exists.
    """
    name = name.strip()
    if not name or name.strip("/") == "":
        raise PathProblem("type a name")
    if name.startswith("/") or "\\" in name:
        raise PathProblem("use a name relative to the folder, with / between folders")
    parts = [p for p in name.split("/") if p]
    if any(p in (".", "..") for p in parts):
        raise PathProblem("'.' and '..' are not allowed in the name")
    path = folder.joinpath(*parts)
    if (
        not path.resolve().is_relative_to(workspace.resolve())
        or path.resolve() == workspace.resolve()
    ):
        raise PathProblem("that is outside the workspace")
    if path.exists() or path.is_symlink():
        raise PathProblem(f"{'/'.join(parts)} already exists")
    return path


def create_path(path: Path, *, folder: bool = False) -> None:
    """Create an empty file (atomically) or a folder, with any missing parent folders."""
    if folder:
        path.mkdir(parents=True)
    else:
        write_atomic(path, b"", make_dirs=True)


def rename_path(source: Path, target: Path) -> None:
    """Rename ``source`` to ``target`` in one step, creating ``target``'s folder if needed.

    Raises:
        FileExistsError: ``target`` exists (it is never replaced).
    """
    if target.exists() or target.is_symlink():
        raise FileExistsError(f"{target.name} already exists")
    target.parent.mkdir(parents=True, exist_ok=True)
    source.rename(target)


def count_files(path: Path) -> int:
    """How many files are under folder ``path`` (1 for a file)."""
    if not path.is_dir() or path.is_symlink():
        return 1
    return sum(len(files) for _, _, files in os.walk(path))


def delete_path(path: Path) -> None:
    """Delete a file, a symlink (not its target) or a folder with everything in it."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()
