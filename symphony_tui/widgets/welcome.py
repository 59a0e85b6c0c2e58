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
        self, workspace_name: str, keys: Sequence[tuple[str, str]], *, id: str | None = None
    ) -> None:
        super().__init__(id=id)
        self.workspace_name = workspace_name
        self.keys = list(keys)

    def compose(self) -> ComposeResult:
        yield Static(LOGO, id="welcome-logo")
        yield Static(
            Text.assemble(
                ("workspace ", "dim"), (self.workspace_name, "bold"), f"  ·  v{__version__}"
            ),
            id="welcome-workspace",
        )
        table = Table.grid(padding=(0, 2))
        table.add_column(justify="right", style="bold")
        table.add_column()
        for key, description in self.keys:
            table.add_row(key, description)
        yield Static(table, id="welcome-keys")
        yield Static(
            "Open a file from the explorer (enter) or by name (ctrl+o). "
            "Every command is in the palette; the footer shows the keys for what has focus.",
            id="welcome-hint",
        )
