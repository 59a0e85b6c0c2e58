"""Snapshots of the extensions view at 80x24 and 120x40: the installed list with the details
of the selected extension, and the permission review dialog of a marketplace install.

The extension in the index is written with fixed names and packed reproducibly, so its
archive's SHA-256 is the same every run; no step has been called, so the metrics read
``0 calls``. Update with ``make snapshots`` only after looking at the SVGs.
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import DataTable

from engine.extensions.archive import pack
from engine.extensions.publish import publish
from symphony_tui.app import SymphonyApp
from symphony_tui.views.extensions import ExtensionsView, InstallReviewScreen
from tests.snapshots.test_main_screen import engine_healthy, make_workspace
from tests.tui.helpers import table_measured, wait_for

SIZES = pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])

MANIFEST = """
[extension]
id = "acme.wordcount"
name = "Word count"
version = "1.2.0"
type = "operator"
description = "Count the words of text files."
entry = "acme_wordcount_snap:Ext"

[permissions]
fs = { read = ["**/*.md", "*.txt"] }
network = ["api.example.com"]

[[contributes.steps]]
type = "wordcount.count"
[contributes.steps.inputs]
path = { type = "string", required = true }
[contributes.steps.outputs]
words = { type = "integer" }
"""

MODULE = """
from symphony_sdk import Operator, step

class Ext(Operator):
    @step("wordcount.count")
    def count(self, ctx, inputs):
        return {"words": 0}
"""


def add_market(ws: Path) -> None:
    src = ws.parent / "src" / "acme.wordcount"
    src.mkdir(parents=True)
    (src / "symphony-extension.toml").write_text(textwrap.dedent(MANIFEST))
    (src / "acme_wordcount_snap.py").write_text(textwrap.dedent(MODULE))
    market = ws / "market"
    market.mkdir()
    publish(pack(src, market), str(market / "index.json"))
    (ws / ".symphony").mkdir()
    (ws / ".symphony" / "config.toml").write_text(
        '[extensions]\nmarketplace = "market/index.json"\n'
    )


async def open_view(pilot: Pilot[Any]) -> ExtensionsView:
    await engine_healthy(pilot)
    screen = pilot.app.main_screen
    view = await screen.open_view("extensions", "Extensions", ExtensionsView)
    assert isinstance(view, ExtensionsView)
    await wait_for(pilot, lambda: view.detail is not None)
    return view


@SIZES
def test_installed_list_with_details(
    snap_compare: Any, tmp_path: Path, size: tuple[int, int]
) -> None:
    app = SymphonyApp(make_workspace(tmp_path), watch_config=False)

    async def run(pilot: Pilot[Any]) -> None:
        view = await open_view(pilot)
        await pilot.press("down")  # symphony.git: permissions of several kinds
        await wait_for(
            pilot, lambda: view.detail is not None and view.detail.status.id == "symphony.git"
        )
        await pilot.pause(0.3)

    assert snap_compare(app, terminal_size=size, run_before=run)


@SIZES
def test_review_dialog(snap_compare: Any, tmp_path: Path, size: tuple[int, int]) -> None:
    ws = make_workspace(tmp_path)
    add_market(ws)
    app = SymphonyApp(ws, watch_config=False)

    async def run(pilot: Pilot[Any]) -> None:
        view = await open_view(pilot)
        await pilot.press("m")
        table = view.query_one("#market-table", DataTable)
        # The table measures its columns when idle: under load that could come after the
        # dialog covers it, leaving the columns as wide as their headers in the picture.
        await wait_for(pilot, lambda: "acme.wordcount" in view.entries and table_measured(table))
        await pilot.press("i")
        app = pilot.app
        await wait_for(
            pilot,
            lambda: (
                isinstance(app.screen, InstallReviewScreen)
                and app.screen.query_one("#review-cancel").has_focus
            ),
        )
        await pilot.pause(0.3)

    assert snap_compare(app, terminal_size=size, run_before=run)
