"""The workspace explorer: a lazy directory tree that hides ignored files."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.widgets import DirectoryTree

from engine.files.ignore import IgnoreRules

if TYPE_CHECKING:
    from collections.abc import Iterable
    from pathlib import Path


class Explorer(DirectoryTree):
    """Directory tree of the workspace, respecting ``.gitignore`` and configured excludes.

    Folders load lazily when expanded, so huge trees open instantly.
    """

    DEFAULT_CSS = """
    Explorer {
        background: $surface;
        scrollbar-size-vertical: 1;
    }
    """

    def __init__(
        self,
        root: Path,
        *,
        exclude: Iterable[str] = (),
        respect_gitignore: bool = True,
        show_hidden: bool = True,
        id: str | None = None,
    ) -> None:
        self.rules = IgnoreRules(root, exclude=exclude, use_gitignore=respect_gitignore)
        self.show_hidden = show_hidden
        super().__init__(root, id=id)

    def filter_paths(self, paths: Iterable[Path]) -> Iterable[Path]:
        """Hide ignored and excluded paths, and dot-files when ``show_hidden`` is off."""
        keep = []
        for path in paths:
            if not self.show_hidden and path.name.startswith("."):
                continue
            if self.rules.ignored(path):
                continue
            keep.append(path)
        return keep
