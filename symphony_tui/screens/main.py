"""The main workspace screen: explorer, tabbed main area, status bar and footer."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import DirectoryTree, Footer, Static, TabbedContent, TabPane

from symphony_tui.widgets.explorer import Explorer
from symphony_tui.widgets.preview import FilePreview
from symphony_tui.widgets.status_bar import StatusBar
from symphony_tui.widgets.welcome import Welcome

if TYPE_CHECKING:
    from pathlib import Path

    from textual.app import ComposeResult

    from symphony_tui.app import SymphonyApp


class MainScreen(Screen[None]):
    """Sidebar with the explorer, the main tabs (welcome, previews), status bar, footer."""

    CSS_PATH = "main.tcss"

    BINDINGS = [
        Binding("ctrl+b", "toggle_sidebar", "Sidebar"),
        Binding("ctrl+e", "focus_explorer", "Explorer"),
        Binding("ctrl+w", "close_tab", "Close tab"),
    ]

    def __init__(
        self, workspace: Path, *, exclude: list[str], respect_gitignore: bool, show_hidden: bool
    ) -> None:
        super().__init__()
        self.workspace = workspace
        self._preview_tabs: dict[Path, str] = {}
        self._explorer_options = {
            "exclude": exclude,
            "respect_gitignore": respect_gitignore,
            "show_hidden": show_hidden,
        }

    @property
    def symphony(self) -> SymphonyApp:
        """The app, typed."""
        from symphony_tui.app import SymphonyApp

        assert isinstance(self.app, SymphonyApp)
        return self.app

    def compose(self) -> ComposeResult:
        with Horizontal(id="workspace"):
            with Vertical(id="sidebar"):
                yield Static("EXPLORER", id="sidebar-title")
                yield Explorer(self.workspace, id="explorer", **self._explorer_options)  # type: ignore[arg-type]
            with TabbedContent(id="main-tabs"), TabPane("Welcome", id="tab-welcome"):
                yield Welcome(
                    self.workspace.name or str(self.workspace), self.key_help(), id="welcome"
                )
        yield StatusBar(id="status")
        yield Footer()

    def key_help(self) -> list[tuple[str, str]]:
        """The main keys, read from the live bindings so the welcome view never lies."""
        app = self.app
        rows = [(app.get_key_display(Binding(app.COMMAND_PALETTE_BINDING, "")), "Command palette")]
        for binding in [*self.BINDINGS, *app.BINDINGS]:
            if isinstance(binding, Binding) and binding.description and binding.key != "ctrl+c":
                rows.append((app.get_key_display(binding), binding.tooltip or binding.description))
        return rows

    def on_mount(self) -> None:
        status = self.query_one(StatusBar)
        status.workspace = self.workspace.name or str(self.workspace)
        status.theme_name = self.app.theme
        self.query_one(Explorer).focus()

    def action_toggle_sidebar(self) -> None:
        """Show or hide the sidebar."""
        sidebar = self.query_one("#sidebar")
        sidebar.display = not sidebar.display
        if not sidebar.display and self.focused is not None and sidebar in self.focused.ancestors:
            self.query_one(TabbedContent).focus()

    def action_focus_explorer(self) -> None:
        """Focus the explorer, showing the sidebar if hidden."""
        self.query_one("#sidebar").display = True
        self.query_one(Explorer).focus()

    def action_close_tab(self) -> None:
        """Close the active preview tab (the welcome tab stays)."""
        tabs = self.query_one(TabbedContent)
        active = tabs.active
        if active and active != "tab-welcome":
            tabs.remove_pane(active)
            self._preview_tabs = {p: t for p, t in self._preview_tabs.items() if t != active}

    def on_directory_tree_file_selected(self, event: DirectoryTree.FileSelected) -> None:
        """Open a preview tab for the selected file, or switch to it if already open."""
        event.stop()
        path = event.path
        tabs = self.query_one(TabbedContent)
        tab_id = self._preview_tabs.get(path)
        if tab_id is None:
            tab_id = f"tab-preview-{len(self._preview_tabs) + 1}-{id(path)}"
            self._preview_tabs[path] = tab_id
            rel = path.relative_to(self.workspace) if path.is_relative_to(self.workspace) else path
            pane = TabPane(path.name, FilePreview(path), id=tab_id)
            pane.tooltip = str(rel)
            tabs.add_pane(pane)
        tabs.active = tab_id

    def set_health(self, status: str, detail: str = "") -> None:
        """Show the engine's health in the status bar."""
        bar = self.query_one(StatusBar)
        bar.health = status
        bar.health_detail = detail

    def set_config_problem(self, message: str) -> None:
        """Show (or clear, with ``""``) a configuration problem in the status bar."""
        self.query_one(StatusBar).config_problem = message

    def set_theme_name(self, name: str) -> None:
        """Show the active theme's name."""
        self.query_one(StatusBar).theme_name = name

    def reload_explorer(
        self, *, exclude: list[str], respect_gitignore: bool, show_hidden: bool
    ) -> None:
        """Apply new explorer settings and reload the tree."""
        explorer = self.query_one(Explorer)
        explorer.rules.exclude = set(exclude)
        explorer.rules.use_gitignore = respect_gitignore
        explorer.rules.clear()
        explorer.show_hidden = show_hidden
        explorer.reload()
