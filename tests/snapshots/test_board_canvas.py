"""Snapshots of the Harmony Board canvas at 80x24 and 120x40 in the symphony-dark theme: a small
pipeline in mixed states, and a 50-step melody drawn normally and zoomed out.

The host app turns animations off, so a running step shows the spinner's first frame. Update
baselines with ``make snapshots`` only after looking at the rendered SVGs.
"""

from __future__ import annotations

import random
from typing import Any

import pytest
from textual.app import App, ComposeResult
from textual.pilot import Pilot

from symphony_tui.board.canvas import BoardCanvas
from symphony_tui.board.layout import BoardGraph, BoardNode
from symphony_tui.theme_files import builtin_theme_dir, parse_theme
from symphony_tui.themes import to_textual
from tests.tui.helpers import wait_for

PIPELINE = BoardGraph(
    (
        BoardNode("checkout", "git.clone"),
        BoardNode("lint", "ruff.check", ("checkout",)),
        BoardNode("test", "pytest.run", ("checkout",)),
        BoardNode("docs", "shell.run", ("checkout",)),
        BoardNode("build", "shell.run", ("lint", "test")),
        BoardNode("publish", "shell.run", ("build", "docs")),
    )
)
PIPELINE_STATES = {
    "checkout": "completed",
    "lint": "cached",
    "test": "running",
    "docs": "skipped",
    "build": "failed",
    "publish": "pending",
}
STAGES = ["fetch", "lint", "check", "test", "build", "bundle", "sign", "deploy"]


def fifty_steps() -> tuple[BoardGraph, dict[str, str]]:
    """A 50-step melody shaped like real ones: stages of parallel steps, mostly local needs."""
    rng = random.Random(50)
    nodes: list[BoardNode] = []
    for i in range(50):
        stage = STAGES[min(i * len(STAGES) // 50, len(STAGES) - 1)]
        earlier = [n.id for n in nodes[max(0, i - 8) : max(0, i - 2)]]
        needs = tuple(rng.sample(earlier, min(len(earlier), rng.choice([1, 1, 2]))))
        nodes.append(BoardNode(f"{stage}-{i:02d}", f"{stage}.run", needs))
    states = {n.id: "completed" for n in nodes[:30]}
    states.update({n.id: "running" for n in nodes[30:33]})
    states[nodes[27].id] = "failed"
    return BoardGraph(tuple(nodes)), states


class BoardHost(App[None]):
    """Only the canvas, in the real symphony-dark theme, without animations."""

    def __init__(self, graph: BoardGraph, states: dict[str, str]) -> None:
        super().__init__()
        self.graph = graph
        self.states = states
        self.animation_level = "none"

    def compose(self) -> ComposeResult:
        yield BoardCanvas(self.graph, self.states)

    def on_mount(self) -> None:
        theme = to_textual(parse_theme(builtin_theme_dir() / "symphony-dark.toml"))
        self.register_theme(theme)
        self.theme = theme.name
        self.query_one(BoardCanvas).focus()


def select(*keys: str) -> Any:
    async def run_before(pilot: Pilot[Any]) -> None:
        canvas = pilot.app.query_one(BoardCanvas)
        # Keys pressed before the canvas has the focus would go nowhere.
        await wait_for(pilot, lambda: canvas.has_focus)
        await pilot.press(*keys)
        await wait_for(pilot, lambda: canvas.zoomed_out == ("z" in keys))
        await pilot.pause(0.1)

    return run_before


SIZES = pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])


@SIZES
def test_pipeline_in_mixed_states(snap_compare: Any, size: tuple[int, int]) -> None:
    """Glyphs and colours of every state, the selected step's edges in the accent colour."""
    app = BoardHost(PIPELINE, PIPELINE_STATES)
    assert snap_compare(app, terminal_size=size, run_before=select("right", "right", "down"))


@SIZES
def test_fifty_steps(snap_compare: Any, size: tuple[int, int]) -> None:
    app = BoardHost(*fifty_steps())
    assert snap_compare(app, terminal_size=size, run_before=select("right"))


@SIZES
def test_fifty_steps_zoomed_out(snap_compare: Any, size: tuple[int, int]) -> None:
    app = BoardHost(*fifty_steps())
    assert snap_compare(app, terminal_size=size, run_before=select("right", "z"))


def test_empty_melody(snap_compare: Any) -> None:
    assert snap_compare(BoardHost(BoardGraph(), {}), terminal_size=(80, 24))
