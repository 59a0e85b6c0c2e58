"""The reference meaning of each patch: applying patches to an immutable tree.

:func:`apply` is pure (it builds new elements along each patch's path and shares the rest) and
is what tests compare renderers with: a renderer is right when
:func:`~symphony_sdk.vdom.target.apply_to` on its widgets ends where :func:`apply` does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from msgspec.structs import replace

from symphony_sdk.vdom.errors import PatchError
from symphony_sdk.vdom.model import Element, Node, Path
from symphony_sdk.vdom.patches import (
    Insert,
    Move,
    Patch,
    Remove,
    Replace,
    SetProps,
    SetText,
    index_problem,
    key_clash,
)
from symphony_sdk.vdom.paths import ROOT, child_position, describe, resolve

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = ["apply", "apply_patch"]


def apply(tree: Element, patches: Iterable[Patch]) -> Element:
    """``tree`` with ``patches`` applied in order.

    Raises:
        PatchError: a patch does not fit the tree as the earlier ones left it.
    """
    for patch in patches:
        tree = apply_patch(tree, patch)
    return tree


def apply_patch(tree: Element, patch: Patch) -> Element:
    """``tree`` with one patch applied.

    Raises:
        PatchError: the path leads nowhere, an index is out of range, the patch needs an
            element where there is text (or the reverse), the root would become text, or an
            inserted child's key is already taken.
    """
    target = resolve(tree, patch.path)
    result = _rebuild(tree, patch.path, _edited(target, patch, describe(tree, patch.path)))
    if not isinstance(result, Element):
        raise PatchError.at(ROOT, "the root must be an element, not text")
    return result


def _rebuild(node: Node, path: Path, replacement: Node) -> Node:
    """``node`` with its descendant at ``path`` (which exists) swapped for ``replacement``."""
    if not path or not isinstance(node, Element):
        return replacement
    position = child_position(node, path[0])
    assert position is not None  # resolved before
    child = _rebuild(node.children[position], path[1:], replacement)
    children = (*node.children[:position], child, *node.children[position + 1 :])
    return replace(node, children=children)


def _edited(node: Node, patch: Patch, where: str) -> Node:
    """What the node at ``where`` becomes under ``patch``."""
    if isinstance(patch, Replace):
        return patch.node
    if isinstance(patch, SetText):
        if not isinstance(node, str):
            raise PatchError.at(where, "set_text needs a text node, not an element")
        return patch.text
    if not isinstance(node, Element):
        raise PatchError.at(where, f"{patch.__struct_config__.tag} needs an element, not text")
    if isinstance(patch, SetProps):
        props = {k: v for k, v in node.props.items() if k not in patch.removed}
        props.update(patch.props)
        return replace(node, props=props)
    if not isinstance(patch, Insert | Remove | Move):
        raise PatchError.at(where, f"unknown patch {type(patch).__name__}")
    reason = index_problem(patch, len(node.children))
    if reason is None and isinstance(patch, Insert):
        reason = key_clash(patch.node, [c.key for c in node.children if isinstance(c, Element)])
    if reason is not None:
        raise PatchError.at(where, reason)
    children = list(node.children)
    if isinstance(patch, Insert):
        children.insert(patch.index, patch.node)
    elif isinstance(patch, Remove):
        del children[patch.index]
    else:
        children.insert(patch.to_index, children.pop(patch.from_index))
    return replace(node, children=tuple(children))
