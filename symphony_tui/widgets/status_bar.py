"""The status bar: engine health, running melodies, workspace, model, theme and configuration
state."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widgets import Static

_ICONS = {"starting": "◌", "healthy": "●", "degraded": "●", "unhealthy": "●", "failed": "✖"}


class StatusBar(Static):
    """One line at the bottom of the main screen. Data flows in through its reactives."""

    DEFAULT_CSS = """
    StatusBar {
        height: 1;
        background: $panel;
        color: $foreground;
        padding: 0 1;
    }
    """

    health: reactive[str] = reactive("starting")
    health_detail: reactive[str] = reactive("")
    workspace: reactive[str] = reactive("")
    theme_name: reactive[str] = reactive("")
    config_problem: reactive[str] = reactive("")
    #: Melody runs going in this Symphony.
    running: reactive[int] = reactive(0)
    #: The default model (empty: none configured).
    model: reactive[str] = reactive("")

    def render(self) -> Text:
        icon = _ICONS.get(self.health, "?")
        theme = self.app.current_theme
        colour = {
            "healthy": theme.success,
            "degraded": theme.warning,
            "unhealthy": theme.error,
            "failed": theme.error,
        }.get(self.health)
        text = Text()
        text.append(f"{icon} engine {self.health}", style=f"bold {colour}" if colour else "dim")
        if self.health_detail:
            text.append(f" ({self.health_detail})", style="dim")
        if self.running:
            text.append(f"  ◐ {self.running} running", style=f"bold {theme.accent or ''}")
        if self.config_problem:
            text.append("  ⚠ config: ", style=f"bold {theme.warning or ''}")
            text.append(self.config_problem)
        right = Text()
        right.append(self.workspace, style="bold")
        if self.model:
            right.append(f"  ✦ {self.model}", style="dim")
        right.append(f"  ◐ {self.theme_name}", style="dim")
        width = self.size.width - 2 if self.size.width else 80
        gap = max(1, width - text.cell_len - right.cell_len)
        if text.cell_len + right.cell_len + 1 > width:
            text.truncate(max(10, width - right.cell_len - 1), overflow="ellipsis")
            gap = max(1, width - text.cell_len - right.cell_len)
        return Text.assemble(text, " " * gap, right)
