"""Snapshots of the orchestration views in the real SymphonyApp: the Harmony Board mid-flight
and with a 50-step melody, the runs view, and the conductor panel before and after a run.

Every snapshot runs real melodies (``shell.run`` steps) on the app's own engine. What would make
them differ from one run to the next is pinned:

- run ids: ``new_id`` as the scheduler imports it returns fixed ids in order;
- the spinner: ``animation_level = "none"`` shows its first frame;
- notifications ("run … started") are cleared before the screenshot;
- the Input's cursor does not blink (``conftest.py``);
- durations: the board is snapshotted while its run goes (the header shows no duration then) on
  a step whose log has none; the runs view's rows get fixed start and end times in the run
  store and the view a fixed ``clock``; the conductor panel's log formats durations with a
  fixed value (its ``duration``, patched in that module only).

Update baselines with ``make snapshots`` only after looking at the rendered SVGs.
"""

from __future__ import annotations

import itertools
import sqlite3
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import DataTable, Input

from engine.runs.messages import StartRun
from symphony_tui.app import SymphonyApp
from symphony_tui.views import conductor
from symphony_tui.views.board import BoardView
from symphony_tui.views.conductor import ConductorPanel
from symphony_tui.views.runs import RunsView, duration
from symphony_tui.widgets.status_bar import StatusBar
from tests.snapshots.test_board_canvas import fifty_steps
from tests.tui.helpers import table_measured, wait_for

SIZES = pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])

#: A release: after one cancelled run, ``deps`` comes from the cache, ``lint`` fails (optional,
#: so the run goes on), ``notify`` is skipped, ``test`` runs for 30 s and ``publish`` waits.
RELEASE = """\
[melody]
name = "release"
description = "Check out, test and publish a release."

[[steps]]
id = "checkout"
uses = "shell.run"
with = { command = "echo checked out" }

[[steps]]
id = "deps"
uses = "shell.run"
cache = true
with = { command = "echo dependencies installed" }

[[steps]]
id = "lint"
uses = "shell.run"
needs = ["checkout"]
optional = true
with = { command = "echo 'src/app.py:3: unused import' >&2; exit 1" }

[[steps]]
id = "notify"
uses = "shell.run"
needs = ["checkout"]
when = "steps.checkout.status == 'failed'"
with = { command = "echo checkout failed" }

[[steps]]
id = "test"
uses = "shell.run"
needs = ["checkout", "deps"]
with = { command = "sleep 30" }

[[steps]]
id = "publish"
uses = "shell.run"
needs = ["test"]
with = { command = "echo published" }
"""
MID_FLIGHT = {
    "checkout": "completed",
    "deps": "cached",
    "lint": "failed",
    "notify": "skipped",
    "test": "running",
    "publish": "pending",
}

#: Three melodies for the runs view: one completes, one fails, one is cancelled.
RUNS_MELODIES = {
    "build": """\
[melody]
name = "build"

[[steps]]
id = "compile"
uses = "shell.run"
with = { command = "echo compiled" }

[[steps]]
id = "package"
uses = "shell.run"
needs = ["compile"]
with = { command = "echo packaged" }
""",
    "lint": """\
[melody]
name = "lint"

[[steps]]
id = "ruff"
uses = "shell.run"
with = { command = "exit 1" }

[[steps]]
id = "report"
uses = "shell.run"
needs = ["ruff"]
with = { command = "echo report" }
""",
    "deploy": """\
[melody]
name = "deploy"

[[steps]]
id = "upload"
uses = "shell.run"
with = { command = "sleep 30" }
""",
}
#: The runs view's clock, and each run's (start, end) relative to it, in seconds.
NOW = 1_767_225_600.0  # 2026-01-01 00:00 UTC
RUN_TIMES = {
    "build": (-3 * 3600.0, -3 * 3600.0 + 245.0),  # 3h ago, took 4m 05s
    "lint": (-20 * 60.0, -20 * 60.0 + 12.3),  # 20m ago, took 12.3 s
    "deploy": (-45.0, -45.0 + 0.85),  # 45s ago, took 850 ms
}

RunBefore = Callable[[Pilot[Any]], Awaitable[None]]


@pytest.fixture(autouse=True)
def fixed_run_ids(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Run ids shaped like real ones (``new_id``: a process prefix, then a counter)."""
    counter = itertools.count(1)
    monkeypatch.setattr("engine.runs.scheduler.new_id", lambda: f"5eed0f5e7a11-{next(counter):x}")
    yield


def make_workspace(root: Path, melodies: dict[str, str]) -> Path:
    ws = root / "demo"
    folder = ws / ".symphony" / "melodies"
    folder.mkdir(parents=True)
    for name, text in melodies.items():
        (folder / f"{name}.toml").write_text(text)
    return ws


def symphony(ws: Path) -> SymphonyApp:
    app = SymphonyApp(ws, watch_config=False)
    app.animation_level = "none"  # the running step's spinner stays on its first frame
    return app


async def engine_healthy(pilot: Pilot[Any]) -> None:
    app = pilot.app
    await wait_for(pilot, lambda: app.screen.query_one(StatusBar).health == "healthy")


async def open_board(pilot: Pilot[Any]) -> BoardView:
    app = pilot.app
    await engine_healthy(pilot)
    await pilot.press("f3")
    await wait_for(pilot, lambda: bool(app.screen.query(BoardView)))
    board = app.screen.query_one(BoardView)
    await wait_for(pilot, lambda: board.melody is not None and board.canvas.selected is not None)
    return board


async def settle(pilot: Pilot[Any]) -> None:
    """Drop the toasts ("run … started") and let the screen catch up."""
    pilot.app.clear_notifications()
    await pilot.pause(0.2)


# --- the Harmony Board -------------------------------------------------------------------------


@SIZES
def test_board_mid_flight(snap_compare: Any, tmp_path: Path, size: tuple[int, int]) -> None:
    """Every state at once. ``notify`` (skipped) is selected: its log holds no duration, and
    no line of another shell.run step (those land in every running shell.run step's log)."""
    app = symphony(make_workspace(tmp_path, {"release": RELEASE}))

    async def run_before(pilot: Pilot[Any]) -> None:
        board = await open_board(pilot)
        # A first run, cancelled while `test` sleeps, leaves `deps` in the cache.
        await pilot.press("r")
        await wait_for(pilot, lambda: board.states.get("test") == "running")
        await pilot.press("c")
        await wait_for(pilot, lambda: board.run_state == "cancelled")
        first = board.run_id
        await pilot.press("r")
        await wait_for(pilot, lambda: board.run_id != first and board.states == MID_FLIGHT)
        assert board.run_state == "running"
        await pilot.press("right")
        await wait_for(pilot, lambda: board.canvas.selected == "test")
        await pilot.press("down")
        await wait_for(pilot, lambda: board.canvas.selected == "notify")
        await settle(pilot)
        # Quitting stops the engine, which cancels the run (and its `sleep 30`).

    assert snap_compare(app, terminal_size=size, run_before=run_before)


def fifty_step_melody() -> str:
    """The 50-step shape of the canvas snapshots, as a melody file of shell.run steps."""
    graph, _states = fifty_steps()
    lines = ['[melody]\nname = "fifty"\n']
    for node in graph.nodes:
        lines.append(f'[[steps]]\nid = "{node.id}"\nuses = "shell.run"')
        if node.needs:
            lines.append("needs = [" + ", ".join(f'"{n}"' for n in node.needs) + "]")
        lines.append(f'with = {{ command = "echo {node.id}" }}\n')
    return "\n".join(lines)


@pytest.mark.parametrize("zoom", [False, True], ids=["normal", "zoomed-out"])
def test_board_fifty_steps(snap_compare: Any, tmp_path: Path, zoom: bool) -> None:
    app = symphony(make_workspace(tmp_path, {"fifty": fifty_step_melody()}))

    async def run_before(pilot: Pilot[Any]) -> None:
        board = await open_board(pilot)
        assert board.melody is not None and len(board.melody.steps) == 50
        first = board.canvas.selected
        await pilot.press("right")
        await wait_for(pilot, lambda: board.canvas.selected != first)
        if zoom:
            await pilot.press("z")
        await wait_for(pilot, lambda: board.canvas.zoomed_out == zoom)
        await settle(pilot)

    assert snap_compare(app, terminal_size=(120, 40), run_before=run_before)


# --- the runs view -----------------------------------------------------------------------------


def pin_run_times(ws: Path) -> None:
    """Give every run fixed start and end times (so fixed ages and durations)."""
    with sqlite3.connect(ws / ".symphony" / "runs.db", timeout=30) as db:
        for melody, (start, end) in RUN_TIMES.items():
            db.execute(
                "UPDATE runs SET created = ?, finished = ? WHERE melody = ?",
                (NOW + start, NOW + end, melody),
            )
    db.close()


@SIZES
def test_runs_view(snap_compare: Any, tmp_path: Path, size: tuple[int, int]) -> None:
    """A completed, a failed and a cancelled run, newest first."""
    ws = make_workspace(tmp_path, RUNS_MELODIES)
    app = symphony(ws)

    async def run_before(pilot: Pilot[Any]) -> None:
        await engine_healthy(pilot)
        await pilot.press("f4")
        await wait_for(pilot, lambda: bool(app.screen.query(RunsView)))
        view = app.screen.query_one(RunsView)

        def states() -> list[tuple[str, str]]:
            return [(r.melody, r.state) for r in view.runs]

        async def run(melody: str, state: str) -> None:
            app.request(StartRun(target=melody, ask_on_failure=False), lambda _reply: None)
            await wait_for(pilot, lambda: states()[:1] == [(melody, state)])

        await run("build", "completed")
        await run("lint", "failed")
        await run("deploy", "running")
        # Cancel it from the view: it is the newest run, on the first row.
        await pilot.press("c")
        await wait_for(pilot, lambda: states()[:1] == [("deploy", "cancelled")])
        await wait_for(pilot, lambda: not any(r.live for r in view.runs))
        pin_run_times(ws)
        view.clock = lambda: NOW
        await pilot.press("f5")
        await wait_for(pilot, lambda: view.runs[0].created == NOW - 45.0)
        table = view.query_one(DataTable)
        await wait_for(pilot, lambda: table_measured(table))
        await settle(pilot)

    assert snap_compare(app, terminal_size=size, run_before=run_before)


# --- the conductor panel -----------------------------------------------------------------------


def conductor_workspace(root: Path) -> Path:
    ws = make_workspace(root, {})
    (ws / "test_ok.py").write_text("def test_ok():\n    assert True\n")
    return ws


async def plan_the_tests(pilot: Pilot[Any]) -> ConductorPanel:
    app = pilot.app
    await engine_healthy(pilot)
    await pilot.press("ctrl+k")
    panel = app.screen.query_one(ConductorPanel)
    await wait_for(pilot, lambda: isinstance(app.focused, Input))
    # The tallest panel: room for the plan and the log, and only the top of the welcome tab
    # (whose list of keys changes as features come) shows above it.
    await pilot.press(*["ctrl+shift+up"] * 15)
    await pilot.press(*"run the tests", "enter")
    await wait_for(pilot, lambda: panel.plan is not None)
    return panel


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
def test_conductor_plan(snap_compare: Any, tmp_path: Path, size: tuple[int, int]) -> None:
    """The plan of "run the tests" (one pytest.run step) and its rationale; nothing ran."""
    app = symphony(conductor_workspace(tmp_path))

    async def run_before(pilot: Pilot[Any]) -> None:
        panel = await plan_the_tests(pilot)
        assert panel.run_id is None
        await settle(pilot)

    assert snap_compare(app, terminal_size=size, run_before=run_before)


def test_conductor_after_the_run(
    snap_compare: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The plan ran: step states, the run's end and the decision log."""
    monkeypatch.setattr(conductor, "duration", lambda ms: duration(None if ms is None else 1234))
    app = symphony(conductor_workspace(tmp_path))

    async def run_before(pilot: Pilot[Any]) -> None:
        panel = await plan_the_tests(pilot)
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: panel.run_id is not None and not panel.running, timeout=40)
        await wait_for(pilot, lambda: any(line.text == "Decisions" for line in panel.log.lines))
        await settle(pilot)

    assert snap_compare(app, terminal_size=(120, 40), run_before=run_before)
