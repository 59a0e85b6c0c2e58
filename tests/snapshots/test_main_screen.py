"""Snapshots of the main screen at 80x24 and 120x40 in two themes.

Baselines live in ``__snapshots__``; update them with ``make snapshots`` only after looking at
the rendered SVGs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from textual.command import CommandList, CommandPalette
from textual.pilot import Pilot
from textual.widgets import Input

from symphony_tui.app import SymphonyApp
from symphony_tui.commands import COMMANDS
from symphony_tui.screens.health import HealthScreen
from symphony_tui.screens.help import HelpScreen
from symphony_tui.widgets.explorer import Explorer
from symphony_tui.widgets.status_bar import StatusBar
from tests.tui.helpers import palette_searching, wait_for


def make_workspace(root: Path) -> Path:
    ws = root / "demo"
    ws.mkdir()
    (ws / "README.md").write_text("# Demo\n")
    (ws / "main.py").write_text("print('hello')\n")
    (ws / "pyproject.toml").write_text("[project]\nname = 'demo'\n")
    for folder in ("src", "tests", "docs"):
        (ws / folder).mkdir()
        (ws / folder / "__init__.py").write_text("")
    (ws / "dist").mkdir()
    (ws / ".gitignore").write_text("dist/\n")
    return ws


async def engine_healthy(pilot: Pilot[Any]) -> None:
    """The engine is up and the explorer has listed the workspace (on a worker thread)."""
    app = pilot.app
    await wait_for(pilot, lambda: app.screen.query_one(StatusBar).health == "healthy")
    explorers = app.screen.query(Explorer)
    await wait_for(pilot, lambda: all(len(e.root.children) > 0 for e in explorers))
    await pilot.pause(0.1)


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
@pytest.mark.parametrize("theme", ["symphony-dark", "symphony-light"])
def test_main_screen(snap_compare: Any, tmp_path: Path, size: tuple[int, int], theme: str) -> None:
    app = SymphonyApp(
        make_workspace(tmp_path), overrides=[f"ide.theme={theme}"], watch_config=False
    )
    assert snap_compare(app, terminal_size=size, run_before=engine_healthy)


def palette_settled(app: Any) -> bool:
    """True once the open palette lists every command and has stopped searching."""
    palette = app.screen
    if not isinstance(palette, CommandPalette):
        return False
    expected = len(COMMANDS) + len(list(app.get_system_commands(app.screen_stack[-2])))
    return (
        not palette_searching(palette) and palette.query_one(CommandList).option_count == expected
    )


def test_command_palette(snap_compare: Any, tmp_path: Path) -> None:
    app = SymphonyApp(make_workspace(tmp_path), watch_config=False)

    async def open_palette(pilot: Pilot[Any]) -> None:
        await engine_healthy(pilot)
        await pilot.press("ctrl+p")
        # The palette adds hits in batches (every 0.25 s); under load 0.5 s could catch half
        # of them, with a different scrollbar. Wait for every command and for the search to end.
        await wait_for(pilot, lambda: palette_settled(pilot.app))
        await pilot.pause(0.1)

    assert snap_compare(app, terminal_size=(80, 24), run_before=open_palette)


def test_health_modal(snap_compare: Any, tmp_path: Path) -> None:
    app = SymphonyApp(make_workspace(tmp_path), watch_config=False)

    async def open_health(pilot: Pilot[Any]) -> None:
        await engine_healthy(pilot)
        await pilot.press("f2")
        app = pilot.app
        await wait_for(pilot, lambda: isinstance(app.screen, HealthScreen))
        await pilot.pause(0.3)

    assert snap_compare(app, terminal_size=(120, 40), run_before=open_health)


async def help_filter_focused(pilot: Pilot[Any]) -> None:
    """Wait for the help screen's filter to take the focus (its cursor is in the picture)."""
    app = pilot.app
    await wait_for(
        pilot, lambda: isinstance(app.screen, HelpScreen) and app.screen.query_one(Input).has_focus
    )
    await pilot.pause(0.2)


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
def test_help_screen(snap_compare: Any, tmp_path: Path, size: tuple[int, int]) -> None:
    app = SymphonyApp(make_workspace(tmp_path), watch_config=False)

    async def open_help(pilot: Pilot[Any]) -> None:
        await engine_healthy(pilot)
        await pilot.press("f1")
        await help_filter_focused(pilot)

    assert snap_compare(app, terminal_size=size, run_before=open_help)


def test_help_screen_filtered(snap_compare: Any, tmp_path: Path) -> None:
    app = SymphonyApp(make_workspace(tmp_path), watch_config=False)

    async def filter_help(pilot: Pilot[Any]) -> None:
        await engine_healthy(pilot)
        await pilot.press("f1")
        await help_filter_focused(pilot)
        await pilot.press(*"copy")
        await wait_for(pilot, lambda: pilot.app.screen.query_one(Input).value == "copy")
        await pilot.pause(0.3)

    assert snap_compare(app, terminal_size=(80, 24), run_before=filter_help)
