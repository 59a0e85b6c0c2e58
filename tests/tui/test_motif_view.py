"""Motif panels in the real app: a real engine, a real motif, Pilot driving the widgets.

Each test opens a panel with ``MainScreen.open_view`` and a :class:`MotifView`, acts on its
widgets and checks both sides: what the motif received, and what the patched UI shows.
"""

from __future__ import annotations

import json
import sys
import textwrap
import uuid
from typing import TYPE_CHECKING, Any

from textual.widgets import Button, Checkbox, DataTable, Input, Select, Static

from engine.runs.service import Runner
from engine.runtime import Engine
from symphony_tui.app import SymphonyApp
from symphony_tui.motifs import MotifView
from symphony_tui.widgets.status_bar import StatusBar
from tests.tui.helpers import wait_for

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from textual.pilot import Pilot

MOTIF = '''
import json
from pathlib import Path

from symphony_sdk import Motif
from symphony_sdk.vdom import h


class Probe(Motif):
    """Records every event in a file and shows its state."""

    def __init__(self):
        self.log = None
        self.name = ""
        self.loud = False
        self.colour = None
        self.rows = ["a", "b", "c"]
        self.presses = 0

    def activate(self, ctx):
        self.log = Path(ctx.settings["log"])

    def render(self, panel):
        return h(
            "vertical",
            h("label", f"hello {self.name or 'nobody'}", key="greeting",
              tone="error" if self.loud else "default"),
            h("horizontal",
              h("input", key="name", value=self.name, placeholder="your name"),
              h("checkbox", key="loud", label="Loud", value=self.loud),
              h("select", key="colour", options=["red", "green"], value=self.colour),
              h("button", key="go", label=f"Pressed {self.presses}"),
              key="form"),
            h("table", [h("row", key=r, cells=[r, len(r)]) for r in self.rows],
              key="rows", columns=["name", "size"]),
            key="root",
        )

    def on_event(self, panel, event):
        with self.log.open("a") as f:
            f.write(json.dumps([panel, list(event.path), event.kind, event.value]) + "\\n")
        if event.key == "name":
            self.name = event.value
        elif event.key == "loud":
            self.loud = event.value
        elif event.key == "colour":
            self.colour = event.value
        elif event.key == "go":
            self.presses += 1
            self.rows = list(reversed(self.rows)) + [f"n{self.presses}"]
        elif event.kind == "select" and event.path[0] == "rows":
            self.rows = [r for r in self.rows if r != event.key]
'''


def write_probe(root: Path) -> Path:
    """A motif extension in ``root/probe`` (in-process) with panel ``probe.panel``."""
    module = f"probe_{uuid.uuid4().hex[:8]}"
    folder = root / "probe"
    folder.mkdir(parents=True)
    (folder / f"{module}.py").write_text(textwrap.dedent(MOTIF), encoding="utf-8")
    (folder / "symphony-extension.toml").write_text(
        textwrap.dedent(
            f"""
            [extension]
            id = "probe"
            name = "Probe"
            version = "1.0.0"
            type = "motif"
            entry = "{module}:Probe"

            [runtime]
            isolation = "in-process"

            [[contributes.panels]]
            id = "probe.panel"
            title = "Probe"

            [contributes.settings]
            log = {{ type = "string", required = true }}
            """
        ),
        encoding="utf-8",
    )
    return root


TESTS = """
def test_adds():
    assert 1 + 1 == 2


def test_breaks():
    assert "total" == "totals", "the names differ"
"""


def results_workspace(root: Path) -> Path:
    """A tiny project whose tests were run once by a real ``pytest.run`` melody step (one
    passes, one fails): its outputs are in the workspace's artifact store."""
    ws = root / "proj"
    (ws / "tests").mkdir(parents=True)
    (ws / "tests" / "test_calc.py").write_text(TESTS, encoding="utf-8")
    melodies = ws / ".symphony" / "melodies"
    melodies.mkdir(parents=True)
    (melodies / "check.toml").write_text(
        textwrap.dedent(
            f"""
            [melody]
            name = "check"

            [[steps]]
            id = "tests"
            uses = "pytest.run"
            with = {{ paths = ["tests"], python = {json.dumps(sys.executable)} }}
            """
        ),
        encoding="utf-8",
    )
    engine = Engine(ws, watch_config=False)
    engine.start()
    runner = Runner(engine)
    try:
        summary = runner.new_run("check", {}).execute()
        assert summary.state.value == "completed", summary
    finally:
        runner.close()
        engine.stop()
    return ws


async def open_panel(pilot: Pilot[Any], panel: str, title: str) -> MotifView:
    """Wait for the engine, open ``panel`` in a main tab titled ``title`` and wait for its
    tree (or its error)."""
    app = pilot.app
    await wait_for(pilot, lambda: app.screen.query_one(StatusBar).health == "healthy")
    screen = app.main_screen  # type: ignore[attr-defined]
    view = await screen.open_view(MotifView.view_key(panel), title, lambda: MotifView(panel))
    assert isinstance(view, MotifView)
    await wait_for(pilot, lambda: view.version is not None or bool(view.error))
    await pilot.pause(0.1)
    return view


async def until(pilot: Pilot[Any], predicate: Callable[[], bool]) -> None:
    await wait_for(pilot, predicate)


def events(log: Path) -> list[list[Any]]:
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]


def probe_app(tmp_path: Path) -> tuple[SymphonyApp, Path]:
    exts = write_probe(tmp_path / "exts")
    ws = tmp_path / "ws"
    ws.mkdir()
    log = tmp_path / "events.jsonl"
    app = SymphonyApp(
        ws,
        watch_config=False,
        overrides=[
            f"extensions.dirs=[{json.dumps(str(exts))}]",
            f"extensions.settings.probe.log={json.dumps(str(log))}",
        ],
    )
    return app, log


async def test_events_round_trip_and_patches_keep_the_widgets(tmp_path: Path) -> None:
    app, log = probe_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        view = await open_panel(pilot, "probe.panel", "Probe")
        assert not view.error
        greeting = view.query_one(".motif-label", Static)
        name = view.query_one(Input)
        button = view.query_one(Button)
        table = view.query_one(DataTable)
        assert str(greeting.render()) == "hello nobody"
        assert table.row_count == 3

        # Typing: every change reaches the motif; the label follows; the input keeps its text
        # and stays the same widget.
        name.focus()
        await pilot.press("a", "d", "a")
        await until(pilot, lambda: str(greeting.render()) == "hello ada")
        assert [e for e in events(log) if e[2] == "change"][-1] == [
            "probe.panel",
            ["form", "name"],
            "change",
            "ada",
        ]
        assert name.value == "ada"
        assert view.query_one(Input) is name
        assert view.query_one(".motif-label", Static) is greeting

        # A checkbox: the motif turns the label's tone to error (a prop change in place).
        view.query_one(Checkbox).focus()
        await pilot.press("space")
        await until(pilot, lambda: greeting.has_class("-tone-error"))
        assert ["probe.panel", ["form", "loud"], "change", True] in events(log)

        # A select: pick the second option.
        select = view.query_one(Select)
        select.focus()
        await pilot.press("enter", "down", "down", "enter")
        await until(
            pilot, lambda: ["probe.panel", ["form", "colour"], "select", "green"] in events(log)
        )
        assert select.value == "green"

        # A button: its label changes in place; the rows are reversed and one is added
        # (keyed moves and an insert in the table).
        await pilot.click(button)
        await until(pilot, lambda: str(button.label) == "Pressed 1")
        assert view.query_one(Button) is button
        assert view.query_one(DataTable) is table
        await until(pilot, lambda: table.row_count == 4)
        names = [str(table.get_row_at(i)[0]) for i in range(table.row_count)]
        assert names == ["c", "b", "a", "n1"]
        assert [str(c) for c in table.get_row_at(3)] == ["n1", "2"]

        # Selecting a row removes it (the row's key is the event's key).
        table.focus()
        table.move_cursor(row=1)
        await pilot.press("enter")
        await until(pilot, lambda: table.row_count == 3)
        assert ["probe.panel", ["rows", "b"], "select", None] in events(log)
        assert [str(table.get_row_at(i)[0]) for i in range(3)] == ["c", "a", "n1"]
        assert view.query_one(Input) is name and name.value == "ada"


BROKEN = """
from symphony_sdk import Motif
from symphony_sdk.vdom import Element, h


class Broken(Motif):
    def render(self, panel):
        return Element(type="vertical", children=(
            h("label", "fine", key="ok"),
            Element(type="button", key="b", props={"colour": "red"}),
        ))
"""


async def test_an_invalid_tree_shows_the_error_with_its_location(tmp_path: Path) -> None:
    exts = tmp_path / "exts" / "broken"
    exts.mkdir(parents=True)
    module = f"broken_{uuid.uuid4().hex[:8]}"
    (exts / f"{module}.py").write_text(BROKEN, encoding="utf-8")
    (exts / "symphony-extension.toml").write_text(
        f'[extension]\nid = "broken"\nname = "Broken"\nversion = "1.0.0"\ntype = "motif"\n'
        f'entry = "{module}:Broken"\n[runtime]\nisolation = "in-process"\n'
        '[[contributes.panels]]\nid = "broken.panel"\ntitle = "Broken"\n',
        encoding="utf-8",
    )
    ws = tmp_path / "ws"
    ws.mkdir()
    app = SymphonyApp(
        ws,
        watch_config=False,
        overrides=[f"extensions.dirs=[{json.dumps(str(exts.parent))}]"],
    )
    async with app.run_test(size=(100, 30)) as pilot:
        view = await open_panel(pilot, "broken.panel", "Broken")
        assert "root/button[b]: unknown prop 'colour'" in view.error
        assert "broken" in view.error
        shown = "\n".join(str(w.render()) for w in view.query(".motif-label").results(Static))
        assert "Broken could not be shown" in shown
        assert "root/button[b]: unknown prop 'colour' for button" in shown
        assert str(view.query_one(Button).label) == "Try again"
