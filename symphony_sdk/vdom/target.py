"""What a renderer implements to apply patches to its widgets, and the driver that does it.

A renderer implements :class:`PatchTarget` over its own node handles (widgets); :func:`apply_to`
resolves each patch's path through it and calls the one matching operation. Its meaning is
:func:`~symphony_sdk.vdom.patching.apply`'s; :class:`~symphony_sdk.vdom.mirror.Mirror` is the
in-memory implementation tests and benchmarks use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from symphony_sdk.vdom.errors import PatchError
from symphony_sdk.vdom.patches import Insert, Move, Remove, Replace, SetProps, SetText
from symphony_sdk.vdom.paths import ROOT

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

    from symphony_sdk.vdom.model import Node, Segment
    from symphony_sdk.vdom.patches import Patch

__all__ = ["PatchTarget", "apply_to"]

H = TypeVar("H")


class PatchTarget(Protocol[H]):
    """Mounted nodes a renderer can edit; ``H`` is its handle on one node (a widget).

    Every method raises :class:`~symphony_sdk.vdom.errors.PatchError` when the patch does not
    fit (a missing child, an index out of range, text where an element is needed).
    """

    def root(self) -> H:
        """The handle of the root element."""
        ...

    def child(self, node: H, segment: Segment) -> H:
        """The child of ``node`` with key ``segment`` (a string) or at index ``segment``."""
        ...

    def set_props(self, node: H, props: Mapping[str, Any], removed: Sequence[str]) -> None:
        """Set ``props`` on the element; ``removed`` props go back to their defaults."""
        ...

    def set_text(self, node: H, text: str) -> None:
        """Change the text node's text."""
        ...

    def replace(self, node: H, new: Node) -> None:
        """Unmount ``node`` and mount ``new`` (a whole subtree) in its place."""
        ...

    def insert(self, parent: H, index: int, node: Node) -> None:
        """Mount ``node`` (a whole subtree) as child ``index`` of ``parent``."""
        ...

    def remove(self, parent: H, index: int) -> None:
        """Unmount child ``index`` of ``parent`` and its subtree."""
        ...

    def move(self, parent: H, from_index: int, to_index: int) -> None:
        """Move child ``from_index`` of ``parent`` to ``to_index``, keeping it mounted."""
        ...


def apply_to(target: PatchTarget[H], patches: Iterable[Patch]) -> None:
    """Apply ``patches`` in order to ``target``'s mounted nodes.

    Raises:
        PatchError: a patch does not fit the mounted nodes.
    """
    for patch in patches:
        node = target.root()
        for seg in patch.path:
            node = target.child(node, seg)
        if isinstance(patch, SetProps):
            target.set_props(node, patch.props, patch.removed)
        elif isinstance(patch, SetText):
            target.set_text(node, patch.text)
        elif isinstance(patch, Replace):
            target.replace(node, patch.node)
        elif isinstance(patch, Insert):
            target.insert(node, patch.index, patch.node)
        elif isinstance(patch, Remove):
            target.remove(node, patch.index)
        elif isinstance(patch, Move):
            target.move(node, patch.from_index, patch.to_index)
        else:
            raise PatchError.at(ROOT, f"unknown patch {type(patch).__name__}")
