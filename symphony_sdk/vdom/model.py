"""The virtual-DOM model of motif panels: elements, text nodes, paths and JSON values.

A motif describes its panel as a tree of :class:`Element` values (type, key, props, children);
text nodes are plain strings. Trees are msgspec Structs, so they travel over the IPC bus from
extension host processes unchanged. This module holds data only: the element types are in
:mod:`~symphony_sdk.vdom.elements`, checking in :mod:`~symphony_sdk.vdom.checks`. It must
import neither Textual nor the engine.
"""

from __future__ import annotations

from typing import Any, TypeAlias

import msgspec

__all__ = ["Element", "JSONValue", "Node", "Path", "Segment", "same_value"]

#: A prop or event value: what JSON (and msgpack) can carry, with plain Python types.
JSONValue: TypeAlias = bool | int | float | str | list["JSONValue"] | dict[str, "JSONValue"] | None


class Element(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """One element of a motif's tree.

    Attributes:
        type: the element type, one of :data:`~symphony_sdk.vdom.elements.ELEMENTS`.
        key: identifies the element among its siblings across updates, so a reordered list
            moves widgets instead of re-creating them. Unique among siblings; None for an
            element matched by position.
        props: the element's properties, JSON values checked against its type.
        children: elements and text nodes (plain strings), in order.
    """

    type: str
    key: str | None = None
    props: dict[str, Any] = {}
    children: tuple[Element | str, ...] = ()


#: A node of a tree: an element or a text node.
Node: TypeAlias = Element | str

#: One step of a path: a child's key, or its index among its parent's children.
Segment: TypeAlias = str | int

#: Where a node is: the segments from the root (the root itself is ``()``).
Path: TypeAlias = tuple[Segment, ...]


def same_value(a: object, b: object) -> bool:
    """Whether two JSON values are the same, telling ``1``, ``1.0`` and ``True`` apart.

    Python's ``==`` says ``1 == True``; a renderer would still show them differently, so the
    diff uses this stricter test. Lists, dicts and floats that ``==`` calls equal are compared
    by their msgpack bytes, which also tell ``0.0`` from ``-0.0``; a dict with its keys in
    another order therefore counts as changed (never a missed change).
    """
    if a is b:
        return True
    if type(a) is not type(b) or a != b:
        return False
    return type(a) not in _BY_BYTES or _encode(a) == _encode(b)


_BY_BYTES = frozenset({list, dict, float})
_encode = msgspec.msgpack.Encoder().encode
