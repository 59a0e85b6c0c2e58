"""Which workspace paths are ignored: ``.gitignore`` rules plus configured excluded names.

Rules of every ``.gitignore`` between the workspace root and a folder apply to that folder,
as in git. Specs are parsed once per folder and cached; call :meth:`IgnoreRules.clear` when a
``.gitignore`` changes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pathspec

if TYPE_CHECKING:
    from collections.abc import Iterable
    from pathlib import Path


class IgnoreRules:
    """Decide whether a path under ``root`` is ignored."""

    def __init__(
        self, root: Path, *, exclude: Iterable[str] = (), use_gitignore: bool = True
    ) -> None:
        self.root = root.resolve()
        self.exclude = set(exclude)
        self.use_gitignore = use_gitignore
        self._specs: dict[Path, pathspec.GitIgnoreSpec | None] = {}

    def clear(self) -> None:
        """Forget cached ``.gitignore`` files."""
        self._specs.clear()

    def gitignore_spec(self, folder: Path) -> pathspec.GitIgnoreSpec | None:
        """The parsed ``.gitignore`` of ``folder`` (resolved), or None if it has none."""
        return self._spec(folder)

    def _spec(self, folder: Path) -> pathspec.GitIgnoreSpec | None:
        if folder not in self._specs:
            try:
                lines = (folder / ".gitignore").read_text(encoding="utf-8", errors="replace")
            except OSError:
                self._specs[folder] = None
            else:
                self._specs[folder] = pathspec.GitIgnoreSpec.from_lines(lines.splitlines())
        return self._specs[folder]

    def ignored(self, path: Path) -> bool:
        """True if ``path`` is excluded by name or ignored by a ``.gitignore``."""
        if path.name in self.exclude:
            return True
        if not self.use_gitignore:
            return False
        try:
            rel = path.resolve().relative_to(self.root)
        except ValueError:
            return False
        is_dir = path.is_dir()
        # Walk from the root down to the path's folder; each .gitignore sees paths relative to it.
        folder = self.root
        parts = rel.parts
        for depth in range(len(parts)):
            spec = self._spec(folder)
            if spec is not None:
                sub = "/".join(parts[depth:]) + ("/" if is_dir else "")
                if spec.match_file(sub):
                    return True
            folder = folder / parts[depth]
        return False
