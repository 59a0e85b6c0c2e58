"""The Textual widget of each motif element type, and how a prop change updates it.

One function builds a widget from an element's props (defaults filled in), one applies changed
props to a mounted widget in place. Programmatic changes never echo back as events: the
renderer changes values inside ``prevent(...)``. ``row`` has no widget of its own: rows live in
their table (:class:`MotifTable`). Text is never Rich markup: labels, buttons and cells get
``Text`` objects.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import (
    Button,
    Checkbox,
    DataTable,
    Input,
    Markdown,
    ProgressBar,
    Select,
    Static,
)

from symphony_sdk.vdom import ELEMENTS

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

    from textual.widget import Widget
    from textual.widgets.data_table import RowKey

__all__ = ["MotifTable", "build_widget", "cell", "props_of", "update_widget"]

TONES = ("default", "muted", "accent", "success", "warning", "error")
CONTAINERS = {"vertical": Vertical, "horizontal": Horizontal, "scroll": VerticalScroll}


def props_of(type_: str, given: Mapping[str, Any]) -> dict[str, Any]:
    """Every prop of an element of ``type_``: ``given`` ones, defaults for the rest."""
    spec = ELEMENTS[type_]
    return {name: given.get(name, prop.default) for name, prop in spec.props.items()}


def cell(value: object) -> Text:
    """A table cell, as written (numbers right-aligned, null empty)."""
    if value is None:
        return Text("")
    if isinstance(value, bool):
        return Text("true" if value else "false")
    if isinstance(value, int | float):
        return Text(str(value), justify="right")
    return Text(str(value))


class MotifTable(DataTable[Text]):
    """A data table whose rows can be put in any order (for keyed row moves and inserts)."""

    def reorder(self, keys: Sequence[RowKey]) -> None:
        """Show the rows in the order of ``keys`` (every row's key, once)."""
        # DataTable.sort does the same from values; rows are ordered by their keys here.
        from textual._two_way_dict import TwoWayDict

        self._row_locations = TwoWayDict({key: index for index, key in enumerate(keys)})
        self._update_count += 1
        self.refresh()

    def set_columns(self, columns: Sequence[str]) -> None:
        """Replace the columns (and drop the rows: the caller adds them again)."""
        self.clear(columns=True)
        for index, name in enumerate(columns):
            self.add_column(Text(name), key=f"c{index}")


def build_widget(
    type_: str, props: Mapping[str, Any], text: str, children: Iterable[Widget]
) -> Widget:
    """A new widget for an element (``text``: its joined text children; ``children``: the
    widgets of its element children)."""
    p = props_of(type_, props)
    widget: Widget
    if type_ in CONTAINERS:
        widget = CONTAINERS[type_](*children)
        _set_title(widget, p["title"])
    elif type_ == "label":
        widget = Static(Text(text), markup=False)
        _set_tone(widget, p["tone"], p["bold"])
    elif type_ == "markdown":
        widget = Markdown(text)
    elif type_ == "button":
        widget = Button(Text(p["label"]), variant=p["variant"], disabled=p["disabled"])
    elif type_ == "input":
        widget = Input(
            value=p["value"],
            placeholder=p["placeholder"],
            password=p["password"],
            disabled=p["disabled"],
        )
    elif type_ == "checkbox":
        widget = Checkbox(Text(p["label"]), p["value"], disabled=p["disabled"])
    elif type_ == "select":
        options = [(Text(o), o) for o in p["options"]]
        value = p["value"] if p["value"] in p["options"] else Select.NULL
        widget = Select[str](
            options, prompt=p["placeholder"] or "Select", value=value, disabled=p["disabled"]
        )
    elif type_ == "table":
        table = MotifTable(cursor_type="row", zebra_stripes=True)
        table.set_columns(p["columns"])
        widget = table
    elif type_ == "progress":
        widget = ProgressBar(total=p["total"], show_eta=False)
        widget.progress = p["progress"]
    else:
        raise ValueError(f"no widget for element type {type_!r}")
    widget.add_class(f"motif-{type_}")
    return widget


def update_widget(
    widget: Widget, type_: str, changed: Mapping[str, Any], props: Mapping[str, Any]
) -> None:
    """Apply ``changed`` props (defaults for removed ones already filled in) to ``widget``;
    ``props`` are all its props after the change.

    ``table`` columns and ``label``/``markdown`` text are handled by the renderer.
    """
    if type_ in CONTAINERS:
        if "title" in changed:
            _set_title(widget, changed["title"])
    elif type_ == "label":
        assert isinstance(widget, Static)
        tone = changed.get("tone", _tone_of(widget))
        bold = changed.get("bold", widget.has_class("-bold"))
        _set_tone(widget, tone, bold)
    elif isinstance(widget, Button):
        if "label" in changed:
            widget.label = Text(changed["label"])
        if "variant" in changed:
            widget.variant = changed["variant"]
        if "disabled" in changed:
            widget.disabled = changed["disabled"]
    elif isinstance(widget, Input):
        if "value" in changed and widget.value != changed["value"]:
            with widget.prevent(Input.Changed):
                widget.value = changed["value"]
        if "placeholder" in changed:
            widget.placeholder = changed["placeholder"]
        if "password" in changed:
            widget.password = changed["password"]
        if "disabled" in changed:
            widget.disabled = changed["disabled"]
    elif isinstance(widget, Checkbox):
        if "label" in changed:
            widget.label = Text(changed["label"])
        if "value" in changed and widget.value != changed["value"]:
            with widget.prevent(Checkbox.Changed):
                widget.value = changed["value"]
        if "disabled" in changed:
            widget.disabled = changed["disabled"]
    elif isinstance(widget, Select):
        _update_select(widget, changed, props)
    elif isinstance(widget, ProgressBar):
        if "total" in changed:
            widget.total = changed["total"]
        if "progress" in changed:
            widget.progress = changed["progress"]


def _update_select(
    widget: Select[str], changed: Mapping[str, Any], props: Mapping[str, Any]
) -> None:
    options = list(props["options"])
    with widget.prevent(Select.Changed):
        if "options" in changed:
            widget.set_options([(Text(o), o) for o in options])
        if "options" in changed or "value" in changed:
            value = props["value"]
            target = value if value in options else Select.NULL
            if widget.value != target:
                widget.value = target
    if "placeholder" in changed:
        widget.prompt = changed["placeholder"] or "Select"
    if "disabled" in changed:
        widget.disabled = changed["disabled"]


def _set_title(widget: Widget, title: str) -> None:
    widget.border_title = Text(title) if title else None
    widget.set_class(bool(title), "-titled")


def _tone_of(widget: Widget) -> str:
    return next((t for t in TONES if widget.has_class(f"-tone-{t}")), "default")


def _set_tone(widget: Widget, tone: str, bold: bool) -> None:
    for name in TONES:
        widget.set_class(name == tone, f"-tone-{name}")
    widget.set_class(bold, "-bold")
