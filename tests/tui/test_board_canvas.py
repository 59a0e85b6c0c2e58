"""The Harmony Board canvas under Pilot: selection by keys and mouse, activation, states, zoom."""

from __future__ import annotations

from typing import Any

from textual.app import App, ComposeResult

from symphony_tui.board.canvas import SPINNER, BoardCanvas
from symphony_tui.board.layout import BoardGraph, BoardNode
from symphony_tui.theme_files import builtin_theme_dir, parse_theme
from symphony_tui.themes import to_textual
from tests.tui.helpers import wait_for

#: a -> (b, c) -> d, plus e hanging off a.
GRAPH = BoardGraph(
    (
        BoardNode("a", "git.clone"),
        BoardNode("b", "ruff.check", ("a",)),
        BoardNode("c", "pytest.run", ("a",)),
        BoardNode("d", "shell.run", ("b", "c")),
        BoardNode("e", "shell.run", ("a",)),
    )
)


class Host(App[None]):
    """A screen with only the canvas, in the real symphony-dark theme."""

    def __init__(self, graph: BoardGraph = GRAPH, states: dict[str, str] | None = None) -> None:
        super().__init__()
        self.graph = graph
        self.states = states
        self.selected: list[str | None] = []
        self.activated: list[str] = []

    def compose(self) -> ComposeResult:
        yield BoardCanvas(self.graph, self.states)

    def on_mount(self) -> None:
        theme = to_textual(parse_theme(builtin_theme_dir() / "symphony-dark.toml"))
        self.register_theme(theme)
        self.theme = theme.name
        self.query_one(BoardCanvas).focus()

    def on_board_canvas_step_selected(self, message: BoardCanvas.StepSelected) -> None:
        self.selected.append(message.step_id)

    def on_board_canvas_step_activated(self, message: BoardCanvas.StepActivated) -> None:
        self.activated.append(message.step_id)


def screen_text(app: App[Any]) -> str:
    canvas = app.query_one(BoardCanvas)
    return "\n".join(canvas.render_line(y).text for y in range(canvas.size.height))


def colour_of(app: App[Any], text: str) -> tuple[int, int, int] | None:
    """The foreground colour of the first cell showing ``text``."""
    canvas = app.query_one(BoardCanvas)
    for y in range(canvas.size.height):
        for segment in canvas.render_line(y):
            if text in segment.text and segment.style is not None and segment.style.color:
                triplet = segment.style.color.get_truecolor()
                return (triplet.red, triplet.green, triplet.blue)
    return None


async def test_arrow_keys_move_the_selection_spatially() -> None:
    app = Host()
    async with app.run_test(size=(120, 40)) as pilot:
        canvas = app.query_one(BoardCanvas)
        assert canvas.selected is None
        await pilot.press("right")
        assert canvas.selected == "a"  # the first key selects the first step
        await pilot.press("right")
        middle = canvas.selected
        assert middle in {"b", "c", "e"}
        layer = canvas.layout_result.layers[1]
        assert layer == ("b", "c", "e")
        await pilot.press("up", "up", "up")
        assert canvas.selected == "b"  # stops at the top of the layer
        await pilot.press("down")
        assert canvas.selected == "c"
        await pilot.press("right")
        assert canvas.selected == "d"
        await pilot.press("right")
        assert canvas.selected == "d"  # no layer beyond the last
        await pilot.press("left")
        assert canvas.selected in layer
        await pilot.press("home")
        assert canvas.selected == "a"
        await pilot.press("end")
        assert canvas.selected == "d"
        await pilot.pause()
        assert app.selected[0] == "a" and app.selected[-1] == "d"
        assert app.selected.count("d") >= 2  # every change posts a message


async def test_enter_posts_step_activated() -> None:
    app = Host()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("enter")  # nothing selected: nothing to open
        await pilot.press("right", "right", "enter")
        await pilot.pause()
        assert app.activated == [app.query_one(BoardCanvas).selected]


async def test_states_change_glyphs_and_colours() -> None:
    app = Host()
    async with app.run_test(size=(120, 40)) as pilot:
        canvas = app.query_one(BoardCanvas)
        await pilot.pause()
        assert "failed" not in screen_text(app)
        variables = app.theme_variables
        canvas.set_states({"a": "completed", "b": "failed"})
        await pilot.pause()
        text = screen_text(app)
        assert "✓ a" in text and "✗ b" in text and " failed " in text
        error = variables["error"].lower()
        assert colour_of(app, "✗") is not None
        red = tuple(int(error[i : i + 2], 16) for i in (1, 3, 5))
        assert colour_of(app, "✗") == red
        canvas.set_state("b", None)
        await pilot.pause()
        assert "failed" not in screen_text(app)
        assert canvas.state_of("a") == "completed"


async def test_a_running_step_spins_only_while_it_runs() -> None:
    app = Host()
    async with app.run_test(size=(120, 40)) as pilot:
        canvas = app.query_one(BoardCanvas)
        assert not canvas.spinning
        canvas.set_state("c", "running")
        await pilot.pause()
        assert canvas.spinning
        seen: set[str] = set()

        def turned() -> bool:
            text = screen_text(app)
            seen.update(ch for ch in SPINNER if f"{ch} c" in text)
            return len(seen) >= 2

        await wait_for(pilot, turned, timeout=5)  # the glyph turns
        canvas.set_state("c", "completed")
        await pilot.pause()
        assert not canvas.spinning
        assert "✓ c" in screen_text(app)


async def test_zoom_toggles_the_compact_drawing() -> None:
    app = Host()
    async with app.run_test(size=(80, 24)) as pilot:
        canvas = app.query_one(BoardCanvas)
        await pilot.press("right")
        tall = canvas.layout_result.height
        assert "git.clone" in screen_text(app)
        await pilot.press("z")
        assert canvas.zoomed_out
        assert canvas.layout_result.height < tall
        assert "git.clone" not in screen_text(app)  # one line per step
        assert canvas.selected == "a"  # the selection survives
        await pilot.press("z")
        assert not canvas.zoomed_out and canvas.layout_result.height == tall


async def test_clicking_a_box_selects_it() -> None:
    app = Host()
    async with app.run_test(size=(120, 40)) as pilot:
        canvas = app.query_one(BoardCanvas)
        box = canvas.layout_result.boxes["c"]
        await pilot.click(BoardCanvas, offset=(box.x + 2, box.y + 1))
        assert canvas.selected == "c"
        await pilot.click(BoardCanvas, offset=(0, 0))  # empty space keeps the selection
        assert canvas.selected == "c"


async def test_selection_scrolls_into_view_on_a_big_board() -> None:
    nodes = [BoardNode("s0", "shell.run")]
    nodes += [BoardNode(f"s{i}", "shell.run", (f"s{i - 1}",)) for i in range(1, 30)]
    app = Host(BoardGraph(tuple(nodes)))
    async with app.run_test(size=(80, 24)) as pilot:
        canvas = app.query_one(BoardCanvas)
        await pilot.press("end")
        await pilot.pause()
        assert canvas.selected == "s29"
        box = canvas.layout_result.boxes["s29"]
        assert canvas.scroll_offset.x <= box.x
        assert box.x + box.w <= canvas.scroll_offset.x + canvas.size.width
        assert "s29" in screen_text(app)


async def test_set_graph_keeps_a_selection_that_still_exists() -> None:
    app = Host()
    async with app.run_test(size=(80, 24)) as pilot:
        canvas = app.query_one(BoardCanvas)
        canvas.selected = "b"
        canvas.set_graph(BoardGraph(GRAPH.nodes[:3]))
        assert canvas.selected == "b"
        canvas.set_graph(BoardGraph(GRAPH.nodes[:1]))
        await pilot.pause()
        assert canvas.selected is None
        assert app.selected[-1] is None


async def test_an_empty_melody_explains_itself() -> None:
    app = Host(BoardGraph())
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("right", "enter", "z")
        text = screen_text(app)
        assert "This melody has no steps yet." in text
        line = next(line for line in text.splitlines() if "no steps" in line)
        assert abs(line.index("This") - (80 - len(line.strip()) - line.index("This"))) <= 1
        assert app.activated == []
