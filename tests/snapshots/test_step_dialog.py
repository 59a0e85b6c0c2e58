"""Snapshots of the step dialog at 80x24 and 120x40: the type list filtered to `shell`, the
`shell.run` form with a required value missing, and `pytest.run` opened to edit a step.

Baselines live in ``__snapshots__``; update them only after looking at the rendered SVGs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from textual.containers import VerticalScroll
from textual.pilot import Pilot
from textual.widgets import Input, OptionList, Static

from symphony_tui.screens.step_dialog import StepDialog, StepDialogResult
from symphony_tui.widgets.schema_form import SchemaForm
from tests.tui.helpers import wait_for
from tests.tui.test_step_dialog import Host, builtin_types


async def shown(pilot: Pilot[Any]) -> StepDialog:
    """The dialog, once it is the screen."""
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, StepDialog))
    dialog = pilot.app.screen
    assert isinstance(dialog, StepDialog)
    return dialog


SIZES = pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])


@SIZES
def test_pick_type(snap_compare: Any, tmp_path: Path, size: tuple[int, int]) -> None:
    async def filter_shell(pilot: Pilot[Any]) -> None:
        dialog = await shown(pilot)
        await wait_for(pilot, lambda: dialog.query_one("#step-filter", Input).has_focus)
        await pilot.press(*"shell")
        types = dialog.query_one("#step-types", OptionList)
        await wait_for(pilot, lambda: types.option_count == 1)
        await pilot.pause(0.1)

    app = Host(StepDialog(builtin_types()), tmp_path)
    assert snap_compare(app, terminal_size=size, run_before=filter_shell)


@SIZES
def test_shell_form_with_error(snap_compare: Any, tmp_path: Path, size: tuple[int, int]) -> None:
    async def fill(pilot: Pilot[Any]) -> None:
        dialog = await shown(pilot)
        await wait_for(pilot, lambda: dialog.query_one("#step-filter", Input).has_focus)
        await pilot.press(*"shell", "enter")
        await wait_for(
            pilot,
            lambda: (
                bool(dialog.query(SchemaForm)) and dialog.query_one("#step-id", Input).has_focus
            ),
        )
        await pilot.press("ctrl+s")
        errors = dialog.query_one("#step-errors", Static)
        form = dialog.query_one("#step-form", VerticalScroll)
        await wait_for(
            pilot,
            lambda: (
                errors.display
                and any(f.input_widget.has_focus for f in dialog.query_one(SchemaForm).fields)
                and form.scroll_y == form.scroll_target_y
            ),
        )
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
        dialog = await shown(pilot)
        await wait_for(
            pilot,
            lambda: (
                bool(dialog.query(SchemaForm))
                and dialog.query_one(SchemaForm).fields[0].input_widget.has_focus
            ),
        )
        await pilot.pause(0.1)

    assert snap_compare(app, terminal_size=size, run_before=settle)
