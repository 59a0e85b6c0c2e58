"""The Harmony Board, the runs view and the conductor panel, driven as a user would (Pilot)
against a real engine running real melodies (shell.run steps)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

import msgspec
import pytest
from textual.widgets import Button, Input, RichLog, Static, TabbedContent

from engine.melody.loader import load_melody
from symphony_tui.app import SymphonyApp
from symphony_tui.screens.editor_dialogs import ChoiceDialog, PickDialog
from symphony_tui.views.board import BoardView
from symphony_tui.views.conductor import ConductorPanel
from symphony_tui.views.runs import RunsView
from symphony_tui.widgets.status_bar import StatusBar
from tests.tui.helpers import wait_for

PIPELINE = """\
# The demo pipeline (this comment must survive edits from the board).
[melody]
name = "pipeline"

[[steps]]
id = "build"
uses = "shell.run"
with = { command = "echo building" }

[[steps]]
id = "check"
uses = "shell.run"
needs = ["build"]
# check runs after build
with = { command = "test -f ok" }
"""


@pytest.fixture
def melody_ws(workspace: Path) -> Path:
    folder = workspace / ".symphony" / "melodies"
    folder.mkdir(parents=True)
    (folder / "pipeline.toml").write_text(PIPELINE)
    return workspace


async def started(pilot: object, app: SymphonyApp) -> None:
    await wait_for(pilot, lambda: app.screen.query_one(StatusBar).health == "healthy")  # type: ignore[arg-type]


async def open_board(pilot: object, app: SymphonyApp) -> BoardView:
    await started(pilot, app)
    await pilot.press("f3")  # type: ignore[attr-defined]
    await wait_for(pilot, lambda: bool(app.screen.query(BoardView)))  # type: ignore[arg-type]
    board = app.screen.query_one(BoardView)
    await wait_for(pilot, lambda: board.melody is not None)  # type: ignore[arg-type]
    return board


async def test_run_from_the_board_with_recovery_dialog(melody_ws: Path) -> None:
    app = SymphonyApp(melody_ws, watch_config=False)
    async with app.run_test(size=(120, 40)) as pilot:
        board = await open_board(pilot, app)
        assert [s.id for s in board.melody.steps] == ["build", "check"]  # type: ignore[union-attr]
        assert board.canvas.selected == "build"
        await pilot.press("r")
        await wait_for(pilot, lambda: isinstance(app.screen, ChoiceDialog))
        assert board.states["build"] == "completed"
        (melody_ws / "ok").write_text("")
        app.screen.query_one("#choice-retry", Button).press()  # (a click could come before layout)
        await wait_for(pilot, lambda: board.run_state == "completed")
        assert board.states == {"build": "completed", "check": "completed"}
        # The selected step's log streamed its states.
        log = board.query_one("#detail-log", RichLog)
        assert any("completed" in line.text for line in log.lines)
        # A second run from "check" reuses build's result.
        await pilot.press("right")
        await wait_for(pilot, lambda: board.canvas.selected == "check")
        first = board.run_id
        await pilot.press("f")
        await wait_for(pilot, lambda: board.run_id != first and board.run_state == "completed")
        assert board.states == {"build": "cached", "check": "completed"}


async def test_cancel_a_run_from_the_board(melody_ws: Path) -> None:
    path = melody_ws / ".symphony" / "melodies" / "pipeline.toml"
    path.write_text(PIPELINE.replace("echo building", "sleep 30"))
    app = SymphonyApp(melody_ws, watch_config=False)
    async with app.run_test(size=(120, 40)) as pilot:
        board = await open_board(pilot, app)
        await pilot.press("r")
        await wait_for(pilot, lambda: board.states.get("build") == "running")
        status = app.screen.query_one(StatusBar)
        await wait_for(pilot, lambda: status.running == 1)
        await pilot.press("c")
        await wait_for(pilot, lambda: board.run_state == "cancelled")
        assert board.states["build"] == "cancelled"
        await wait_for(pilot, lambda: status.running == 0)


async def test_status_bar_names_the_model(workspace: Path) -> None:
    overrides = ["aide.models.local.base_url=http://127.0.0.1:9/v1", "aide.models.local.model=m"]
    app = SymphonyApp(workspace, overrides=overrides, watch_config=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot, app)
        assert app.screen.query_one(StatusBar).model == "local"


async def test_edit_on_the_board_and_save(melody_ws: Path) -> None:
    path = melody_ws / ".symphony" / "melodies" / "pipeline.toml"
    app = SymphonyApp(melody_ws, watch_config=False)
    async with app.run_test(size=(120, 40)) as pilot:
        board = await open_board(pilot, app)
        # Disconnect check from build, then delete build.
        await pilot.press("right")
        await wait_for(pilot, lambda: board.canvas.selected == "check")
        await pilot.press("x")
        await wait_for(pilot, lambda: isinstance(app.screen, PickDialog))
        await pilot.press("enter")
        await wait_for(pilot, lambda: board.dirty)
        assert board.melody is not None and board.melody.steps[1].needs == []
        # Both are sources now: one column, build above check.
        await pilot.press("up")
        await wait_for(pilot, lambda: board.canvas.selected == "build")
        await pilot.press("delete")
        await wait_for(pilot, lambda: [s.id for s in board.melody.steps] == ["check"])  # type: ignore[union-attr]
        assert "sleep" not in path.read_text() and "build" in path.read_text()  # not saved yet
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: not board.dirty)
    text = path.read_text()
    assert "# The demo pipeline" in text and "# check runs after build" in text
    melody = load_melody(path)
    assert [(s.id, s.needs) for s in melody.steps] == [("check", [])]


async def test_runs_view_lists_and_opens_runs(melody_ws: Path) -> None:
    (melody_ws / "ok").write_text("")
    app = SymphonyApp(melody_ws, watch_config=False)
    async with app.run_test(size=(120, 40)) as pilot:
        board = await open_board(pilot, app)
        await pilot.press("r")
        await wait_for(pilot, lambda: board.run_state == "completed")
        run_id = board.run_id
        await pilot.press("f4")
        await wait_for(pilot, lambda: bool(app.screen.query(RunsView)))
        view = app.screen.query_one(RunsView)
        await wait_for(pilot, lambda: bool(view.runs))
        assert view.runs[0].id == run_id and view.runs[0].state == "completed"
        assert view.runs[0].counts == {"completed": 2}
        detail = str(view.query_one("#runs-detail", Static).render())
        assert detail == f"run {run_id} · .symphony/melodies/pipeline.toml"
        await pilot.press("enter")
        tabs = app.screen.query_one("#main-tabs", TabbedContent)
        await wait_for(pilot, lambda: (tabs.active or "").startswith("tab-view-board-"))


def test_run_detail_tells_origin_and_error(tmp_path: Path) -> None:
    from engine.runs.messages import RunInfo
    from symphony_tui.views.runs import run_detail

    run = RunInfo(
        id="ab12-7",
        melody="lint",
        path=str(tmp_path / "m" / "lint.toml"),
        state="failed",
        created=0.0,
        finished=1.0,
        duration_ms=1000.0,
        counts={"failed": 1},
        error="step check failed: exited with status 1\nmore detail",
        parent="ab12-6",
        from_step="check",
    )
    text = run_detail(run, tmp_path)
    assert text.plain == (
        "run ab12-7 · m/lint.toml · from step check of run ab12-6\n"
        "step check failed: exited with status 1"
    )
    elsewhere = msgspec.structs.replace(run, path="/srv/lint.toml", parent=None, error="")
    assert run_detail(elsewhere, tmp_path).plain == "run ab12-7 · /srv/lint.toml"


async def plan_the_tests(pilot: object, app: SymphonyApp) -> ConductorPanel:
    """Ask the conductor panel to "run the tests" and wait for its plan."""
    await started(pilot, app)
    await pilot.press("ctrl+k")  # type: ignore[attr-defined]
    panel = app.screen.query_one(ConductorPanel)
    await wait_for(pilot, lambda: isinstance(app.focused, Input))  # type: ignore[arg-type]
    await pilot.press(*"run the tests", "enter")  # type: ignore[attr-defined]
    await wait_for(pilot, lambda: panel.plan is not None)  # type: ignore[arg-type]
    return panel


def log_text(panel: ConductorPanel) -> str:
    return "\n".join(line.text for line in panel.log.lines)


async def test_conductor_plans_runs_and_explains(melody_ws: Path) -> None:
    (melody_ws / "test_ok.py").write_text("def test_ok():\n    assert True\n")
    app = SymphonyApp(melody_ws, watch_config=False)
    async with app.run_test(size=(120, 40)) as pilot:
        panel = await plan_the_tests(pilot, app)
        assert [n.id for n in panel.query_one("#ask-plan").graph.nodes] == ["test"]  # type: ignore[attr-defined]
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: panel.run_id is not None and not panel.running, timeout=60)
        # the decisions are asked for when the run ended
        await wait_for(pilot, lambda: "Decisions" in log_text(panel))
        text = log_text(panel)
        assert "run completed" in text
        assert "Decisions" in text and "provider" in text


async def test_conductor_follows_a_run_whose_events_come_before_the_start_reply(
    melody_ws: Path,
) -> None:
    """Replies and events travel apart: a quick run can finish before StartRun's reply names
    it. The reply is held back here until the run is over; the panel must still show it."""
    (melody_ws / "test_ok.py").write_text("def test_ok():\n    assert True\n")
    app = SymphonyApp(melody_ws, watch_config=False)
    async with app.run_test(size=(120, 40)) as pilot:
        panel = await plan_the_tests(pilot, app)
        finished: list[object] = []
        app.add_engine_listener(_Finished(finished))
        started_reply = panel._started

        def late(reply: object) -> None:
            async def when_done() -> None:
                while not finished:
                    await asyncio.sleep(0.05)
                await asyncio.sleep(0.2)  # the panel has seen (and so far dropped) every event
                started_reply(reply)

            app.run_worker(when_done())

        panel._started = late  # type: ignore[method-assign]
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: bool(finished), timeout=60)
        await wait_for(pilot, lambda: "Decisions" in log_text(panel))
        assert "✓ test completed" in log_text(panel) and "run completed" in log_text(panel)
        assert not panel.running


class _Finished:
    """An engine listener noting RunFinished events."""

    def __init__(self, seen: list[object]) -> None:
        self.seen = seen

    def engine_events(self, events: Sequence[object]) -> None:
        from engine.runs.messages import RunFinished

        self.seen.extend(e for e in events if isinstance(e, RunFinished))


async def test_maestro_review_apply_and_undo_in_the_tui(workspace: Path) -> None:
    """A model plans an llm.edit; the conductor panel runs it, the review dialog accepts the
    change, the file is written; 'Undo changes' restores it byte for byte."""
    import json

    from symphony_tui.screens.review import ReviewScreen
    from tests.support.model_server import ModelServer

    before = (workspace / "main.py").read_bytes()
    plan = {
        "rationale": "edit main.py",
        "steps": [
            {
                "id": "edit",
                "uses": "llm.edit",
                "with": {"instruction": "say bye", "files": ["main.py"]},
            }
        ],
    }
    new = "def main():\n    print('bye')\n"

    def respond(body: dict[str, object]) -> str:
        messages = body["messages"]
        assert isinstance(messages, list)
        if "conductor of Symphony" in str(messages[0]["content"]):
            return "```json\n" + json.dumps(plan) + "\n```"
        return f"=== FILE: main.py ===\n{new}=== END FILE ===\n"

    with ModelServer() as server:
        server.responder = respond
        overrides = [f"aide.models.local.base_url={server.base_url}", "aide.models.local.model=m"]
        app = SymphonyApp(workspace, overrides=overrides, watch_config=False)
        async with app.run_test(size=(120, 40)) as pilot:
            await started(pilot, app)
            await pilot.press("ctrl+k")
            panel = app.screen.query_one(ConductorPanel)
            await wait_for(pilot, lambda: isinstance(app.focused, Input))
            await pilot.press(*"say bye in main.py", "enter")
            await wait_for(pilot, lambda: panel.plan is not None)
            assert panel.plan is not None and "planned by model local" in panel.plan.rationale
            await pilot.press("ctrl+r")
            await wait_for(pilot, lambda: isinstance(app.screen, ReviewScreen), timeout=30)
            assert (workspace / "main.py").read_bytes() == before  # nothing written yet
            await pilot.press("a", "enter")
            await wait_for(pilot, lambda: (workspace / "main.py").read_text() == new)
            await app.run_action("screen.undo_changes")
            await wait_for(pilot, lambda: (workspace / "main.py").read_bytes() == before)


async def test_closing_a_board_with_unsaved_edits_asks(melody_ws: Path) -> None:
    path = melody_ws / ".symphony" / "melodies" / "pipeline.toml"
    app = SymphonyApp(melody_ws, watch_config=False)
    async with app.run_test(size=(120, 40)) as pilot:
        board = await open_board(pilot, app)
        await pilot.press("delete")
        await wait_for(pilot, lambda: board.dirty)
        await pilot.press("ctrl+w")
        await wait_for(pilot, lambda: isinstance(app.screen, ChoiceDialog))
        await pilot.click("#choice-cancel")
        await wait_for(pilot, lambda: not isinstance(app.screen, ChoiceDialog))
        assert board.is_attached and board.dirty
        await pilot.press("ctrl+w")
        await wait_for(pilot, lambda: isinstance(app.screen, ChoiceDialog))
        await pilot.click("#choice-save")
        await wait_for(pilot, lambda: not board.is_attached)
    assert [s.id for s in load_melody(path).steps] == ["check"]


async def test_ctrl_k_opens_the_conductor_from_an_editor(melody_ws: Path) -> None:
    app = SymphonyApp(melody_ws, watch_config=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot, app)
        await app.screen.open_file(melody_ws / "README.md")  # type: ignore[attr-defined]
        await pilot.press("ctrl+k")
        await wait_for(pilot, lambda: isinstance(app.focused, Input))
        assert (melody_ws / "README.md").read_text().startswith("# Demo")


async def test_a_reply_for_a_closed_view_is_dropped(melody_ws: Path) -> None:
    from engine.runs.messages import ListRuns

    app = SymphonyApp(melody_ws, watch_config=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot, app)
        await pilot.press("f4")
        await wait_for(pilot, lambda: bool(app.screen.query(RunsView)))
        view = app.screen.query_one(RunsView)
        await pilot.press("ctrl+w")
        await wait_for(pilot, lambda: not view.is_attached)
        called: list[str] = []

        def show(reply: object) -> None:
            called.append("late")
            view._show(reply)  # would query the gone table

        app.request(ListRuns(), lambda reply: show(reply), owner=view)
        app.request(ListRuns(), lambda reply: view._show(reply))  # owner found in the closure
        app.request(ListRuns(), view._show)  # owner: the bound method's view
        await pilot.pause(0.5)
        assert called == [] and app.is_running
