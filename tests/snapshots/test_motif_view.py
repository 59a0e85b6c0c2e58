"""Snapshots of the built-in test dashboard motif showing real ``pytest.run`` results.

A tiny project with a passing and a failing test is run by a real melody step first; the
dashboard's durations are turned off (``show_durations``) so the pictures do not change
between runs. Baselines live in ``__snapshots__``; update them only after looking at the SVGs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from textual.widgets import DataTable

from symphony_tui.app import SymphonyApp
from tests.tui.helpers import table_measured, wait_for
from tests.tui.test_motif_view import open_panel, results_workspace

if TYPE_CHECKING:
    from pathlib import Path

    from textual.pilot import Pilot

PANEL = "symphony.test-dashboard"


def dashboard_app(tmp_path: Path) -> SymphonyApp:
    ws = results_workspace(tmp_path)
    (ws / ".symphony" / "config.toml").write_text(
        '[extensions.settings."symphony.test-dashboard"]\nshow_durations = false\n',
        encoding="utf-8",
    )
    return SymphonyApp(ws, watch_config=False)


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
def test_dashboard(snap_compare: Any, tmp_path: Path, size: tuple[int, int]) -> None:
    async def show(pilot: Pilot[Any]) -> None:
        view = await open_panel(pilot, PANEL, "Tests")
        assert not view.error
        table = view.query_one(DataTable)
        await wait_for(pilot, lambda: table_measured(table))
        await pilot.pause(0.3)

    assert snap_compare(dashboard_app(tmp_path), terminal_size=size, run_before=show)


def test_dashboard_failure_selected(snap_compare: Any, tmp_path: Path) -> None:
    async def select_failure(pilot: Pilot[Any]) -> None:
        view = await open_panel(pilot, PANEL, "Tests")
        table = view.query_one(DataTable)
        await wait_for(pilot, lambda: table_measured(table))
        table.focus()
        await wait_for(pilot, lambda: table.has_focus)
        await pilot.press("enter")
        await wait_for(
            pilot,
            lambda: (
                bool(view.query("#detail, .motif-label"))
                and any("the names differ" in str(w.render()) for w in view.query(".motif-label"))
            ),
        )
        await pilot.pause(0.3)

    assert snap_compare(dashboard_app(tmp_path), terminal_size=(120, 40), run_before=select_failure)
