"""The explorer's file operations and quick open, for the workspace screen.

New file or folder, rename (open editors follow), delete with a confirmation naming what goes,
and quick open by fuzzy name. Each asks with a dialog and reports problems as notifications;
the file system work is :mod:`engine.files.ops`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from engine.files.ignore import IgnoreRules
from engine.files.ops import (
    PathProblem,
    count_files,
    create_path,
    delete_path,
    rename_path,
    resolve_new_path,
)
from symphony_tui.screens.editor_dialogs import ChoiceDialog, InputDialog, QuickOpen
from symphony_tui.widgets.explorer import Explorer

if TYPE_CHECKING:
    from symphony_tui.screens.main import MainScreen

__all__ = ["FileActions"]


class FileActions:
    """File operations on the explorer's selection (or the active editor's file)."""

    def __init__(self, screen: MainScreen) -> None:
        self.screen = screen

    def quick_open(self) -> None:
        """Pick a workspace file by fuzzy name and open it."""
        options = self.screen.explorer_options
        rules = IgnoreRules(
            self.screen.workspace,
            exclude=options["exclude"],  # type: ignore[arg-type]
            use_gitignore=bool(options["respect_gitignore"]),
        )

        async def answered(rel: str | None) -> None:
            if rel:
                await self.screen.open_file(self.screen.workspace / rel)

        self.screen.app.push_screen(
            QuickOpen(rules, show_hidden=bool(options["show_hidden"])), answered
        )

    def selected_path(self) -> Path:
        """What the file operations act on: the explorer's selection when it has focus, else
        the active editor's file, else the explorer's selection (the workspace at its root)."""
        explorer = self.screen.query_one(Explorer)
        editor = self.screen.active_editor
        if self.screen.focused is not explorer and editor is not None:
            return editor.path
        node = explorer.cursor_node
        if node is None or node.data is None or node is explorer.root:
            return self.screen.workspace
        return Path(node.data.path)

    async def refresh_explorer(self) -> None:
        explorer = self.screen.query_one(Explorer)
        explorer.rules.clear()
        await explorer.reload()

    def new_file(self) -> None:
        """Create a file (or, ending in ``/``, a folder) next to the selection and open it."""
        selected = self.selected_path()
        folder = selected if selected.is_dir() else selected.parent
        where = self.screen.relative(folder) if folder != self.screen.workspace else "the workspace"

        def check(value: str) -> str:
            try:
                resolve_new_path(self.screen.workspace, folder, value)
            except PathProblem as e:
                return str(e)
            return ""

        async def answered(value: str | None) -> None:
            if not value:
                return
            try:
                path = resolve_new_path(self.screen.workspace, folder, value)
                create_path(path, folder=value.endswith("/"))
            except (PathProblem, OSError) as e:
                self.screen.notify(str(e), title="New file failed", severity="error")
                return
            await self.refresh_explorer()
            if not value.endswith("/"):
                await self.screen.open_file(path)

        self.screen.app.push_screen(
            InputDialog(
                f"New file in {where}",
                placeholder="name, or path/to/name; end with / for a folder",
                validate=check,
            ),
            answered,
        )

    def rename(self) -> None:
        """Rename the selected file or folder (open editors follow it)."""
        source = self.selected_path()
        if source == self.screen.workspace:
            self.screen.notify("select a file or folder in the explorer first", title="Rename")
            return

        def check(value: str) -> str:
            if value == source.name:
                return ""
            try:
                resolve_new_path(self.screen.workspace, source.parent, value)
            except PathProblem as e:
                return str(e)
            return ""

        async def answered(value: str | None) -> None:
            if not value or value == source.name:
                return
            try:
                target = resolve_new_path(self.screen.workspace, source.parent, value)
                rename_path(source, target)
            except (PathProblem, OSError) as e:
                self.screen.notify(str(e), title="Rename failed", severity="error")
                return
            self.follow_rename(source, target)
            await self.refresh_explorer()

        self.screen.app.push_screen(
            InputDialog(
                f"Rename {self.screen.relative(source)}", value=source.name, validate=check
            ),
            answered,
        )

    def follow_rename(self, source: Path, target: Path) -> None:
        for editor in self.screen.editors:
            if editor.path == source or editor.path.is_relative_to(source):
                new = target / editor.path.relative_to(source)
                tab_id = self.screen.file_tabs.pop(editor.path, None)
                editor.moved_to(new)
                if tab_id is not None:
                    self.screen.file_tabs[new] = tab_id
                self.screen.relabel(editor)
                if (pane := self.screen.tab_of(editor)) is not None:
                    pane.tooltip = self.screen.relative(new)

    def delete(self) -> None:
        """Delete the selected file or folder after a confirmation naming it."""
        path = self.selected_path()
        if path == self.screen.workspace:
            self.screen.notify("select a file or folder in the explorer first", title="Delete")
            return
        rel = self.screen.relative(path)
        if path.is_dir() and not path.is_symlink():
            count = count_files(path)
            message = f"Delete the folder {rel}/ and the {count:,} file{'s' * (count != 1)} in it?"
        else:
            message = f"Delete {rel}?"

        async def answered(choice: str | None) -> None:
            if choice != "delete":
                return
            try:
                delete_path(path)
            except OSError as e:
                self.screen.notify(
                    f"{rel}: {e.strerror or e}", title="Delete failed", severity="error"
                )
                return
            self.screen.notify(f"deleted {rel}", timeout=3)
            await self.refresh_explorer()

        self.screen.app.push_screen(
            ChoiceDialog(
                "Delete",
                message + " This cannot be undone.",
                [("cancel", "Cancel"), ("delete", "Delete")],
            ),
            answered,
        )
