"""Patches: the minimal edits that turn one tree into the next.

Each patch is a frozen msgspec Struct tagged by ``op`` so a list of them travels over the IPC
bus. Patches apply in order; each ``path`` is resolved in the tree as the earlier patches left it
(:mod:`~symphony_sdk.vdom.paths`). :func:`~symphony_sdk.vdom.patching.apply` is the reference of
what each one means.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeAlias

import msgspec

from symphony_sdk.vdom.model import Element, Path

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = [
    "AnyPatch",
    "Insert",
    "Move",
    "Patch",
    "Remove",
    "Replace",
    "SetProps",
    "SetText",
    "index_problem",
    "key_clash",
]


class Patch(msgspec.Struct, frozen=True, kw_only=True, tag_field="op"):
    """Base of the patches. ``path`` is the node the patch edits."""

    path: Path


class SetProps(Patch, frozen=True, kw_only=True, tag="set_props"):
    """Set the element's ``props`` (added or changed ones only) and drop ``removed`` ones.

    A dropped prop goes back to its default.
    """

    props: dict[str, Any] = {}
    removed: tuple[str, ...] = ()


class SetText(Patch, frozen=True, kw_only=True, tag="set_text"):
    """Change the text node at ``path`` to ``text``."""

    text: str


class Replace(Patch, frozen=True, kw_only=True, tag="replace"):
    """Put ``node`` (a whole new subtree) in place of the node at ``path``."""

    node: Element | str


class Insert(Patch, frozen=True, kw_only=True, tag="insert"):
    """Insert ``node`` (a whole new subtree) as child ``index`` of the element at ``path``."""

    index: int
    node: Element | str


class Remove(Patch, frozen=True, kw_only=True, tag="remove"):
    """Remove child ``index`` (and its subtree) of the element at ``path``."""

    index: int


class Move(Patch, frozen=True, kw_only=True, tag="move"):
    """Move child ``from_index`` of the element at ``path`` so it ends up at ``to_index``.

    Like ``children.insert(to_index, children.pop(from_index))``: the node keeps its identity
    (and its widget) and its subtree.
    """

    from_index: int
    to_index: int


#: Any one patch, as decoded from the wire.
AnyPatch: TypeAlias = SetProps | SetText | Replace | Insert | Remove | Move


def index_problem(patch: Insert | Remove | Move, size: int) -> str | None:
    """Why the indices of ``patch`` do not fit a parent with ``size`` children, or None."""
    indices = (patch.from_index, patch.to_index) if isinstance(patch, Move) else (patch.index,)
    limit = size + 1 if isinstance(patch, Insert) else size  # inserting at the end is fine
    for index in indices:
        if not 0 <= index < limit:
            return f"index {index} is out of range for {size} children"
    return None


def key_clash(node: Element | str, sibling_keys: Iterable[str | None]) -> str | None:
    """Why ``node`` cannot join siblings with ``sibling_keys`` (its key is taken), or None."""
    if isinstance(node, Element) and node.key is not None and node.key in sibling_keys:
        return f"a child with key {node.key!r} is already there"
    return None
