"""Snapshots of the main screen at 80x24 and 120x40 in two themes.

Baselines live in ``__snapshots__``; update them with ``make snapshots`` only after looking at
the rendered SVGs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from symphony_tui.app import SymphonyApp
from symphony_tui.widgets.status_bar import StatusBar
from tests.tui.helpers import wait_for


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
    app = pilot.app
    await wait_for(pilot, lambda: app.screen.query_one(StatusBar).health == "healthy")
    await pilot.pause(0.1)


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
@pytest.mark.parametrize("theme", ["symphony-dark", "symphony-light"])
def test_main_screen(snap_compare: Any, tmp_path: Path, size: tuple[int, int], theme: str) -> None:
    app = SymphonyApp(
        make_workspace(tmp_path), overrides=[f"ide.theme={theme}"], watch_config=False
    )
    assert snap_compare(app, terminal_size=size, run_before=engine_healthy)


def test_command_palette(snap_compare: Any, tmp_path: Path) -> None:
    app = SymphonyApp(make_workspace(tmp_path), watch_config=False)

    async def open_palette(pilot: Pilot[Any]) -> None:
        await engine_healthy(pilot)
        await pilot.press("ctrl+p")
        await pilot.pause(0.5)

    assert snap_compare(app, terminal_size=(80, 24), run_before=open_palette)


def test_health_modal(snap_compare: Any, tmp_path: Path) -> None:
    app = SymphonyApp(make_workspace(tmp_path), watch_config=False)

    async def open_health(pilot: Pilot[Any]) -> None:
        await engine_healthy(pilot)
        await pilot.press("f2")
        await pilot.pause(0.5)

    assert snap_compare(app, terminal_size=(120, 40), run_before=open_health)


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
def test_help_screen(snap_compare: Any, tmp_path: Path, size: tuple[int, int]) -> None:
    app = SymphonyApp(make_workspace(tmp_path), watch_config=False)

    async def open_help(pilot: Pilot[Any]) -> None:
        await engine_healthy(pilot)
        await pilot.press("f1")
        await pilot.pause(0.3)

    assert snap_compare(app, terminal_size=size, run_before=open_help)


def test_help_screen_filtered(snap_compare: Any, tmp_path: Path) -> None:
    app = SymphonyApp(make_workspace(tmp_path), watch_config=False)

    async def filter_help(pilot: Pilot[Any]) -> None:
        await engine_healthy(pilot)
        await pilot.press("f1", *"copy")
        await pilot.pause(0.3)

    assert snap_compare(app, terminal_size=(80, 24), run_before=filter_help)
