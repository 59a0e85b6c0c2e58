"""Helpers for Pilot tests."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from rich.cells import cell_len
from rich.text import Text
from textual.command import CommandList, CommandPalette
from textual.pilot import Pilot
from textual.widgets import DataTable, Input


async def wait_for(
    pilot: Pilot[object], predicate: Callable[[], bool], timeout: float = 10.0
) -> None:
    """Let the app run until ``predicate()`` holds, or fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        await pilot.pause(0.05)
        await asyncio.sleep(0)


def table_measured(table: DataTable[Any]) -> bool:
    """True once ``table`` has rows and has measured them: a DataTable widens its columns to
    their cells when it is next idle, which under load can come after a picture is taken."""
    if table.row_count == 0:
        return False
    for column in table.ordered_columns:
        if not column.auto_width:
            continue
        widest = max(_width(cell) for cell in table.get_column(column.key))
        if column.content_width < widest:
            return False
    return True


def _width(cell: object) -> int:
    """The cells ``cell`` takes on its widest line (a str cell is markup, as in DataTable)."""
    if isinstance(cell, Text):
        text = cell.plain
    elif isinstance(cell, str):
        text = Text.from_markup(cell).plain
    else:
        text = str(cell)
    return max((cell_len(line) for line in text.splitlines()), default=0)


def palette_searching(palette: CommandPalette) -> bool:
    """Whether the palette is still gathering hits (it adds them in 0.25 s batches)."""
    return any(
        worker.is_running and worker.group == CommandPalette._GATHER_COMMANDS_GROUP
        for worker in palette.workers
    )


async def palette_choose(pilot: Pilot[Any], text: str) -> None:
    """In the open command palette, type ``text`` and press enter once its best hit says it."""
    app = pilot.app
    await wait_for(
        pilot,
        lambda: isinstance(app.screen, CommandPalette) and app.screen.query_one(Input).has_focus,
    )
    palette = app.screen
    assert isinstance(palette, CommandPalette)
    await pilot.press(*text)
    hits = palette.query_one(CommandList)

    def best_hit_shown() -> bool:
        if palette_searching(palette) or hits.highlighted != 0:
            return False
        return text.lower() in str(hits.get_option_at_index(0).prompt).lower()

    await wait_for(pilot, best_hit_shown)
    await pilot.press("enter")
