"""An in-memory renderer: mutable nodes standing in for widgets.

:class:`Mirror` implements :class:`~symphony_sdk.vdom.target.PatchTarget` the way a widget
renderer would (a node keeps its identity while it is moved or its props change; inserts and
replaces mount new nodes), so tests can check that patches keep widgets alive, and benchmarks
can compare patching with mounting a whole tree again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from symphony_sdk.vdom.errors import PatchError
from symphony_sdk.vdom.model import Element, Node, Path, Segment
from symphony_sdk.vdom.patches import Insert, Move, Remove, index_problem, key_clash
from symphony_sdk.vdom.paths import ROOT, written

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping, Sequence

__all__ = ["Mirror", "MirrorNode", "mount"]


class MirrorNode:
    """One mounted node: an element (``type`` set) or a text node (``text`` set).

    Attributes:
        type: the element type, or None for a text node.
        key: the element's key.
        props: the element's props (mutable).
        text: the text of a text node, else None.
        children: the mounted children, in order.
        keyed: the keyed children by key.
        parent: the node this one is mounted in; None for the root (and once unmounted).
    """

    __slots__ = ("children", "key", "keyed", "parent", "props", "text", "type")

    def __init__(
        self,
        type: str | None,
        key: str | None,
        props: dict[str, Any],
        text: str | None,
        parent: MirrorNode | None,
    ) -> None:
        self.type, self.key, self.props, self.text, self.parent = type, key, props, text, parent
        self.children: list[MirrorNode] = []
        self.keyed: dict[str, MirrorNode] = {}

    def to_node(self) -> Node:
        """The tree this node shows, as a model node."""
        if self.type is None:
            return self.text or ""
        return Element(
            type=self.type,
            key=self.key,
            props=dict(self.props),
            children=tuple(child.to_node() for child in self.children),
        )

    def path(self) -> Path:
        """Where this node is: the path an event from its widget carries."""
        segments: list[Segment] = []
        node = self
        while node.parent is not None:
            index = node.parent.children.index(node)
            segments.append(node.key if node.key is not None else index)
            node = node.parent
        return tuple(reversed(segments))

    def location(self) -> str:
        """Where this node is, written for people: ``root/vertical[summary]/button[ok]``."""
        parts: list[str] = []
        node = self
        while node.parent is not None:
            parts.append(written(node.type, node.key, node.parent.children.index(node)))
            node = node.parent
        return "/".join([ROOT, *reversed(parts)])

    def walk(self) -> Iterator[MirrorNode]:
        """This node and every node below it, depth first."""
        yield self
        for child in self.children:
            yield from child.walk()


def mount(node: Node, parent: MirrorNode | None = None) -> MirrorNode:
    """Mount ``node`` and its subtree from scratch (what a full re-render does)."""
    if isinstance(node, str):
        return MirrorNode(None, None, {}, node, parent)
    mounted = MirrorNode(node.type, node.key, dict(node.props), None, parent)
    mounted.children = [mount(child, mounted) for child in node.children]
    mounted.keyed = {c.key: c for c in mounted.children if c.key is not None}
    return mounted


class Mirror:
    """A :class:`~symphony_sdk.vdom.target.PatchTarget` over :class:`MirrorNode` objects."""

    def __init__(self, tree: Element) -> None:
        self._root = mount(tree)

    def to_element(self) -> Element:
        """The tree the mirror shows now."""
        tree = self._root.to_node()
        assert isinstance(tree, Element)  # replace() keeps the root an element
        return tree

    def root(self) -> MirrorNode:
        """The root node."""
        return self._root

    def child(self, node: MirrorNode, segment: Segment) -> MirrorNode:
        """The child of ``node`` with key ``segment`` or at index ``segment``."""
        if isinstance(segment, str):
            found = node.keyed.get(segment)
        else:
            found = node.children[segment] if 0 <= segment < len(node.children) else None
        if found is None:
            raise PatchError.at(node.location(), f"has no child {segment!r}")
        return found

    def set_props(self, node: MirrorNode, props: Mapping[str, Any], removed: Sequence[str]) -> None:
        """Change the element's props in place."""
        _refuse(node, _not_element(node, "set_props"))
        for name in removed:
            node.props.pop(name, None)
        node.props.update(props)

    def set_text(self, node: MirrorNode, text: str) -> None:
        """Change the text node's text in place."""
        if node.type is not None:
            _refuse(node, "set_text needs a text node, not an element")
        node.text = text

    def replace(self, node: MirrorNode, new: Node) -> None:
        """Mount ``new`` in place of ``node``."""
        parent = node.parent
        if parent is None:
            _refuse(node, None if isinstance(new, Element) else "the root must be an element")
            self._root = mount(new)
            return
        _refuse(parent, key_clash(new, (k for k in parent.keyed if k != node.key)))
        index = parent.children.index(node)
        _unmount(parent, index)
        _mount(parent, index, new)

    def insert(self, parent: MirrorNode, index: int, node: Node) -> None:
        """Mount ``node`` as child ``index`` of ``parent``."""
        _refuse(parent, _not_element(parent, "insert"))
        patch = Insert(path=(), index=index, node=node)
        _refuse(parent, index_problem(patch, len(parent.children)))
        _refuse(parent, key_clash(node, parent.keyed))
        _mount(parent, index, node)

    def remove(self, parent: MirrorNode, index: int) -> None:
        """Unmount child ``index`` of ``parent``."""
        _refuse(parent, _not_element(parent, "remove"))
        _refuse(parent, index_problem(Remove(path=(), index=index), len(parent.children)))
        _unmount(parent, index)

    def move(self, parent: MirrorNode, from_index: int, to_index: int) -> None:
        """Move child ``from_index`` of ``parent`` to ``to_index``; it stays the same node."""
        _refuse(parent, _not_element(parent, "move"))
        patch = Move(path=(), from_index=from_index, to_index=to_index)
        _refuse(parent, index_problem(patch, len(parent.children)))
        parent.children.insert(to_index, parent.children.pop(from_index))


def _mount(parent: MirrorNode, index: int, node: Node) -> None:
    fresh = mount(node, parent)
    parent.children.insert(index, fresh)
    if fresh.key is not None:
        parent.keyed[fresh.key] = fresh


def _unmount(parent: MirrorNode, index: int) -> None:
    gone = parent.children.pop(index)
    if gone.key is not None:
        del parent.keyed[gone.key]
    gone.parent = None


def _not_element(node: MirrorNode, operation: str) -> str | None:
    return f"{operation} needs an element, not text" if node.type is None else None


def _refuse(node: MirrorNode, reason: str | None) -> None:
    """Raise :class:`PatchError` at ``node`` if there is a ``reason``."""
    if reason is not None:
        raise PatchError.at(node.location(), reason)
