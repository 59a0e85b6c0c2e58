"""``h``: how a motif builds its tree.

::

    from symphony_sdk.vdom import h

    h("vertical",
      h("label", "3 passed, 1 failed", key="summary", tone="warning"),
      h("button", key="rerun", label="Re-run failed", variant="primary"),
      key="root")

Each node is checked as it is built, so a wrong type or prop fails at the line that wrote it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeAlias

from symphony_sdk.vdom.checks import check_element
from symphony_sdk.vdom.errors import Problem, VDomError
from symphony_sdk.vdom.model import Element, JSONValue

__all__ = ["Child", "h"]

#: What ``h`` takes as a child: an element, a text node, None (skipped, for conditional
#: parts) or a list or tuple of those (spliced in, for lists of rows).
Child: TypeAlias = Element | str | Sequence[Element | str | None] | None


def h(type: str, /, *children: Child, key: str | None = None, **props: JSONValue) -> Element:
    """An element of ``type`` with ``children``, ``key`` and ``props``.

    Raises:
        VDomError: the element is invalid (unknown type or prop, a prop of the wrong type,
            duplicate keys among ``children``, children the type does not take).
    """
    flat: list[Element | str] = []
    for child in children:
        if isinstance(child, Sequence) and not isinstance(child, str):
            flat.extend(c for c in child if c is not None)
        elif child is not None:
            flat.append(child)
    element = Element(type=type, key=key, props=props, children=tuple(flat))
    problems: list[Problem] = []
    check_element(element, type if key is None else f"{type}[{key}]", problems)
    if problems:
        raise VDomError(problems)
    return element
