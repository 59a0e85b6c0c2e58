"""A modal listing every engine component's health (the TUI's ``symphony doctor``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.table import Table
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

from engine.types.messages import HealthReport, HealthStatus

if TYPE_CHECKING:
    from textual.app import ComposeResult

_MARK = {HealthStatus.HEALTHY: "✔", HealthStatus.DEGRADED: "!", HealthStatus.UNHEALTHY: "✖"}


class HealthScreen(ModalScreen[None]):
    """Show a :class:`HealthReport`; any of escape, q or enter closes it."""

    DEFAULT_CSS = """
    HealthScreen { align: center middle; }
    HealthScreen > Vertical {
        width: 90%;
        max-width: 100;
        height: auto;
        max-height: 90%;
        border: round $primary;
        background: $surface;
        padding: 1 2;
    }
    HealthScreen #health-title { text-style: bold; margin-bottom: 1; }
    HealthScreen #health-hint { color: $text-muted; margin-top: 1; }
    """

    BINDINGS = [
        Binding("escape", "dismiss", "Close"),
        Binding("q", "dismiss", "Close", show=False),
        Binding("enter", "dismiss", "Close", show=False),
    ]

    def __init__(self, report: HealthReport) -> None:
        super().__init__()
        self.report = report

    def compose(self) -> ComposeResult:
        table = Table.grid(padding=(0, 2))
        table.add_column()
        table.add_column(style="bold")
        table.add_column()
        table.add_column(ratio=1)
        for c in self.report.components:
            table.add_row(_MARK[c.status], c.name, c.status.value, "; ".join(c.reasons))
        with Vertical():
            yield Static(f"Engine health: {self.report.status.value}", id="health-title")
            yield Static(table, id="health-table")
            yield Static(
                "escape to close · `symphony doctor` prints the same from a shell", id="health-hint"
            )

    async def action_dismiss(self, result: None = None) -> None:
        """Close the modal."""
        self.dismiss(result)
