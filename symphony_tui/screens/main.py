"""The main workspace screen: explorer, tabbed main area, bottom panel, status bar and footer.

The main area holds the welcome view, file previews and terminal tabs; the bottom panel (hidden
until asked for) holds one terminal now, and is a tabbed area so later panels (conductor log,
output) join it as tabs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import DirectoryTree, Footer, Static, TabbedContent, TabPane, Tabs

from symphony_tui.widgets.explorer import Explorer
from symphony_tui.widgets.preview import FilePreview
from symphony_tui.widgets.status_bar import StatusBar
from symphony_tui.widgets.terminal import Terminal
from symphony_tui.widgets.welcome import Welcome

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

    from textual.app import ComposeResult
    from textual.binding import ActiveBinding
    from textual.widget import Widget

    from symphony_tui.app import SymphonyApp


#: Longest terminal title shown in a tab label.
TAB_TITLE_LIMIT = 24


class MainScreen(Screen[None]):
    """Sidebar with the explorer, the main tabs (welcome, previews, terminals), bottom panel,
    status bar, footer."""

    CSS_PATH = "main.tcss"

    BINDINGS = [
        Binding("ctrl+b", "toggle_sidebar", "Sidebar"),
        Binding("ctrl+e", "focus_explorer", "Explorer"),
        Binding("ctrl+w", "close_tab", "Close tab"),
        # Not in the footer: at 80 columns it would push Quit off (the welcome view and the
        # palette show it). Inside a terminal ctrl+n is the program's.
        Binding(
            "ctrl+n", "new_terminal", "New terminal", show=False, tooltip="Open a new terminal tab"
        ),
        # Also works inside terminals: they pass the keys bound to this action to the screen.
        Binding("ctrl+j", "toggle_panel", "Panel", tooltip="Show or hide the terminal panel"),
    ]

    def __init__(
        self, workspace: Path, *, exclude: list[str], respect_gitignore: bool, show_hidden: bool
    ) -> None:
        super().__init__()
        self.workspace = workspace
        self._preview_tabs: dict[Path, str] = {}
        self._terminals_opened = 0
        self._focus_before_panel: Widget | None = None
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
            with Vertical(id="main"):
                with TabbedContent(id="main-tabs"), TabPane("Welcome", id="tab-welcome"):
                    yield Welcome(
                        self.workspace.name or str(self.workspace), self.key_help(), id="welcome"
                    )
                with TabbedContent(id="panel"):
                    yield TabPane("Terminal", id="panel-terminal")
        yield StatusBar(id="status")
        yield Footer()

    @property
    def active_bindings(self) -> dict[str, ActiveBinding]:
        """The keys that work where the focus is (the footer shows these).

        A running terminal keeps every key for its program except its own bindings, the keys
        it was told to let through and the app's priority keys, so only those are listed then.
        """
        bindings = super().active_bindings
        focused = self.focused
        if isinstance(focused, Terminal) and focused.alive:
            return {
                key: active
                for key, active in bindings.items()
                if active.binding.priority or active.node is focused or key in focused.escape_keys
            }
        return bindings

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
            self.query_one("#main-tabs", TabbedContent).focus()

    def action_focus_explorer(self) -> None:
        """Focus the explorer, showing the sidebar if hidden."""
        self.query_one("#sidebar").display = True
        self.query_one(Explorer).focus()

    def action_close_tab(self) -> None:
        """Close the active tab (the welcome tab stays); in the panel, close its terminal.

        Closing a terminal ends its program (SIGHUP, then SIGKILL if it lingers).
        """
        if self._in_panel(self.focused):
            self.close_panel_terminal()
            return
        tabs = self.query_one("#main-tabs", TabbedContent)
        active = tabs.active
        if active and active != "tab-welcome":
            tabs.remove_pane(active)
            self._preview_tabs = {p: t for p, t in self._preview_tabs.items() if t != active}

    # --- terminals ---------------------------------------------------------------------------

    def _escape_keys(self) -> list[str]:
        """Keys a terminal leaves to the screen: those bound to toggling the panel."""
        return [key for key, binding in self._bindings if binding.action == "toggle_panel"]

    def _new_terminal(self, argv: Sequence[str] | None, *, name: str | None = None) -> Terminal:
        escape_keys = self._escape_keys()
        return Terminal(argv, cwd=self.workspace, escape_keys=escape_keys, name=name)

    async def open_terminal(self, argv: Sequence[str] | None = None) -> Terminal:
        """Open a terminal tab running ``argv`` (default ``$SHELL``) and focus it."""
        self._terminals_opened += 1
        number = self._terminals_opened
        terminal = self._new_terminal(argv, name=str(number))
        pane = TabPane(f"Terminal {number}", terminal, id=f"tab-terminal-{number}")
        tabs = self.query_one("#main-tabs", TabbedContent)
        await tabs.add_pane(pane)
        tabs.active = pane.id or ""
        terminal.focus()
        return terminal

    async def action_new_terminal(self) -> None:
        """Open a new terminal tab running your shell in the workspace."""
        await self.open_terminal()

    def on_terminal_title_changed(self, event: Terminal.TitleChanged) -> None:
        """Show a terminal's window title in its tab label."""
        terminal = event.terminal
        pane = terminal.parent
        if not isinstance(pane, TabPane) or pane.id is None or self._in_panel(terminal):
            return
        title = event.title.strip()
        if len(title) > TAB_TITLE_LIMIT:
            title = title[: TAB_TITLE_LIMIT - 1] + "…"
        label = f"{terminal.name}: {title}" if title else f"Terminal {terminal.name}"
        self.query_one("#main-tabs", TabbedContent).get_tab(pane).label = label

    @property
    def panel_terminal(self) -> Terminal | None:
        """The bottom panel's terminal, if it has one."""
        terminals = self.query_one("#panel-terminal").query_children(Terminal)
        return terminals.first() if terminals else None

    def _in_panel(self, widget: Widget | None) -> bool:
        return widget is not None and self.query_one("#panel") in widget.ancestors_with_self

    async def action_toggle_panel(self) -> None:
        """Show the bottom panel with its terminal (focused), or hide it."""
        panel = self.query_one("#panel")
        if panel.display:
            self._hide_panel()
            return
        focused = self.focused
        self._focus_before_panel = focused
        panel.display = True
        terminal = self.panel_terminal
        if terminal is None:
            terminal = self._new_terminal(None)
            await self.query_one("#panel-terminal").mount(terminal)
        terminal.focus()

    def _hide_panel(self) -> None:
        panel = self.query_one("#panel")
        if not panel.display:
            return
        focus_back = self._in_panel(self.focused)
        panel.display = False
        if focus_back:
            self._restore_focus()

    def _restore_focus(self) -> None:
        before, self._focus_before_panel = self._focus_before_panel, None
        if before is not None and before.is_attached and not self._in_panel(before):
            before.focus()
            return
        pane = self.query_one("#main-tabs", TabbedContent).active_pane
        terminals = pane.query(Terminal) if pane is not None else None
        if terminals:
            terminals.first().focus()
        else:
            self.query_one("#main-tabs").query_one(Tabs).focus()

    def close_panel_terminal(self) -> None:
        """End the panel's terminal and hide the panel; showing it again starts a new one."""
        terminal = self.panel_terminal
        self._hide_panel()
        if terminal is not None:
            terminal.remove()

    def on_directory_tree_file_selected(self, event: DirectoryTree.FileSelected) -> None:
        """Open a preview tab for the selected file, or switch to it if already open."""
        event.stop()
        path = event.path
        tabs = self.query_one("#main-tabs", TabbedContent)
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
