"""Snapshots of the artifacts view at 80x24 and 120x40: results with a Markdown preview, a JSON
preview, and the lineage. Ages are counted from a frozen clock (three minutes after the newest
artifact), so the baselines do not change with time."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from engine.pit.artifacts import ArtifactInfo
from symphony_tui.app import SymphonyApp
from symphony_tui.views.artifact_preview import LineageTree
from symphony_tui.views.artifacts import ArtifactsView
from tests.snapshots.test_main_screen import engine_healthy, make_workspace
from tests.tui.helpers import wait_for
from tests.tui.test_artifacts_view import fill_store


def show(which: str, state: str) -> Any:
    async def run_before(pilot: Pilot[Any]) -> None:
        app = pilot.app
        assert isinstance(app, SymphonyApp)
        await engine_healthy(pilot)
        artifacts: dict[str, ArtifactInfo] = app.artifacts_fixture  # type: ignore[attr-defined]
        now = max(a.created_at for a in artifacts.values()) + 180
        screen = app.main_screen
        assert screen is not None
        view = await screen.open_view(
            "artifacts", "Artifacts", lambda: ArtifactsView(clock=lambda: now)
        )
        assert isinstance(view, ArtifactsView)
        await wait_for(pilot, lambda: len(view.hits) == len(artifacts))
        digest = artifacts[which].hash
        view.table.focus()
        view.table.move_cursor(row=view.table.get_row_index(digest))
        await wait_for(
            pilot,
            lambda: (
                view.current == digest and view.preview.shown == digest and view.table.has_focus
            ),  # the cursor row looks different without it
        )
        if state == "lineage":
            await pilot.press("l")
            tree = view.query_one(LineageTree)
            await wait_for(pilot, lambda: tree.lineage is not None and tree.has_focus)
        await pilot.pause(0.3)

    return run_before


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
@pytest.mark.parametrize(
    ("which", "state"),
    [("report", "preview"), ("results", "preview"), ("results", "lineage")],
    ids=["markdown", "json", "lineage"],
)
def test_artifacts_view(
    snap_compare: Any, tmp_path: Path, size: tuple[int, int], which: str, state: str
) -> None:
    ws = make_workspace(tmp_path)
    artifacts = fill_store(ws)
    app = SymphonyApp(ws, watch_config=False)
    app.artifacts_fixture = artifacts  # type: ignore[attr-defined]
    assert snap_compare(app, terminal_size=size, run_before=show(which, state))
