"""The welcome view: what this workspace is and the keys that matter first."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.table import Table
from rich.text import Text
from textual.containers import VerticalScroll
from textual.widgets import Static

from engine import __version__

if TYPE_CHECKING:
    from collections.abc import Sequence

    from textual.app import ComposeResult

LOGO = "♪ S Y M P H O N Y"


class Welcome(VerticalScroll):
    """Shown in the main area until something else is opened."""

    DEFAULT_CSS = """
    Welcome {
        align-horizontal: center;
        padding: 1 2;
    }
    Welcome > Static { width: auto; max-width: 100%; }
    Welcome #welcome-logo { color: $accent; text-style: bold; margin-bottom: 1; }
    Welcome #welcome-workspace { color: $foreground-muted; margin-bottom: 1; }
    Welcome #welcome-keys { margin-bottom: 1; }
    Welcome #welcome-hint { color: $foreground-muted; }
    """

    def __init__(
        self,
        workspace_name: str,
        keys: Sequence[tuple[str, str]],
        *,
        quick_open: str = "",
        help_key: str = "",
        id: str | None = None,
    ) -> None:
        super().__init__(id=id)
        self.workspace_name = workspace_name
        self.keys = list(keys)
        self.quick_open = quick_open
        self.help_key = help_key

    def compose(self) -> ComposeResult:
        yield Static(LOGO, id="welcome-logo")
        yield Static(
            Text.assemble(
                ("workspace ", "dim"), (self.workspace_name, "bold"), f"  ·  v{__version__}"
            ),
            id="welcome-workspace",
        )
        yield Static(self._key_table(), id="welcome-keys")
        yield Static(self._hint(), id="welcome-hint")

    def set_keys(
        self, keys: Sequence[tuple[str, str]], *, quick_open: str = "", help_key: str = ""
    ) -> None:
        """Show other keys (the keymap changed)."""
        self.keys = list(keys)
        self.quick_open = quick_open
        self.help_key = help_key
        if self.is_mounted:
            self.query_one("#welcome-keys", Static).update(self._key_table())
            self.query_one("#welcome-hint", Static).update(self._hint())

    def _key_table(self) -> Table:
        table = Table.grid(padding=(0, 2))
        table.add_column(justify="right", style="bold")
        table.add_column()
        for key, description in self.keys:
            table.add_row(key, description)
        return table

    def _hint(self) -> str:
        by_name = f" or by name ({self.quick_open})" if self.quick_open else ""
        every = f", {self.help_key} lists them all" if self.help_key else ""
        return (
            f"Open a file from the explorer (enter){by_name}. Every command is in the palette;"
            f" the footer shows the keys for what has focus{every}."
        )
