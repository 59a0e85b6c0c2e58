"""Snapshots of the step dialog at 80x24 and 120x40: the type list filtered to `shell`, the
`shell.run` form with a required value missing, and `pytest.run` opened to edit a step.

Baselines live in ``__snapshots__``; update them only after looking at the rendered SVGs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from symphony_tui.screens.step_dialog import StepDialog, StepDialogResult
from tests.tui.test_step_dialog import Host, builtin_types

SIZES = pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])


@SIZES
def test_pick_type(snap_compare: Any, tmp_path: Path, size: tuple[int, int]) -> None:
    async def filter_shell(pilot: Pilot[Any]) -> None:
        await pilot.pause()
        await pilot.press(*"shell")
        await pilot.pause(0.1)

    app = Host(StepDialog(builtin_types()), tmp_path)
    assert snap_compare(app, terminal_size=size, run_before=filter_shell)


@SIZES
def test_shell_form_with_error(snap_compare: Any, tmp_path: Path, size: tuple[int, int]) -> None:
    async def fill(pilot: Pilot[Any]) -> None:
        await pilot.pause()
        await pilot.press(*"shell", "enter")
        await pilot.pause(0.1)
        await pilot.press("ctrl+s")
        await pilot.pause(0.1)

    app = Host(StepDialog(builtin_types(), taken_ids={"shell"}), tmp_path)
    assert snap_compare(app, terminal_size=size, run_before=fill)


@SIZES
def test_edit_pytest_step(snap_compare: Any, tmp_path: Path, size: tuple[int, int]) -> None:
    step = StepDialogResult(
        "test", "pytest.run", {"paths": ["tests", "${params.target}"], "check": True}
    )
    app = Host(StepDialog(builtin_types(), taken_ids={"test"}, step=step), tmp_path)

    async def settle(pilot: Pilot[Any]) -> None:
        await pilot.pause(0.1)

    assert snap_compare(app, terminal_size=size, run_before=settle)
