"""The main workspace screen: explorer, tabbed main area, bottom panel, status bar and footer.

The main area holds the welcome view, editors (read-only previews for binary and huge files) and
terminal tabs; the bottom panel (hidden until asked for) holds one terminal now, and is a tabbed
area so later panels (conductor log, output) join it as tabs. The screen decides what to ask
when an editor has unsaved changes (closing, quitting, a change on disk) and runs the explorer's
file operations.
"""

from __future__ import annotations

import hashlib
import logging
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.css.query import NoMatches
from textual.screen import Screen
from textual.widgets import DirectoryTree, Footer, Static, TabbedContent, TabPane, Tabs

from engine.files.text import decode_text
from engine.runs.messages import ListMelodies
from engine.terminal.transcripts import Transcript, transcript_command
from engine.types.errors import SymphonyError
from symphony_tui.keymap import key_rows, keys_for
from symphony_tui.screens.editor_dialogs import ChoiceDialog, InputDialog, PickDialog
from symphony_tui.screens.file_actions import FileActions
from symphony_tui.screens.workspace_recovery import WorkspaceRecovery
from symphony_tui.views.chat import ChatPanel
from symphony_tui.views.conductor import ConductorPanel
from symphony_tui.widgets.editor import Editor, editor_label, read_for_editing
from symphony_tui.widgets.explorer import Explorer
from symphony_tui.widgets.preview import FilePreview
from symphony_tui.widgets.status_bar import StatusBar
from symphony_tui.widgets.terminal import Terminal
from symphony_tui.widgets.welcome import Welcome

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from textual import events
    from textual.app import ComposeResult
    from textual.binding import ActiveBinding
    from textual.widget import Widget

    from engine.config.models import AideConfig, EditorConfig
    from engine.files.recovery import RecoveryStore
    from symphony_tui.app import SymphonyApp
    from symphony_tui.views.board import BoardView
    from symphony_tui.views.runs import RunsView


log = logging.getLogger(__name__)

#: How often unsaved buffers are written to the recovery area, in seconds.
RECOVERY_INTERVAL = 5.0
#: Longest terminal title shown in a tab label.
TAB_TITLE_LIMIT = 24
#: Actions that need an editor in the active tab (hidden from the footer otherwise).
EDITOR_ACTIONS = frozenset({"save", "find", "replace", "go_to_line"})
#: The explorer's file operations, bound to plain keys.
FILE_ACTIONS = frozenset({"new_file", "rename_file", "delete_file"})
#: Keys the welcome view leaves out: they only make sense in one place, or are for later.
WELCOME_SKIPS = EDITOR_ACTIONS | {
    "new_file",
    "rename_file",
    "delete_file",
    "panel_taller",
    "panel_shorter",
    "sidebar_wider",
    "sidebar_narrower",
}
#: Bindings whose keys a running terminal leaves to the screen.
TERMINAL_ESCAPES = ("toggle_panel", "panel_taller", "panel_shorter")
#: Footer entries shown only when the screen is at least this wide (they fit at 100 columns).
WIDE_FOOTER = 100
#: ...and the actions that need that width (the palette and F1 list them anyway).
WIDE_ONLY_ACTIONS = frozenset({"change_theme", "show_health"})
#: Smallest panel height and sidebar width when resizing (rows, columns).
MIN_PANEL, MIN_SIDEBAR = 4, 12


class MainScreen(Screen[None]):
    """Sidebar with the explorer, the main tabs (welcome, editors, terminals), bottom panel,
    status bar, footer."""

    CSS_PATH = "main.tcss"

    BINDINGS = [
        Binding("ctrl+b", "toggle_sidebar", "Sidebar", id="toggle_sidebar"),
        Binding("ctrl+e", "focus_explorer", "Explorer", id="focus_explorer"),
        Binding("ctrl+w", "close_tab", "Close tab", id="close_tab"),
        # Not in the footer: at 80 columns it would push Quit off (the welcome view and the
        # palette show it). Inside a terminal ctrl+n is the program's.
        Binding(
            "ctrl+n",
            "new_terminal",
            "New terminal",
            show=False,
            tooltip="Open a new terminal tab",
            id="new_terminal",
        ),
        # Also work inside terminals: they pass the keys bound to these actions to the screen.
        Binding(
            "ctrl+j",
            "toggle_panel",
            "Panel",
            tooltip="Show or hide the terminal panel",
            id="toggle_panel",
        ),
        Binding(
            "ctrl+shift+up",
            "resize_panel(2)",
            "Taller panel",
            show=False,
            tooltip="Make the bottom panel taller",
            id="panel_taller",
        ),
        Binding(
            "ctrl+shift+down",
            "resize_panel(-2)",
            "Shorter panel",
            show=False,
            tooltip="Make the bottom panel shorter",
            id="panel_shorter",
        ),
        Binding(
            "alt+shift+right",
            "resize_sidebar(4)",
            "Wider sidebar",
            show=False,
            tooltip="Make the sidebar wider",
            id="sidebar_wider",
        ),
        Binding(
            "alt+shift+left",
            "resize_sidebar(-4)",
            "Narrower sidebar",
            show=False,
            tooltip="Make the sidebar narrower",
            id="sidebar_narrower",
        ),
        Binding("f3", "board", "Board", tooltip="Open a melody on the Harmony Board", id="board"),
        Binding("f4", "runs", "Runs", show=False, tooltip="Recent melody runs", id="runs"),
        Binding(
            "f8", "artifacts", "Artifacts", show=False, tooltip="Search artifacts", id="artifacts"
        ),
        Binding(
            "f9",
            "extensions",
            "Extensions",
            show=False,
            tooltip="Installed extensions and the marketplace",
            id="extensions",
        ),
        Binding(
            "ctrl+k",
            "conductor",
            "Ask",
            show=False,
            # Text fields bind ctrl+k (delete to the end of the line): the conductor wins.
            priority=True,
            tooltip="Ask the conductor to plan and run something",
            id="conductor",
        ),
        Binding(
            "f12",
            "chat",
            "Chat",
            show=False,
            tooltip="Chat with a configured AI model",
            id="chat",
        ),
        Binding(
            "ctrl+o",
            "quick_open",
            "Quick open",
            show=False,
            tooltip="Open a file by name",
            id="quick_open",
        ),
        # Editor keys: active while the current tab is an editor. (ctrl+h reaches most
        # terminals as backspace and ctrl+g leaves a terminal, hence ctrl+r and ctrl+l.)
        Binding("ctrl+s", "save", "Save", tooltip="Save the file", id="save"),
        Binding("ctrl+f", "find", "Find", tooltip="Find in the file", id="find"),
        Binding("ctrl+r", "replace", "Replace", show=False, id="replace"),
        Binding("ctrl+l", "go_to_line", "Go to line", show=False, id="go_to_line"),
        # File operations on the explorer's selection. Plain keys: they reach the screen only
        # when the focused widget does not take typing (the explorer, the tab bar).
        Binding("n", "new_file", "New file", show=False, id="new_file"),
        Binding("r", "rename_file", "Rename", show=False, id="rename_file"),
        Binding("delete", "delete_file", "Delete", show=False, id="delete_file"),
    ]

    def __init__(
        self,
        workspace: Path,
        *,
        exclude: list[str],
        respect_gitignore: bool,
        show_hidden: bool,
        recovery: RecoveryStore | None = None,
        restore_layout: bool = False,
    ) -> None:
        super().__init__()
        self.workspace = workspace
        self.keeper = WorkspaceRecovery(self, recovery, restore_layout=restore_layout)
        self.files = FileActions(self)
        self.file_tabs: dict[Path, str] = {}
        self._files_opened = 0
        self._asking_about: set[Editor] = set()
        self._terminals_opened = 0
        self._focus_before_panel: Widget | None = None
        #: Sizes the user chose (keys or dragging the border); None keeps the stylesheet's.
        self.panel_rows: int | None = None
        self.sidebar_columns: int | None = None
        self._dragging: str | None = None
        self._quitting = False
        self.explorer_options = {
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
                yield Explorer(self.workspace, id="explorer", **self.explorer_options)  # type: ignore[arg-type]
            with Vertical(id="main"):
                with TabbedContent(id="main-tabs"), TabPane("Welcome", id="tab-welcome"):
                    yield Welcome(
                        self.workspace.name or str(self.workspace),
                        self.key_help(),
                        quick_open=self._first_key("quick_open"),
                        help_key=self._first_key("help"),
                        id="welcome",
                    )
                with TabbedContent(id="panel"):
                    yield TabPane("Terminal", id="panel-terminal")
                    yield TabPane("Conductor", ConductorPanel(id="conductor"), id="panel-conductor")
                    yield TabPane("Chat", ChatPanel(id="chat"), id="panel-chat")
        yield StatusBar(id="status")
        yield Footer()

    @property
    def active_bindings(self) -> dict[str, ActiveBinding]:
        """The keys that work where the focus is (the footer shows these).

        A running terminal keeps every key for its program except its own bindings, the keys
        it was told to let through and the app's priority keys, so only those are listed then.
        """
        bindings = super().active_bindings
        if self.app.size.width < WIDE_FOOTER:
            bindings = {
                key: active
                for key, active in bindings.items()
                if active.binding.action not in WIDE_ONLY_ACTIONS
            }
        focused = self.focused
        if isinstance(focused, Terminal) and focused.alive:
            return {
                key: active
                for key, active in bindings.items()
                if active.binding.priority or active.node is focused or key in focused.escape_keys
            }
        return bindings

    def key_help(self) -> list[tuple[str, str]]:
        """The main keys, read from the keymap in effect so the welcome view never lies."""
        app = self.symphony
        order = {"command_palette": 0, "Workspace": 1, "Everywhere": 2}
        rows = [
            row
            for row in key_rows(app.keymap)
            if row.scope in order and row.id and row.id not in WELCOME_SKIPS
        ]
        rows.sort(key=lambda row: order.get(row.id or "", order[row.scope]))
        return [(app.get_key_display(Binding(row.keys[0], "")), row.description) for row in rows]

    def keymap_changed(self) -> None:
        """``ide.keymap`` changed: terminals let the new keys through, the welcome view and the
        footer show them."""
        keys = self._escape_keys()
        for terminal in self.query(Terminal):
            terminal.escape_keys = frozenset(keys)
        for welcome in self.query(Welcome):
            welcome.set_keys(
                self.key_help(),
                quick_open=self._first_key("quick_open"),
                help_key=self._first_key("help"),
            )
        self.refresh_bindings()

    def _first_key(self, binding_id: str) -> str:
        keys = keys_for(binding_id, self.symphony.keymap)
        return self.app.get_key_display(Binding(keys[0], "")) if keys else ""

    def on_mount(self) -> None:
        status = self.query_one(StatusBar)
        status.workspace = self.workspace.name or str(self.workspace)
        status.theme_name = self.app.theme
        self.show_model(self.symphony.loaded.config.aide)
        self.query_one(Explorer).focus()
        if self.keeper.store is not None:
            self.set_interval(RECOVERY_INTERVAL, self.flush_recovery)
            self.call_after_refresh(self.keeper.start)

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

        An editor with unsaved changes asks first: Save, Discard or Cancel. Closing a terminal
        ends its program (SIGHUP, then SIGKILL if it lingers).
        """
        if self._in_panel(self.focused):
            self.close_panel_terminal()
            return
        tabs = self.query_one("#main-tabs", TabbedContent)
        active = tabs.active
        if not active or active == "tab-welcome":
            return
        board = self._board_in(active)
        if board is not None and board.dirty:
            self._ask_board_close(board, active)
            return
        editor = self.active_editor
        if editor is None or not editor.dirty:
            self._remove_tab(active)
            return

        def answered(choice: str | None) -> None:
            if choice == "discard" or (choice == "save" and editor.save()):
                self._remove_tab(active)

        self.app.push_screen(
            ChoiceDialog(
                "Unsaved changes",
                f"Save the changes to {self.relative(editor.path)} before closing?",
                [("save", "Save"), ("discard", "Discard"), ("cancel", "Cancel")],
            ),
            answered,
        )

    def _board_in(self, tab_id: str) -> BoardView | None:
        from symphony_tui.views.board import BoardView

        try:
            pane = self.query_one("#main-tabs", TabbedContent).get_pane(tab_id)
        except NoMatches:
            return None
        boards = pane.query_children(BoardView)
        return boards.first() if boards else None

    def dirty_boards(self) -> list[BoardView]:
        """Harmony Boards with unsaved edits of their melody."""
        from symphony_tui.views.board import BoardView

        return [b for b in self.query(BoardView) if b.dirty]

    def _ask_board_close(self, board: BoardView, tab_id: str) -> None:
        def answered(choice: str | None) -> None:
            if choice == "discard" or (choice == "save" and board.save_now()):
                self._remove_tab(tab_id)

        self.app.push_screen(
            ChoiceDialog(
                "Unsaved melody",
                f"Save the edits to {board.melody_label} before closing the board?",
                [("save", "Save"), ("discard", "Discard"), ("cancel", "Cancel")],
            ),
            answered,
        )

    def _remove_tab(self, tab_id: str) -> None:
        for path, tab in self.file_tabs.items():
            if tab == tab_id:
                self.keeper.forget(self.relative(path))
        self.query_one("#main-tabs", TabbedContent).remove_pane(tab_id)
        self.file_tabs = {p: t for p, t in self.file_tabs.items() if t != tab_id}
        self.call_after_refresh(self.keeper.save_layout)

    def on_tabbed_content_tab_activated(self, _event: TabbedContent.TabActivated) -> None:
        """Keep the layout in the recovery area up to date."""
        self.keeper.save_layout()

    # --- terminals ---------------------------------------------------------------------------

    def _escape_keys(self) -> list[str]:
        """Keys a terminal leaves to the screen: toggling and resizing the panel."""
        keymap = self.symphony.keymap
        return [key for binding_id in TERMINAL_ESCAPES for key in keys_for(binding_id, keymap)]

    def _new_terminal(self, argv: Sequence[str] | None, *, name: str | None = None) -> Terminal:
        escape_keys = self._escape_keys()
        return Terminal(
            argv,
            cwd=self.workspace,
            escape_keys=escape_keys,
            on_transcript=partial(self._store_transcript, self.symphony),
            name=name,
        )

    def _store_transcript(self, app: SymphonyApp, transcript: Transcript) -> None:
        """Keep a terminal's transcript as an artifact (``ide.terminal.transcripts``). Called
        from a terminal's closing thread (so ``app`` is passed: ``self.app`` works only on the
        UI thread), or on the UI thread while quitting (then it waits for the store, as the
        engine stops next)."""
        command = transcript_command(transcript)
        if command is None or not app.loaded.config.ide.terminal.transcripts:
            return
        if not self._quitting:
            app.bridge.send(command)
            return
        try:
            app.engine.send(command, timeout=5.0)
        except SymphonyError as e:
            log.warning("terminal transcript not kept: %s", e)

    def keep_transcripts(self) -> None:
        """Keep every open terminal's transcript now (the app is quitting)."""
        self._quitting = True
        for terminal in self.query(Terminal):
            terminal.keep_transcript(closed=True)

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
        self.call_after_refresh(self.keeper.save_layout)
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
        """Show the bottom panel with its active tab focused (the terminal starts when first
        shown), or hide it."""
        panel = self.query_one("#panel", TabbedContent)
        if panel.display:
            self._hide_panel()
            return
        focused = self.focused
        self._focus_before_panel = focused
        panel.display = True
        if panel.active == "panel-conductor":
            self.query_one(ConductorPanel).focus()
            return
        if panel.active == "panel-chat":
            self.query_one(ChatPanel).focus()
            return
        terminal = self.panel_terminal
        if terminal is None:
            terminal = self._new_terminal(None)
            await self.query_one("#panel-terminal").mount(terminal)
        terminal.focus()

    async def action_conductor(self) -> None:
        """Show the conductor panel with its prompt focused."""
        panel = self.query_one("#panel", TabbedContent)
        if not panel.display:
            self._focus_before_panel = self.focused
            panel.display = True
        panel.active = "panel-conductor"
        self.query_one(ConductorPanel).focus()

    async def action_chat(self) -> None:
        """Show the chat panel with its input focused."""
        panel = self.query_one("#panel", TabbedContent)
        if not panel.display:
            self._focus_before_panel = self.focused
            panel.display = True
        panel.active = "panel-chat"
        chat = self.query_one(ChatPanel)
        chat.refresh_models()
        chat.focus()

    async def action_board(self, target: str = "", run_id: str = "") -> None:
        """Open a melody on the Harmony Board (asks which one when there are several)."""
        if target:
            await self._open_board(target, run_id or None)
            return

        def listed(reply: Any) -> None:
            melodies = list(reply.melodies)
            if not melodies:
                self.notify(
                    "No melody in this workspace: add one to .symphony/melodies/"
                    " (see docs/melodies.md)",
                    title="Harmony Board",
                    severity="warning",
                )
            elif len(melodies) == 1:
                self.run_worker(self._open_board(melodies[0].path, None))
            else:

                def picked(path: str | None) -> None:
                    if path:
                        self.run_worker(self._open_board(path, None))

                self.app.push_screen(
                    PickDialog(
                        "Open a melody on the Harmony Board",
                        [(m.path, m.name, self.relative(Path(m.path))) for m in melodies],
                    ),
                    picked,
                )

        self.symphony.request(ListMelodies(), listed)

    async def _open_board(self, target: str, run_id: str | None, *, file: bool = True) -> None:
        from symphony_tui.views.board import BoardView

        if file and Path(target).exists():
            target = str(Path(target).resolve())
        key = "board-" + hashlib.sha1(target.encode()).hexdigest()[:10]
        name = Path(target).stem if file else target
        view = await self.open_view(
            key, f"◆ {name}", lambda: BoardView(target if file else "", run_id=run_id)
        )
        if run_id and isinstance(view, BoardView) and view.run_id != run_id:
            view.run_id = run_id
            view.load_run()

    def action_panels(self) -> None:
        """Open a panel a motif extension contributes (asks which one)."""
        from engine.extensions.motif_messages import ListPanels

        def listed(reply: Any) -> None:
            panels = {p.id: p for p in reply.panels}
            if not panels:
                self.notify("No enabled extension contributes a panel", title="Panels")
                return

            def picked(panel_id: str | None) -> None:
                if panel_id:
                    self.run_worker(self.open_panel(panel_id, panels[panel_id].title))

            self.app.push_screen(
                PickDialog("Open a panel", [(p.id, p.title, p.extension) for p in panels.values()]),
                picked,
            )

        self.symphony.request(ListPanels(), listed)

    async def open_panel(self, panel_id: str, title: str) -> None:
        """Show a motif's panel in a main tab."""
        from symphony_tui.motifs import MotifView

        await self.open_view(MotifView.view_key(panel_id), title, lambda: MotifView(panel_id))

    async def action_artifacts(self) -> None:
        """Open the artifacts view (search, preview, lineage, pin)."""
        from symphony_tui.views.artifacts import ArtifactsView

        await self.open_view("artifacts", "Artifacts", ArtifactsView)

    async def action_extensions(self) -> None:
        """Open the extensions view (installed extensions and the marketplace)."""
        from symphony_tui.views.extensions import ExtensionsView

        await self.open_view("extensions", "Extensions", ExtensionsView)

    def action_undo_changes(self) -> None:
        """Undo the latest applied file changes (restores the files exactly as they were)."""
        from engine.changes.messages import UndoChanges

        def undone(reply: Any) -> None:
            lines = [f"{f.action} {f.path}" for f in reply.files]
            self.notify(
                "\n".join(lines) or "nothing to restore",
                title=f"Undid checkpoint {reply.checkpoint.id}",
                timeout=10,
            )
            self.query_one(Explorer).reload()

        self.symphony.request(UndoChanges(), undone)

    async def action_runs(self) -> None:
        """Open the runs view."""
        from symphony_tui.views.runs import RunsView

        await self.open_view("runs", "Runs", RunsView)

    async def on_runs_view_open_run(self, event: RunsView.OpenRun) -> None:
        """Open a run on the board: its melody file, or (a plan of ``ask``, a file gone) the
        definition the run pinned, read-only."""
        event.stop()
        run = event.run
        path = Path(run.path)
        if not path.is_absolute() and not run.path.startswith(("ask: ", "board: ")):
            path = self.workspace / path
        target = str(path.resolve()) if path.is_file() else ""
        await self._open_board(target or f"run {run.id}", run.id, file=bool(target))

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

    # --- panel and sidebar sizes -------------------------------------------------------------

    def action_resize_panel(self, rows: int) -> None:
        """Make the bottom panel ``rows`` rows taller (negative: shorter)."""
        panel = self.query_one("#panel")
        if panel.display:
            self.set_panel_height(panel.outer_size.height + rows)

    def action_resize_sidebar(self, columns: int) -> None:
        """Make the sidebar ``columns`` columns wider (negative: narrower)."""
        sidebar = self.query_one("#sidebar")
        if sidebar.display:
            self.set_sidebar_width(sidebar.outer_size.width + columns)

    def set_panel_height(self, rows: int) -> None:
        """Give the bottom panel ``rows`` rows (its border included), leaving the main tabs at
        least four."""
        limit = max(MIN_PANEL, self.query_one("#main").size.height - 4)
        self.panel_rows = max(MIN_PANEL, min(rows, limit))
        self.query_one("#panel").styles.height = self.panel_rows
        self.call_after_refresh(self.keeper.save_layout)

    def set_sidebar_width(self, columns: int) -> None:
        """Give the sidebar ``columns`` columns (its border included), leaving the main area at
        least twenty."""
        sidebar = self.query_one("#sidebar")
        limit = max(MIN_SIDEBAR, self.size.width - 20)
        self.sidebar_columns = max(MIN_SIDEBAR, min(columns, limit))
        sidebar.styles.max_width = None
        sidebar.styles.width = self.sidebar_columns
        self.call_after_refresh(self.keeper.save_layout)

    def _edge_at(self, x: int, y: int) -> str | None:
        """Which draggable border is at screen cell (x, y): the sidebar's right border or the
        panel's top border."""
        sidebar = self.query_one("#sidebar")
        if (
            sidebar.display
            and x == sidebar.region.right - 1
            and y in range(*sidebar.region.line_span)
        ):
            return "sidebar"
        panel = self.query_one("#panel")
        if panel.display and y == panel.region.y and x in range(*panel.region.column_span):
            return "panel"
        return None

    def on_mouse_down(self, event: events.MouseDown) -> None:
        """Start dragging a border (resizes the sidebar or the panel)."""
        self._dragging = self._edge_at(event.screen_x, event.screen_y)
        if self._dragging:
            event.stop()
            self.capture_mouse()

    def on_mouse_move(self, event: events.MouseMove) -> None:
        """Follow the mouse while a border is dragged."""
        if self._dragging == "panel":
            self.set_panel_height(self.query_one("#main").region.bottom - event.screen_y)
        elif self._dragging == "sidebar":
            self.set_sidebar_width(event.screen_x - self.query_one("#sidebar").region.x + 1)

    def on_mouse_up(self, event: events.MouseUp) -> None:
        """Stop dragging."""
        if self._dragging:
            self._dragging = None
            event.stop()
            self.release_mouse()

    async def on_directory_tree_file_selected(self, event: DirectoryTree.FileSelected) -> None:
        """Open the selected file in an editor tab, or switch to its tab if already open."""
        event.stop()
        await self.open_file(event.path)

    def set_health(self, status: str, detail: str = "") -> None:
        """Show the engine's health in the status bar."""
        bar = self.query_one(StatusBar)
        bar.health = status
        bar.health_detail = detail

    def set_config_problem(self, message: str) -> None:
        """Show (or clear, with ``""``) a configuration problem in the status bar."""
        self.query_one(StatusBar).config_problem = message

    def show_model(self, aide: AideConfig) -> None:
        """Show the model AI features use (the default, or the only one) in the status bar."""
        name = aide.default_model or ""
        if not name and len(aide.models) == 1:
            name = next(iter(aide.models))
        elif not name and aide.models:
            name = f"{len(aide.models)} models"
        self.query_one(StatusBar).model = name

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

    # --- editors -----------------------------------------------------------------------------

    def _editor_config(self) -> EditorConfig:
        return self.symphony.loaded.config.ide.editor

    def relative(self, path: Path) -> str:
        if path.is_relative_to(self.workspace):
            return str(path.relative_to(self.workspace))
        return str(path)

    @property
    def editors(self) -> list[Editor]:
        """Every open editor, in tab order."""
        return list(self.query_one("#main-tabs").query(Editor))

    @property
    def active_editor(self) -> Editor | None:
        """The editor in the active main tab, if that tab is an editor."""
        active = self.query_one("#main-tabs", TabbedContent).active
        for editor in self.editors:
            if editor.parent is not None and editor.parent.id == active:
                return editor
        return None

    def dirty_editors(self) -> list[Editor]:
        """Editors with unsaved changes (the app asks before quitting while there are any)."""
        return [editor for editor in self.editors if editor.dirty]

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Editor keys work (and show in the footer) only while an editor tab is active; the
        explorer's plain file keys not while a view (board, artifacts…) has the focus."""
        if action in EDITOR_ACTIONS:
            return self.active_editor is not None
        if action in FILE_ACTIONS:
            # Plain keys: inside a view (board, artifacts…) or the bottom panel (conductor,
            # chat) they are that place's letters, never file operations.
            focused = self.focused
            return focused is None or not any(
                node.id == "panel"
                or (isinstance(node, TabPane) and (node.id or "").startswith("tab-view-"))
                for node in focused.ancestors
            )
        return True

    async def open_file(self, path: Path, *, missing_ok: bool = False) -> Editor | None:
        """Open ``path`` in an editor tab (or focus its tab); binary and huge files open in a
        read-only preview with a notice. Returns the editor, if it is one.

        With ``missing_ok``, a file that does not exist opens as an empty editor (saving
        creates it)."""
        path = Path(path).absolute()
        tabs = self.query_one("#main-tabs", TabbedContent)
        tab_id = self.file_tabs.get(path)
        if tab_id is None:
            self._files_opened += 1
            tab_id = f"tab-file-{self._files_opened}"
            loaded = read_for_editing(path)
            if missing_ok and loaded.decoded is None and not path.exists():
                loaded = type(loaded)(decode_text(b""))
            content: Widget
            if loaded.decoded is None:
                content = FilePreview(path)
                self.notify(
                    f"{path.name}: {loaded.reason}", title="Opened read-only", severity="warning"
                )
                label = path.name
            else:
                content = Editor(
                    path, loaded.decoded, self._editor_config(), base_sha256=loaded.sha256
                )
                label = path.name
                if loaded.decoded.lossy_guess:
                    self.notify(
                        f"{path.name} is not valid UTF-8: opened as Latin-1", severity="warning"
                    )
            pane = TabPane(label, content, id=tab_id)
            pane.tooltip = self.relative(path)
            self.file_tabs[path] = tab_id
            await tabs.add_pane(pane)
            self.call_after_refresh(self.keeper.save_layout)
        tabs.active = tab_id
        pane = tabs.get_pane(tab_id)
        editors = pane.query_children(Editor)
        if editors:
            editors.first().area.focus()
            return editors.first()
        pane.query_children(FilePreview).first().focus()
        return None

    async def open_view(
        self, key: str, title: str, make: Callable[[], Widget], *, focus: bool = True
    ) -> Widget:
        """Show the view ``key`` (Harmony Board, runs, artifacts…) in a main tab: the open one
        if there is one, else a new one built by ``make``. Returns the view's widget."""
        tabs = self.query_one("#main-tabs", TabbedContent)
        tab_id = f"tab-view-{key}"
        try:
            pane = tabs.get_pane(tab_id)
        except NoMatches:
            pane = TabPane(title, make(), id=tab_id)
            await tabs.add_pane(pane)
        tabs.active = tab_id
        view = pane.children[0]
        if focus:
            view.focus()
        return view

    def view(self, key: str) -> Widget | None:
        """The open view ``key``, if any."""
        try:
            pane = self.query_one("#main-tabs", TabbedContent).get_pane(f"tab-view-{key}")
        except NoMatches:
            return None
        return pane.children[0] if pane.children else None

    def tab_of(self, editor: Editor) -> TabPane | None:
        pane = editor.parent
        return pane if isinstance(pane, TabPane) else None

    def relabel(self, editor: Editor) -> None:
        pane = self.tab_of(editor)
        if pane is None:
            return
        try:
            tab = self.query_one("#main-tabs", TabbedContent).get_tab(pane)
        except NoMatches:  # the tab closed while the message was on its way
            return
        tab.label = editor_label(editor)

    def on_editor_dirty_changed(self, event: Editor.DirtyChanged) -> None:
        """Show or clear the unsaved marker on the editor's tab; a saved (or reloaded) buffer
        leaves the recovery area."""
        self.relabel(event.editor)
        if not event.editor.dirty:
            self.keeper.forget(self.relative(event.editor.path))

    def on_editor_disk_changed(self, event: Editor.DiskChanged) -> None:
        """A file open in an editor changed on disk: reload a clean buffer, ask for a dirty one."""
        editor = event.editor
        name = self.relative(editor.path)
        if event.deleted:
            self.notify(
                f"{name} was deleted on disk; your text is kept and saving recreates the file",
                title="File deleted",
                severity="warning",
            )
            return
        if not editor.dirty:
            if editor.reload_from_disk():
                self.notify(f"{name} changed on disk and was reloaded", title="Reloaded")
            return
        if editor in self._asking_about:
            return
        self._asking_about.add(editor)

        def answered(choice: str | None) -> None:
            self._asking_about.discard(editor)
            if choice == "reload":
                editor.reload_from_disk()
            else:
                editor.keep_buffer()

        self.app.push_screen(
            ChoiceDialog(
                "File changed on disk",
                f"{name} changed on disk, and you have unsaved changes in it.",
                [("reload", "Reload from disk"), ("keep", "Keep mine")],
            ),
            answered,
        )

    def apply_editor_config(self, config: EditorConfig) -> None:
        """Apply changed ``ide.editor`` settings to every open editor."""
        for editor in self.editors:
            editor.apply_config(config)

    def confirm_quit(self) -> None:
        """Ask about unsaved editors (Save all / Discard / Cancel), then quit unless cancelled."""
        dirty = self.dirty_editors()
        boards = self.dirty_boards()
        if not dirty and not boards:
            self.app.exit()
            return
        labels = [self.relative(e.path) for e in dirty] + [b.melody_label for b in boards]
        names = ", ".join(labels[:5])
        more = f" and {len(labels) - 5} more" if len(labels) > 5 else ""

        def answered(choice: str | None) -> None:
            if choice == "discard":
                for editor in dirty:
                    self.keeper.forget(self.relative(editor.path))
                self.keeper.store = None  # nothing more to keep from this session
            if choice == "discard" or (
                choice == "save"
                and all([editor.save() for editor in dirty] + [b.save_now() for b in boards])
            ):
                self.app.exit()

        self.app.push_screen(
            ChoiceDialog(
                "Quit with unsaved changes?",
                f"Unsaved: {names}{more}.",
                [("save", "Save all"), ("discard", "Discard"), ("cancel", "Cancel")],
            ),
            answered,
        )

    def action_save(self) -> None:
        """Save the active editor's file."""
        editor = self.active_editor
        if editor is not None and editor.save():
            self.notify(f"saved {self.relative(editor.path)}", timeout=2)

    def action_find(self) -> None:
        """Open the find bar of the active editor."""
        if (editor := self.active_editor) is not None:
            editor.open_find()

    def action_replace(self) -> None:
        """Open the find bar with the replace field."""
        if (editor := self.active_editor) is not None:
            editor.open_find(replace=True)

    def action_go_to_line(self) -> None:
        """Ask for a line (``line`` or ``line:column``) and move the cursor there."""
        editor = self.active_editor
        if editor is None:
            return
        lines = editor.area.document.line_count

        def check(value: str) -> str:
            parts = value.split(":")
            if len(parts) > 2 or not all(p.strip().isdigit() for p in parts):
                return "type a line number, or line:column"
            return ""

        def answered(value: str | None) -> None:
            if value:
                line, _, column = value.partition(":")
                editor.go_to_line(int(line), int(column or 1))

        row = editor.area.cursor_location[0] + 1
        self.app.push_screen(
            InputDialog(
                "Go to line",
                placeholder=f"line (1 to {lines:,}), or line:column",
                hint=f"now at line {row:,} of {lines:,}",
                validate=check,
            ),
            answered,
        )

    # --- file operations and recovery (see file_actions.py, workspace_recovery.py) -----------

    def action_quick_open(self) -> None:
        """Pick a workspace file by fuzzy name and open it."""
        self.files.quick_open()

    def action_new_file(self) -> None:
        """Create a file (or, ending in ``/``, a folder) next to the selection and open it."""
        self.files.new_file()

    def action_rename_file(self) -> None:
        """Rename the selected file or folder (open editors follow it)."""
        self.files.rename()

    def action_delete_file(self) -> None:
        """Delete the selected file or folder after a confirmation naming it."""
        self.files.delete()

    def flush_recovery(self) -> None:
        """Write unsaved buffers and the layout to the recovery area now (synchronously)."""
        self.keeper.flush()
