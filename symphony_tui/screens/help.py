"""The F1 help: every key, what it does, where it works and the id ``ide.keymap`` changes it by."""

from __future__ import annotations

from itertools import groupby
from typing import TYPE_CHECKING

from rich.table import Table
from rich.text import Text
from textual import on
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Input, Static

if TYPE_CHECKING:
    from textual.app import ComposeResult

    from symphony_tui.keymap import KeyRow

HINT = (
    "Type to filter · ↑↓ PgUp PgDn scroll · esc closes.  To change a key, put its id in your"
    ' config: [b]\\[ide.keymap][/b] save = "f5"  (several keys: "ctrl+s,f5").'
)


def key_table(rows: list[KeyRow], text: str = "") -> Table:
    """The rows matching ``text`` (in keys, action, place or id), grouped by place."""
    needle = text.strip().lower()
    table = Table.grid(padding=(0, 2), expand=True)
    table.add_column(style="bold", max_width=17)
    table.add_column(ratio=1)
    table.add_column(style="dim", no_wrap=True)
    for scope, group in groupby(rows, key=lambda row: row.scope):
        shown = [row for row in group if not needle or needle in _haystack(row)]
        if not shown:
            continue
        table.add_row(Text(scope, style="bold underline"), "", "")
        for row in shown:
            table.add_row(", ".join(row.keys), row.description, row.id or "(fixed)")
    if not table.rows:
        table.add_row("", Text(f"no key matches {text.strip()!r}", style="italic"), "")
    return table


def _haystack(row: KeyRow) -> str:
    return " ".join((*row.keys, row.description, row.scope, row.id or "")).lower()


class HelpScreen(ModalScreen[None]):
    """Every key, grouped by where it works, filtered as you type."""

    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > Vertical {
        width: 96%;
        max-width: 110;
        height: 90%;
        border: round $primary;
        background: $surface;
        padding: 0 1;
    }
    HelpScreen #help-title { text-style: bold; }
    HelpScreen #help-filter { margin-top: 1; }
    HelpScreen #help-scroll { height: 1fr; margin-top: 1; }
    HelpScreen #help-hint { color: $text-muted; height: auto; }
    """

    BINDINGS = [
        Binding("escape", "dismiss", "Close"),
        Binding("f1", "dismiss", "Close", show=False),
        Binding("down", "scroll(1)", show=False),
        Binding("up", "scroll(-1)", show=False),
        Binding("pagedown", "page(1)", show=False),
        Binding("pageup", "page(-1)", show=False),
    ]

    def __init__(self, rows: list[KeyRow], problems: list[str] | None = None) -> None:
        super().__init__()
        self.rows = rows
        self.problems = problems or []

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("Keys", id="help-title")
            for problem in self.problems:
                yield Static(Text.assemble(("! ", "bold"), problem), classes="help-problem")
            yield Input(
                placeholder="filter: key, action, place or id", id="help-filter", compact=True
            )
            with VerticalScroll(id="help-scroll", can_focus=False):
                yield Static(key_table(self.rows), id="help-table")
            yield Static(HINT, id="help-hint", markup=True)

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    @on(Input.Changed, "#help-filter")
    def _filter(self, event: Input.Changed) -> None:
        self.query_one("#help-table", Static).update(key_table(self.rows, event.value))
        self.query_one("#help-scroll").scroll_home(animate=False)

    def action_scroll(self, lines: int) -> None:
        """Scroll the table (the filter keeps the focus)."""
        scroll = self.query_one("#help-scroll")
        scroll.scroll_to(y=scroll.scroll_y + lines, animate=False)

    def action_page(self, pages: int) -> None:
        """Scroll the table a page."""
        self.action_scroll(pages * max(1, self.query_one("#help-scroll").size.height - 1))

    async def action_dismiss(self, result: None = None) -> None:
        """Close the help."""
        self.dismiss(result)
