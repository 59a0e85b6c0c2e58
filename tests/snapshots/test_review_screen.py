"""Snapshots of the change review at 80x24 and 120x40: a change set creating, modifying,
deleting and adding a binary file, with one file accepted and one rejected.

Baselines live in ``__snapshots__``; update them only after looking at the rendered SVGs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from symphony_tui.screens.review import ReviewScreen
from tests.tui.test_review_screen import Host, sample_change_set

SIZES = pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])


@SIZES
def test_review_some_decided(snap_compare: Any, tmp_path: Path, size: tuple[int, int]) -> None:
    async def decide(pilot: Pilot[Any]) -> None:
        await pilot.pause()
        await pilot.press(
            "r", "a", "up", "up"
        )  # app.py rejected, greeting accepted, back to app.py
        await pilot.pause(0.1)

    app = Host(ReviewScreen(sample_change_set(tmp_path / "ws")), tmp_path)
    assert snap_compare(app, terminal_size=size, run_before=decide)
