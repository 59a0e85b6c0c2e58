"""List a workspace's files for quick-open, honouring ``.gitignore`` and excluded names.

The walk never follows symlinked folders (no cycles), prunes ignored folders before entering
them and stops after ``limit`` files, so a huge tree costs a bounded amount of time.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pathspec

    from engine.files.ignore import IgnoreRules

__all__ = ["DEFAULT_FILE_LIMIT", "workspace_files"]

#: Quick-open lists at most this many files.
DEFAULT_FILE_LIMIT = 50_000


def workspace_files(
    rules: IgnoreRules, *, show_hidden: bool = True, limit: int = DEFAULT_FILE_LIMIT
) -> tuple[list[str], bool]:
    """Workspace-relative POSIX paths of the files under ``rules.root``, sorted per folder.

    Returns the paths and whether the walk stopped at ``limit``.
    """
    root = rules.root
    found: list[str] = []
    # Each entry: a folder (relative parts) and the .gitignore specs in force there, with the
    # depth each one was found at (a spec sees paths relative to its own folder).
    stack: list[tuple[tuple[str, ...], list[tuple[int, pathspec.GitIgnoreSpec]]]] = [((), [])]
    while stack:
        parts, inherited = stack.pop()
        folder = root.joinpath(*parts)
        specs = inherited
        if rules.use_gitignore:
            own = rules.gitignore_spec(folder)
            if own is not None:
                specs = [*inherited, (len(parts), own)]
        try:
            with os.scandir(folder) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError:
            continue
        subfolders: list[tuple[str, ...]] = []
        for entry in entries:
            name = entry.name
            if name in rules.exclude or (not show_hidden and name.startswith(".")):
                continue
            try:
                is_dir = entry.is_dir(follow_symlinks=False)
            except OSError:
                continue
            rel = (*parts, name)
            if _ignored(rel, is_dir, specs):
                continue
            if is_dir:
                subfolders.append(rel)
                continue
            found.append("/".join(rel))
            if len(found) >= limit:
                return found, True
        stack.extend((sub, specs) for sub in reversed(subfolders))
    return found, False


def _ignored(
    rel: tuple[str, ...], is_dir: bool, specs: list[tuple[int, pathspec.GitIgnoreSpec]]
) -> bool:
    suffix = "/" if is_dir else ""
    return any(spec.match_file("/".join(rel[depth:]) + suffix) for depth, spec in specs)
