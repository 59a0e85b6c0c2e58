"""Snapshots of the editor: a Python file at 80x24 and 120x40, the unsaved-changes prompt, the
find bar and quick-open.

Baselines live in ``__snapshots__``; update them with ``make snapshots`` only after looking at
the rendered SVGs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Button, Input, Label

from symphony_tui.app import SymphonyApp
from symphony_tui.screens.editor_dialogs import ChoiceDialog, QuickOpen
from symphony_tui.widgets.editor import Editor
from symphony_tui.widgets.status_bar import StatusBar
from tests.tui.helpers import wait_for

CODE = '''"""A small module to look at."""

from dataclasses import dataclass


@dataclass
class Point:
    x: int
    y: int = 0

    def moved(self, dx: int) -> "Point":
        # Return a copy, shifted right.
        return Point(self.x + dx, self.y)


def main() -> None:
    print(Point(1).moved(2), [1, 2.5, None, True])
'''


def make_workspace(root: Path) -> Path:
    ws = root / "demo"
    ws.mkdir()
    (ws / "README.md").write_text("# Demo\n")
    (ws / "shapes.py").write_text(CODE)
    (ws / "pyproject.toml").write_text("[project]\nname = 'demo'\n")
    (ws / "src").mkdir()
    (ws / "src" / "shape_utils.py").write_text("")
    (ws / "src" / "scene.py").write_text("")
    return ws


def app_for(tmp_path: Path) -> SymphonyApp:
    return SymphonyApp(make_workspace(tmp_path), watch_config=False)


async def open_shapes(pilot: Pilot[Any]) -> Editor:
    app = pilot.app
    assert isinstance(app, SymphonyApp)
    await wait_for(pilot, lambda: app.screen.query_one(StatusBar).health == "healthy")
    screen = app.main_screen
    assert screen is not None
    editor = await screen.open_file(screen.workspace / "shapes.py")
    assert editor is not None
    # laid out and focused first: moving the cursor scrolls it into view
    await wait_for(pilot, lambda: editor.area.size.width > 0 and editor.area.has_focus)
    editor.area.move_cursor((10, 8))
    await wait_for(pilot, lambda: editor.area.cursor_location == (10, 8))
    await pilot.pause(0.2)
    return editor


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
def test_editor(snap_compare: Any, tmp_path: Path, size: tuple[int, int]) -> None:
    assert snap_compare(app_for(tmp_path), terminal_size=size, run_before=open_shapes)


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
def test_unsaved_close_prompt(snap_compare: Any, tmp_path: Path, size: tuple[int, int]) -> None:
    async def edit_and_close(pilot: Pilot[Any]) -> None:
        await open_shapes(pilot)
        await pilot.press(*"pass ")
        await pilot.pause(0.1)
        await pilot.press("ctrl+w")
        app = pilot.app
        await wait_for(
            pilot,
            lambda: isinstance(app.screen, ChoiceDialog) and app.screen.query_one(Button).has_focus,
        )
        await pilot.pause(0.2)

    assert snap_compare(app_for(tmp_path), terminal_size=size, run_before=edit_and_close)


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
def test_find_bar(snap_compare: Any, tmp_path: Path, size: tuple[int, int]) -> None:
    async def find(pilot: Pilot[Any]) -> None:
        editor = await open_shapes(pilot)
        await pilot.press("ctrl+r")
        find_input = editor.find_bar.query_one("#find-input", Input)
        await wait_for(pilot, lambda: find_input.has_focus)
        await pilot.press(*"point")
        await wait_for(pilot, lambda: editor.query_text == "point")
        await pilot.pause(0.2)

    assert snap_compare(app_for(tmp_path), terminal_size=size, run_before=find)


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
def test_quick_open(snap_compare: Any, tmp_path: Path, size: tuple[int, int]) -> None:
    async def quick_open(pilot: Pilot[Any]) -> None:
        await open_shapes(pilot)
        await pilot.press("ctrl+o")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, QuickOpen))
        dialog = pilot.app.screen
        assert isinstance(dialog, QuickOpen)
        await wait_for(pilot, lambda: dialog.files is not None)
        await pilot.press(*"shp")
        status = dialog.query_one("#quick-status", Label)
        await wait_for(pilot, lambda: str(status.render()).startswith("2 of"))
        await pilot.pause(0.2)

    assert snap_compare(app_for(tmp_path), terminal_size=size, run_before=quick_open)
