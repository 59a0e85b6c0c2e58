"""BoardCanvas: the Harmony Board's DAG drawn with the line API, with live step states.

The canvas is one :class:`~textual.scroll_view.ScrollView`: :func:`~.layout.layout` places the
boxes and routes once per graph (or zoom change), edge cells are gathered into sparse rows, and
:meth:`BoardCanvas.render_line` draws only the visible lines from a cache of row strips. A state
change, a selection change or a spinner tick invalidates just the rows it touches; nothing is a
widget per node (SPEC §10).

Colours come from the current theme's variables only, looked up again when the theme changes.
A running step shows a spinner that a timer turns while something runs (and never when the
app's animations are off). The selected step's edges are drawn in the accent colour, so which
line goes where is always one arrow key away.

This module must not know about runs or the engine: states arrive as strings through
:meth:`BoardCanvas.set_states`, and selection and activation leave as messages.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from rich.segment import Segment
from rich.style import Style
from textual.binding import Binding
from textual.color import Color
from textual.geometry import Region, Size
from textual.geometry import Spacing as Margin
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from engine.runs.states import StepState
from symphony_tui.board.layout import BoardGraph, Box, Layout, LayoutNode, layout

if TYPE_CHECKING:
    from collections.abc import Mapping

    from textual import events
    from textual.binding import BindingType
    from textual.timer import Timer

__all__ = ["STATE_LOOKS", "BoardCanvas", "StateLook"]

#: Longest id or step type shown in a box; longer ones end with an ellipsis.
MAX_LABEL = 24
SPINNER = "◐◓◑◒"
SPIN_SECONDS = 0.15
EMPTY_TEXT = ("This melody has no steps yet.", "Add a [[steps]] table to draw it here.")

_N, _E, _S, _W = 1, 2, 4, 8
_LINES = {
    _E | _W: "─",
    _N | _S: "│",
    _E | _S: "╭",
    _W | _S: "╮",
    _N | _E: "╰",
    _N | _W: "╯",
    _N | _E | _S: "├",
    _N | _W | _S: "┤",
    _E | _W | _S: "┬",
    _E | _W | _N: "┴",
    _N | _E | _S | _W: "┼",
    _E: "─",
    _W: "─",
    _N: "│",
    _S: "│",
}
_ARROW = "▶"
_LIGHT = "╭─╮│╰╯├"
_HEAVY = "┏━┓┃┗┛┝"


@dataclass(frozen=True, slots=True)
class StateLook:
    """How a step state is drawn: its glyph and the theme variable that colours it."""

    glyph: str
    color: str


#: Every step state's glyph and colour (a theme variable name); ``None`` is "no run yet".
STATE_LOOKS: dict[str | None, StateLook] = {
    None: StateLook("○", "foreground-muted"),
    StepState.PENDING: StateLook("○", "foreground-muted"),
    StepState.QUEUED: StateLook("◌", "secondary"),
    StepState.RUNNING: StateLook(SPINNER[0], "primary"),
    StepState.COMPLETED: StateLook("✓", "success"),
    StepState.CACHED: StateLook("↺", "success"),
    StepState.FAILED: StateLook("✗", "error"),
    StepState.CRASHED: StateLook("!", "error"),
    StepState.SKIPPED: StateLook("»", "foreground-muted"),
    StepState.CANCELLED: StateLook("■", "warning"),
}


def _clip(text: str) -> str:
    return text if len(text) <= MAX_LABEL else text[: MAX_LABEL - 1] + "…"


@dataclass(slots=True)
class _Cell:
    bits: int = 0
    arrow: bool = False


class BoardCanvas(ScrollView, can_focus=True):
    """A melody's steps as boxes in layers, edges between them, each box in its state's colour.

    Args:
        graph: the steps to draw.
        states: each step's state (a :class:`~engine.runs.states.StepState` value); steps
            missing from it have not run.
    """

    DEFAULT_CSS = """
    BoardCanvas {
        width: 1fr;
        height: 1fr;
        background: $background;
        color: $foreground;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("left", "select('left')", "Previous layer", show=False, id="board_left"),
        Binding("right", "select('right')", "Next layer", show=False, id="board_right"),
        Binding("up", "select('up')", "Step above", show=False, id="board_up"),
        Binding("down", "select('down')", "Step below", show=False, id="board_down"),
        Binding("home", "select('first')", "First step", show=False, id="board_first"),
        Binding("end", "select('last')", "Last step", show=False, id="board_last"),
        Binding(
            "enter", "activate", "Open step", tooltip="Open the selected step", id="board_open"
        ),
        Binding(
            "z", "zoom", "Zoom", tooltip="Zoom out to the whole melody, or back in", id="board_zoom"
        ),
        Binding("shift+left", "scroll_left", "Pan left", show=False, id="board_pan_left"),
        Binding("shift+right", "scroll_right", "Pan right", show=False, id="board_pan_right"),
        Binding("shift+up", "scroll_up", "Pan up", show=False, id="board_pan_up"),
        Binding("shift+down", "scroll_down", "Pan down", show=False, id="board_pan_down"),
    ]

    selected: reactive[str | None] = reactive(None, init=False)
    """The selected step's id."""

    zoomed_out: reactive[bool] = reactive(False, init=False)
    """Compact mode: one line per step, tighter spacing."""

    class StepSelected(Message):
        """The selection moved; ``step_id`` is None when nothing is selected."""

        def __init__(self, canvas: BoardCanvas, step_id: str | None) -> None:
            super().__init__()
            self.canvas = canvas
            self.step_id = step_id

        @property
        def control(self) -> BoardCanvas:
            """The canvas whose selection moved."""
            return self.canvas

    class StepActivated(Message):
        """The user pressed enter on a step."""

        def __init__(self, canvas: BoardCanvas, step_id: str) -> None:
            super().__init__()
            self.canvas = canvas
            self.step_id = step_id

        @property
        def control(self) -> BoardCanvas:
            """The canvas the step is on."""
            return self.canvas

    def __init__(
        self,
        graph: BoardGraph,
        states: Mapping[str, str] | None = None,
        *,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._graph = graph
        self._states: dict[str, str] = dict(states or {})
        self._layout = Layout({}, (), (), 0, 0)
        self._rows_boxes: list[list[Box]] = []
        self._cells: list[dict[int, _Cell]] = []
        self._hot: dict[tuple[int, int], None] = {}
        self._sources: set[str] = set()
        self._uses: dict[str, str] = {}
        self._strips: dict[int, Strip] = {}
        self._styles: dict[str, Style] = {}
        self._look_key: tuple[str, int] | None = None
        self._frame = 0
        self._spinner: Timer | None = None
        self._relayout()

    # -- public API ----------------------------------------------------------------------------

    @property
    def graph(self) -> BoardGraph:
        """The graph being drawn."""
        return self._graph

    @property
    def layout_result(self) -> Layout:
        """The current layout (cells of the virtual canvas)."""
        return self._layout

    def state_of(self, step_id: str) -> str | None:
        """The state last set for ``step_id`` (None: not run)."""
        return self._states.get(step_id)

    def set_graph(self, graph: BoardGraph) -> None:
        """Draw ``graph`` instead; the selection stays if its step is still there."""
        self._graph = graph
        self._relayout()
        if self.selected is not None and self.selected not in self._layout.boxes:
            self.selected = None
        else:
            self._mark_hot()
            self._scroll_to_selected()

    def set_states(self, states: Mapping[str, str]) -> None:
        """Replace every step's state (steps missing from ``states`` have not run)."""
        changed = {
            k for k in self._states.keys() | states.keys() if self._states.get(k) != states.get(k)
        }
        self._states = dict(states)
        self._states_changed(changed)

    def set_state(self, step_id: str, state: str | None) -> None:
        """Set one step's state (None: not run)."""
        if self._states.get(step_id) == state:
            return
        if state is None:
            self._states.pop(step_id, None)
        else:
            self._states[step_id] = state
        self._states_changed({step_id})

    def action_zoom(self) -> None:
        """Toggle the zoomed-out (compact) mode."""
        self.zoomed_out = not self.zoomed_out

    def action_activate(self) -> None:
        """Post :class:`StepActivated` for the selected step."""
        if self.selected is not None:
            self.post_message(self.StepActivated(self, self.selected))

    def action_select(self, direction: str) -> None:
        """Move the selection: ``left``/``right`` between layers, ``up``/``down`` in a layer,
        ``first``/``last``."""
        target = self._neighbour(direction)
        if target is not None:
            self.selected = target

    # -- layout --------------------------------------------------------------------------------

    def _labels(self) -> list[LayoutNode]:
        if self.zoomed_out:
            return [LayoutNode(n.id, (f"○ {_clip(n.id)}",)) for n in self._graph.nodes]
        return [LayoutNode(n.id, (f"○ {_clip(n.id)}", _clip(n.uses))) for n in self._graph.nodes]

    def _relayout(self) -> None:
        result = layout(self._labels(), self._graph.edges(), compact=self.zoomed_out)
        self._layout = result
        rows: list[list[Box]] = [[] for _ in range(result.height)]
        for box in result.boxes.values():
            for y in range(box.y, box.y + box.h):
                rows[y].append(box)
        self._rows_boxes = rows
        cells: list[dict[int, _Cell]] = [{} for _ in range(result.height)]
        for route in result.routes:
            for (x, y), bits in _route_cells(route.points):
                cell = cells[y].get(x)
                if cell is None:
                    cell = cells[y][x] = _Cell()
                cell.bits |= bits
            x, y = route.points[-1]
            cells[y][x].arrow = True
        self._cells = cells
        self._sources = {route.source for route in result.routes}
        self._uses = {n.id: _clip(n.uses) for n in self._graph.nodes}
        self._strips.clear()
        self._hot = {}
        self.virtual_size = Size(result.width, result.height)
        self._update_spinner()
        self.refresh()

    def _mark_hot(self) -> None:
        """Remember the cells of the selected step's edges (drawn in the accent colour)."""
        old = self._hot
        hot: dict[tuple[int, int], None] = {}
        if self.selected is not None:
            for route in self._layout.routes:
                if self.selected in (route.source, route.target):
                    hot.update(dict.fromkeys(xy for xy, _ in _route_cells(route.points)))
        self._hot = hot
        for y in {y for _, y in old} | {y for _, y in hot}:
            self._invalidate(y)

    # -- reactions -----------------------------------------------------------------------------

    def watch_selected(self, old: str | None, new: str | None) -> None:
        for step_id in (old, new):
            self._invalidate_box(step_id)
        self._mark_hot()
        self._scroll_to_selected()
        self.post_message(self.StepSelected(self, new))

    def watch_zoomed_out(self) -> None:
        self._relayout()
        self._mark_hot()
        self.call_after_refresh(self._scroll_to_selected, center=True)

    def on_mount(self) -> None:
        self._update_spinner()

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None:
            return
        x, y = offset.x + self.scroll_offset.x, offset.y + self.scroll_offset.y
        if 0 <= y < len(self._rows_boxes):
            for box in self._rows_boxes[y]:
                if box.x <= x < box.x + box.w:
                    self.selected = box.id
                    return

    def _states_changed(self, step_ids: set[str]) -> None:
        for step_id in step_ids:
            self._invalidate_box(step_id)
        self._update_spinner()

    def _update_spinner(self) -> None:
        if not self.is_mounted:
            return
        running = StepState.RUNNING in self._states.values()
        animate = running and self.app.animation_level != "none"
        if animate and self._spinner is None:
            self._spinner = self.set_interval(SPIN_SECONDS, self._spin)
        elif not animate and self._spinner is not None:
            self._spinner.stop()
            self._spinner = None

    def _spin(self) -> None:
        self._frame = (self._frame + 1) % len(SPINNER)
        for step_id, state in self._states.items():
            if state == StepState.RUNNING:
                self._invalidate_box(step_id)

    @property
    def spinning(self) -> bool:
        """Whether the spinner timer is running (only while a step runs)."""
        return self._spinner is not None

    def _invalidate(self, y: int) -> None:
        self._strips.pop(y, None)
        self.refresh_line(y)

    def _invalidate_box(self, step_id: str | None) -> None:
        box = self._layout.boxes.get(step_id) if step_id is not None else None
        if box is not None:
            for y in range(box.y, box.y + box.h):
                self._invalidate(y)

    def _scroll_to_selected(self, *, center: bool = False) -> None:
        box = self._layout.boxes.get(self.selected) if self.selected is not None else None
        if box is None:
            return
        self.scroll_to_region(
            Region(box.x, box.y, box.w, box.h),
            spacing=Margin(1, 2, 1, 2),
            animate=False,
            center=center,
            immediate=True,
        )

    # -- selection -----------------------------------------------------------------------------

    def _neighbour(self, direction: str) -> str | None:
        result = self._layout
        if not result.boxes:
            return None
        layers = result.layers
        current = result.boxes.get(self.selected) if self.selected is not None else None
        if direction == "last":
            return layers[-1][-1]
        if current is None or direction == "first":
            return layers[0][0]
        column = layers[current.layer]
        at = column.index(current.id)
        if direction == "up":
            return column[max(0, at - 1)]
        if direction == "down":
            return column[min(len(column) - 1, at + 1)]
        k = current.layer + (1 if direction == "right" else -1)
        if not 0 <= k < len(layers):
            return current.id
        mid = current.y + current.h / 2
        return min(
            layers[k],
            key=lambda i: abs(result.boxes[i].y + result.boxes[i].h / 2 - mid),
        )

    # -- drawing -------------------------------------------------------------------------------

    def _look(self) -> None:
        """Rebuild the styles when the theme or the CSS changed."""
        key = (self.app.theme, id(self.visual_style))
        if key == self._look_key:
            return
        self._look_key = key
        self._strips.clear()
        variables = self.app.theme_variables
        base = self.visual_style.rich_style
        background = Color.parse(variables.get("background", "black"))

        def color(name: str) -> Color:
            return background + Color.parse(variables[name])

        surface = color("surface")
        styles = {
            "base": base,
            "edge": Style(color=color("foreground-muted").rich_color),
            "hot": Style(color=color("accent").rich_color, bold=True),
            "box": Style(color=color("foreground").rich_color, bgcolor=surface.rich_color),
            "selected": Style(
                color=color("foreground").rich_color, bgcolor=color("primary-muted").rich_color
            ),
            "cursor": Style(color=color("accent").rich_color, bold=True),
            "muted": Style(color=(surface + Color.parse(variables["foreground-muted"])).rich_color),
            "title": Style(color=color("foreground").rich_color, bold=True),
        }
        for look in STATE_LOOKS.values():
            styles[look.color] = Style(color=color(look.color).rich_color)
        self._styles = styles

    def render_line(self, y: int) -> Strip:
        self._look()
        scroll_x, scroll_y = self.scroll_offset
        width = self.size.width
        base = self._styles["base"]
        if not self._layout.boxes:
            return self._empty_line(y, width, base)
        row = scroll_y + y
        strip = self._strips.get(row)
        if strip is None:
            strip = self._strips[row] = self._row(row)
        return strip.crop_extend(scroll_x, scroll_x + width, base)

    def _empty_line(self, y: int, width: int, base: Style) -> Strip:
        top = (self.size.height - len(EMPTY_TEXT)) // 2
        if not 0 <= y - top < len(EMPTY_TEXT):
            return Strip.blank(width, base)
        text = EMPTY_TEXT[y - top]
        style = self._styles["title"] if y == top else self._styles["edge"]
        left = max(0, (width - len(text)) // 2)
        return Strip([Segment(" " * left, base), Segment(text, base + style)]).crop_extend(
            0, width, base
        )

    def _row(self, y: int) -> Strip:
        """Every item on virtual row ``y``, as one strip from column 0."""
        if not 0 <= y < len(self._cells):
            return Strip([])
        items: list[tuple[int, list[Segment]]] = []
        for box in self._rows_boxes[y]:
            items.append((box.x, self._box_line(box, y - box.y)))
        styles = self._styles
        hot = self._hot
        run: list[tuple[int, str, Style]] = []
        for x in sorted(self._cells[y]):
            cell = self._cells[y][x]
            text = _ARROW if cell.arrow and not self.zoomed_out else _LINES[cell.bits]
            style = styles["hot"] if (x, y) in hot else styles["edge"]
            if run and run[-1][0] + len(run[-1][1]) == x and run[-1][2] is style:
                run[-1] = (run[-1][0], run[-1][1] + text, style)
            else:
                run.append((x, text, style))
        items.extend((x, [Segment(text, style)]) for x, text, style in run)
        items.sort(key=lambda item: item[0])
        base = styles["base"]
        segments: list[Segment] = []
        at = 0
        for x, parts in items:
            if x > at:
                segments.append(Segment(" " * (x - at), base))
            for part in parts:
                own = part.style
                segments.append(Segment(part.text, base + own if own else base))
            at = x + sum(len(p.text) for p in parts)
        return Strip(segments)

    def _box_line(self, box: Box, dy: int) -> list[Segment]:
        styles = self._styles
        state = self._states.get(box.id)
        look = STATE_LOOKS.get(state, STATE_LOOKS[None])
        glyph = SPINNER[self._frame] if state == StepState.RUNNING else look.glyph
        tint = styles[look.color]
        chosen = box.id == self.selected
        fill = styles["selected"] if chosen else styles["box"]
        label = _clip(box.id)
        if self.zoomed_out:
            text = label.ljust(box.w - 2)
            name = fill + styles["title"] if chosen else styles["base"]
            return [Segment(glyph, tint + (fill if chosen else Style())), Segment(" " + text, name)]
        chars = _HEAVY if chosen else _LIGHT
        frame = fill + (styles["cursor"] if chosen else tint if state else styles["muted"])
        inner = box.w - 4
        if dy == 0:
            return [Segment(chars[0] + chars[1] * (box.w - 2) + chars[2], frame)]
        if dy == box.h - 1:
            word = f" {state} " if state else ""
            rest = box.w - 3 - len(word)
            return [
                Segment(chars[4] + chars[1], frame),
                Segment(word, fill + tint),
                Segment(chars[1] * rest + chars[5], frame),
            ]
        right = chars[6] if dy == box.port - box.y and box.id in self._sources else chars[3]
        side = Segment(chars[3], frame)
        if dy == 1:
            body = [
                Segment(" ", fill),
                Segment(glyph, fill + tint),
                Segment(" " + label.ljust(inner - 2) + " ", fill + styles["title"]),
            ]
        else:
            uses = self._uses.get(box.id, "")
            body = [Segment(" " + uses.ljust(inner) + " ", fill + styles["muted"])]
        return [side, *body, Segment(right, frame)]


def _route_cells(points: tuple[tuple[int, int], ...]) -> list[tuple[tuple[int, int], int]]:
    """Each cell of a route with the directions its line leaves the cell by."""
    out: list[tuple[tuple[int, int], int]] = [(points[0], _W)]
    for (x0, y0), (x1, y1) in itertools.pairwise(points):
        if y0 == y1:
            step = 1 if x1 > x0 else -1
            ahead, back = (_E, _W) if step > 0 else (_W, _E)
            for x in range(x0, x1 + step, step):
                bits = (ahead if x != x1 else 0) | (back if x != x0 else 0)
                out.append(((x, y0), bits))
        else:
            step = 1 if y1 > y0 else -1
            ahead, back = (_S, _N) if step > 0 else (_N, _S)
            for y in range(y0, y1 + step, step):
                bits = (ahead if y != y1 else 0) | (back if y != y0 else 0)
                out.append(((x0, y), bits))
    return out
