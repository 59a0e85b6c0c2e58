"""Symphony's commands in the command palette (STYLE 14).

Each command names an app action, so the palette, key bindings and tests share one code path.
Extension-contributed commands will join here through the same provider.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

from textual.command import DiscoveryHit, Hit, Hits, Provider

if TYPE_CHECKING:
    from collections.abc import Callable


@dataclass(frozen=True)
class PaletteCommand:
    """One palette entry: its title, help text and the app action it runs."""

    title: str
    help: str
    action: str


COMMANDS: tuple[PaletteCommand, ...] = (
    PaletteCommand("Toggle sidebar", "Show or hide the explorer sidebar", "screen.toggle_sidebar"),
    PaletteCommand("Focus explorer", "Move focus to the file explorer", "screen.focus_explorer"),
    PaletteCommand(
        "Close tab", "Close the active tab (a terminal's program is ended)", "screen.close_tab"
    ),
    PaletteCommand("New terminal", "Open a terminal tab running your shell", "screen.new_terminal"),
    PaletteCommand(
        "Toggle terminal panel", "Show or hide the bottom terminal panel", "screen.toggle_panel"
    ),
    PaletteCommand("Taller panel", "Make the bottom panel taller", "screen.resize_panel(2)"),
    PaletteCommand("Shorter panel", "Make the bottom panel shorter", "screen.resize_panel(-2)"),
    PaletteCommand("Wider sidebar", "Make the sidebar wider", "screen.resize_sidebar(4)"),
    PaletteCommand("Narrower sidebar", "Make the sidebar narrower", "screen.resize_sidebar(-4)"),
    PaletteCommand("Keys", "Every key, where it works and its id for ide.keymap", "help"),
    PaletteCommand(
        "Change theme", "Pick a colour theme (saved to your user config)", "change_theme"
    ),
    PaletteCommand("Engine health", "Show every engine component's health", "show_health"),
    PaletteCommand(
        "Reload configuration", "Re-read every configuration layer now", "reload_config"
    ),
    PaletteCommand("Quick open", "Open a workspace file by fuzzy name", "screen.quick_open"),
    PaletteCommand("Save", "Save the file in the active editor", "screen.save"),
    PaletteCommand("Find", "Find in the active editor", "screen.find"),
    PaletteCommand("Replace", "Find and replace in the active editor", "screen.replace"),
    PaletteCommand(
        "Go to line", "Move the cursor to a line (line or line:column)", "screen.go_to_line"
    ),
    PaletteCommand("New file", "Create a file next to the explorer's selection", "screen.new_file"),
    PaletteCommand("Rename file", "Rename the selected file or folder", "screen.rename_file"),
    PaletteCommand(
        "Delete file", "Delete the selected file or folder (asks first)", "screen.delete_file"
    ),
    PaletteCommand("Harmony Board", "Open a melody's DAG: run, follow and edit it", "screen.board"),
    PaletteCommand("Runs", "Recent melody runs; open one on the board", "screen.runs"),
    PaletteCommand(
        "Conductor", "Ask in plain words: plan, run and follow a melody", "screen.conductor"
    ),
    PaletteCommand("Chat", "Talk to a configured AI model; @path attaches a file", "screen.chat"),
    PaletteCommand(
        "Artifacts", "Search artifacts: preview, lineage, pin, open", "screen.artifacts"
    ),
    PaletteCommand(
        "Extensions",
        "Installed extensions: status, permissions, metrics, enable/disable; the marketplace",
        "screen.extensions",
    ),
    PaletteCommand("Panels", "Open a panel an extension (motif) contributes", "screen.panels"),
    PaletteCommand(
        "Tests dashboard",
        "The latest pytest.run results: totals, failures and their text",
        "screen.open_panel('symphony.test-dashboard', 'Tests')",
    ),
    PaletteCommand(
        "Undo changes",
        "Restore the files the latest applied changes touched, exactly as they were",
        "screen.undo_changes",
    ),
    PaletteCommand("Quit", "Quit Symphony", "quit"),
)


class SymphonyCommands(Provider):
    """Offers :data:`COMMANDS` first, then Textual's system commands (keys, screenshot…).

    One provider for both keeps the palette's order stable (``App.COMMANDS`` is a set).
    """

    def _entries(self) -> list[tuple[str, str, Callable[[], Any]]]:
        entries: list[tuple[str, str, Callable[[], Any]]] = [
            (c.title, c.help, partial(self.app.run_action, c.action)) for c in COMMANDS
        ]
        entries.extend(
            (s.title, s.help, s.callback) for s in self.app.get_system_commands(self.screen)
        )
        return entries

    async def discover(self) -> Hits:
        """Every command, shown when the palette opens with an empty query."""
        for title, help_text, callback in self._entries():
            yield DiscoveryHit(title, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        """Commands whose title matches ``query``, best first."""
        matcher = self.matcher(query)
        for title, help_text, callback in self._entries():
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), callback, help=help_text)
