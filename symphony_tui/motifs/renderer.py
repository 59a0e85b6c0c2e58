"""The Textual renderer of motif trees: a :class:`~symphony_sdk.vdom.PatchTarget` over widgets.

:class:`TextualTarget` mounts a tree into a container widget and keeps one :class:`MNode` per
element (its type, key, props, children and widget) — the mounted tree. Patches edit it in
place: a prop change updates its widget's attributes, a move re-orders widgets without
unmounting them, and only inserted or replaced subtrees get new widgets, so focus, scroll
position, cursor and typed text survive updates. Rows are not widgets: they are rows of their
table's :class:`~symphony_tui.motifs.widgets.MotifTable`, keyed by an id of their own.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual.widgets import Markdown, Static
from textual.widgets.data_table import RowKey

from symphony_sdk.vdom import Element, PatchError
from symphony_tui.motifs.widgets import (
    MotifTable,
    build_widget,
    cell,
    props_of,
    update_widget,
)

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from textual.widget import Widget

    from symphony_sdk.vdom import Node, Path, Segment

__all__ = ["MNode", "MText", "TextualTarget"]

_row_ids = itertools.count(1)


@dataclass(eq=False)
class MText:
    """A mounted text node (part of its label's or markdown's content)."""

    parent: MNode
    text: str


@dataclass(eq=False)
class MNode:
    """A mounted element."""

    type: str
    key: str | None
    props: dict[str, Any]
    parent: MNode | None = None
    children: list[MNode | MText] = field(default_factory=list)
    widget: Widget | None = None  # None for rows
    row_key: RowKey | None = None  # rows only

    def path(self) -> Path:
        """Where the element is in the tree the panel shows."""
        segments: list[Segment] = []
        node = self
        while node.parent is not None:
            siblings = node.parent.children
            segments.append(node.key if node.key is not None else siblings.index(node))
            node = node.parent
        return tuple(reversed(segments))

    def text(self) -> str:
        return "".join(c.text for c in self.children if isinstance(c, MText))


Handle = MNode | MText


class TextualTarget:
    """The mounted tree of one panel inside ``host`` (a container widget).

    Args:
        host: the widget the root element's widget is mounted in (as its only child).
    """

    def __init__(self, host: Widget) -> None:
        self.host = host
        self.tree: MNode | None = None
        self._by_widget: dict[Widget, MNode] = {}
        self._rows: dict[RowKey, MNode] = {}

    # --- mounting ----------------------------------------------------------------------------

    def mount(self, tree: Element) -> None:
        """Show ``tree``, replacing whatever was shown."""
        if self.tree is not None:
            self._forget(self.tree)
            assert self.tree.widget is not None
            self.tree.widget.remove()
        self.tree = self._build(tree, None)
        assert self.tree.widget is not None
        self.tree.widget.add_class("motif-root")
        self.host.mount(self.tree.widget)

    def _build(self, element: Element, parent: MNode | None) -> MNode:
        node = MNode(element.type, element.key, dict(element.props), parent)
        if element.type == "row":
            node.row_key = RowKey(f"r{next(_row_ids)}")
            self._rows[node.row_key] = node
            return node
        widgets: list[Widget] = []
        for child in element.children:
            if isinstance(child, str):
                node.children.append(MText(node, child))
                continue
            sub = self._build(child, node)
            node.children.append(sub)
            if sub.widget is not None:
                widgets.append(sub.widget)
        node.widget = build_widget(element.type, element.props, node.text(), widgets)
        self._by_widget[node.widget] = node
        if element.type == "table":
            self._fill_table(node)
        return node

    def _forget(self, node: MNode) -> None:
        stack: list[MNode] = [node]
        while stack:
            current = stack.pop()
            if current.widget is not None:
                self._by_widget.pop(current.widget, None)
            if current.row_key is not None:
                self._rows.pop(current.row_key, None)
            stack.extend(c for c in current.children if isinstance(c, MNode))

    # --- looking up --------------------------------------------------------------------------

    def node_of(self, widget: Widget) -> MNode | None:
        """The element ``widget`` shows, if it is one of this panel's."""
        return self._by_widget.get(widget)

    def row_of(self, key: RowKey) -> MNode | None:
        """The row element of a table row key."""
        return self._rows.get(key)

    # --- PatchTarget -------------------------------------------------------------------------

    def root(self) -> Handle:
        if self.tree is None:
            raise PatchError.at("root", "nothing is mounted")
        return self.tree

    def child(self, node: Handle, segment: Segment) -> Handle:
        if isinstance(node, MText):
            raise PatchError.at(_where(node), "text has no children")
        if isinstance(segment, int):
            if not 0 <= segment < len(node.children):
                raise PatchError.at(_where(node), f"no child {segment}")
            return node.children[segment]
        for child in node.children:
            if isinstance(child, MNode) and child.key == segment:
                return child
        raise PatchError.at(_where(node), f"no child with key {segment!r}")

    def set_props(self, node: Handle, props: Mapping[str, Any], removed: Sequence[str]) -> None:
        element = _element(node)
        for name in removed:
            element.props.pop(name, None)
        element.props.update(props)
        full = props_of(element.type, element.props)
        changed = {name: full[name] for name in (*props, *removed)}
        if element.type == "row":
            self._update_row(element)
        elif element.type == "table" and "columns" in changed:
            self._fill_table(element, columns=True)
        elif element.widget is not None:
            update_widget(element.widget, element.type, changed, full)

    def set_text(self, node: Handle, text: str) -> None:
        if not isinstance(node, MText):
            raise PatchError.at(_where(node), "not a text node")
        node.text = text
        self._show_text(node.parent)

    def replace(self, node: Handle, new: Node) -> None:
        if isinstance(node, MNode) and node.parent is None:
            if not isinstance(new, Element):
                raise PatchError.at("root", "the root must be an element")
            self.mount(new)
            return
        parent = node.parent
        assert parent is not None
        index = parent.children.index(node)
        self.remove(parent, index)
        self.insert(parent, index, new)

    def insert(self, parent: Handle, index: int, node: Node) -> None:
        parent = _element(parent)
        if not 0 <= index <= len(parent.children):
            raise PatchError.at(_where(parent), f"index {index} is out of range")
        if isinstance(node, str):
            parent.children.insert(index, MText(parent, node))
            self._show_text(parent)
            return
        child = self._build(node, parent)
        parent.children.insert(index, child)
        if child.row_key is not None:
            table = _table(parent)
            table.add_row(*self._cells(parent, child), key=child.row_key.value)
            if index < len(parent.children) - 1:
                table.reorder(self._row_keys(parent))
            return
        assert parent.widget is not None and child.widget is not None
        after = [c.widget for c in parent.children[index + 1 :] if isinstance(c, MNode)]
        before = next((w for w in after if w is not None), None)
        if before is not None:
            parent.widget.mount(child.widget, before=before)
        else:
            parent.widget.mount(child.widget)

    def remove(self, parent: Handle, index: int) -> None:
        parent = _element(parent)
        if not 0 <= index < len(parent.children):
            raise PatchError.at(_where(parent), f"index {index} is out of range")
        child = parent.children.pop(index)
        if isinstance(child, MText):
            self._show_text(parent)
            return
        self._forget(child)
        if child.row_key is not None:
            _table(parent).remove_row(child.row_key)
        elif child.widget is not None:
            child.widget.remove()

    def move(self, parent: Handle, from_index: int, to_index: int) -> None:
        parent = _element(parent)
        size = len(parent.children)
        if not (0 <= from_index < size and 0 <= to_index < size):
            raise PatchError.at(_where(parent), f"move {from_index} → {to_index} is out of range")
        child = parent.children.pop(from_index)
        parent.children.insert(to_index, child)
        if isinstance(child, MText):
            self._show_text(parent)
            return
        if child.row_key is not None:
            _table(parent).reorder(self._row_keys(parent))
            return
        assert parent.widget is not None and child.widget is not None
        widgets = [c.widget for c in parent.children if isinstance(c, MNode) and c.widget]
        position = widgets.index(child.widget)
        if position + 1 < len(widgets):
            parent.widget.move_child(child.widget, before=widgets[position + 1])
        elif position > 0:
            parent.widget.move_child(child.widget, after=widgets[position - 1])

    # --- tables and text ---------------------------------------------------------------------

    def _fill_table(self, table_node: MNode, *, columns: bool = True) -> None:
        table = _table(table_node)
        if columns:
            table.set_columns(props_of("table", table_node.props)["columns"])
        rows = [c for c in table_node.children if isinstance(c, MNode)]
        for row in rows:
            assert row.row_key is not None
            table.add_row(*self._cells(table_node, row), key=row.row_key.value)

    def _cells(self, table_node: MNode, row: MNode) -> list[Text]:
        width = len(props_of("table", table_node.props)["columns"])
        values = list(props_of("row", row.props)["cells"])[:width]
        values += [None] * (width - len(values))
        return [cell(v) for v in values]

    def _update_row(self, row: MNode) -> None:
        parent = row.parent
        assert parent is not None and row.row_key is not None
        table = _table(parent)
        for index, value in enumerate(self._cells(parent, row)):
            table.update_cell(row.row_key, f"c{index}", value, update_width=True)

    def _row_keys(self, table_node: MNode) -> list[RowKey]:
        return [c.row_key for c in table_node.children if isinstance(c, MNode) and c.row_key]

    def _show_text(self, node: MNode) -> None:
        widget = node.widget
        if isinstance(widget, Markdown):
            widget.update(node.text())
        elif isinstance(widget, Static):
            widget.update(Text(node.text()))


def _element(node: Handle) -> MNode:
    if isinstance(node, MText):
        raise PatchError.at(_where(node), "text where an element is needed")
    return node


def _table(node: MNode) -> MotifTable:
    if not isinstance(node.widget, MotifTable):
        raise PatchError.at(_where(node), "rows belong in a table")
    return node.widget


def _where(node: Handle) -> str:
    element = node.parent if isinstance(node, MText) else node
    if element is None:
        return "root"
    return "root/" + "/".join(str(s) for s in element.path())
