"""Paths into a tree: resolving them and writing them for people.

A path is a tuple of segments from the root: a keyed child is named by its key (a string), any
other child by its index among its parent's children (an int). Written for people, a path
names each node by type and key or index: ``root/vertical[summary]/label#0/text#1``.
"""

from __future__ import annotations

from symphony_sdk.vdom.errors import PatchError
from symphony_sdk.vdom.model import Element, Node, Path, Segment

__all__ = ["ROOT", "child_position", "describe", "label", "resolve", "segment", "written"]

#: How the root is written in locations.
ROOT = "root"


def segment(node: Node, index: int) -> Segment:
    """The path segment of ``node``, the child at ``index``: its key, else its index."""
    if isinstance(node, Element) and node.key is not None:
        return node.key
    return index


def label(node: object, index: int) -> str:
    """How a child at ``index`` is written in a location: ``button[ok]``, ``label#2``."""
    if isinstance(node, Element):
        return written(node.type, node.key, index)
    return written(None, None, index)


def written(type: str | None, key: str | None, index: int) -> str:
    """How a node of ``type`` (None for text) with ``key`` at ``index`` is written."""
    if type is None:
        return f"text#{index}"
    return f"{type}[{key}]" if key is not None else f"{type}#{index}"


def child_position(parent: Element, seg: Segment) -> int | None:
    """The index of the child of ``parent`` that ``seg`` names, or None if there is none."""
    children = parent.children
    if isinstance(seg, str):
        for i, child in enumerate(children):
            if isinstance(child, Element) and child.key == seg:
                return i
        return None
    return seg if 0 <= seg < len(children) else None


def resolve(tree: Element, path: Path) -> Node:
    """The node at ``path``.

    Raises:
        PatchError: the path leads nowhere; the location is the deepest node it reached.
    """
    steps = _walk(tree, path)
    if len(steps) < len(path):
        raise PatchError.at(_written(steps), f"has no child {path[len(steps)]!r}")
    return steps[-1][0] if steps else tree


def describe(tree: Element, path: Path) -> str:
    """``path`` written for people, as far as it resolves in ``tree`` (the rest as given)."""
    steps = _walk(tree, path)
    return "/".join([_written(steps), *(repr(s) for s in path[len(steps) :])])


def _walk(tree: Element, path: Path) -> list[tuple[Node, int]]:
    """The nodes along ``path`` with their positions, as far as it resolves."""
    steps: list[tuple[Node, int]] = []
    node: Node = tree
    for seg in path:
        if not isinstance(node, Element):
            break
        position = child_position(node, seg)
        if position is None:
            break
        node = node.children[position]
        steps.append((node, position))
    return steps


def _written(steps: list[tuple[Node, int]]) -> str:
    return "/".join([ROOT, *(label(node, position) for node, position in steps)])
