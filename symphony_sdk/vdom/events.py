"""Events going back from a motif's panel to the motif: what the user did, and where.

The renderer turns a widget's message (a button pressed, an input changed) into a
:class:`UiEvent` naming the element by its path; the motif receives it over the bus and may
answer with a new tree. :func:`validate_event` checks an event against the tree it came from.
"""

from __future__ import annotations

from typing import Any

import msgspec

from symphony_sdk.vdom.elements import ELEMENTS, EventKind
from symphony_sdk.vdom.errors import VDomError
from symphony_sdk.vdom.model import Element, Path
from symphony_sdk.vdom.paths import describe, resolve

__all__ = ["UiEvent", "validate_event"]


class UiEvent(msgspec.Struct, frozen=True, kw_only=True):
    """The user did something to an element of a motif's panel.

    Attributes:
        path: the element's path in the tree the panel shows (keys where it has them).
        kind: ``press`` (button), ``change`` (input text, checkbox), ``select`` (select option,
            table row) or ``submit`` (input, on enter).
        value: the new value: the input's text, the checkbox's state, the selected option (or
            None); None for ``press`` and row ``select``.
    """

    path: Path
    kind: EventKind
    value: Any = None

    @property
    def key(self) -> str | None:
        """The element's key, when it has one (the last segment of its path)."""
        last = self.path[-1] if self.path else None
        return last if isinstance(last, str) else None


def validate_event(tree: Element, event: UiEvent) -> Element:
    """The element ``event`` comes from, if the event fits it.

    Raises:
        VDomError: the path leads nowhere or to text, the element's type does not send events
            of this kind, or the value is of the wrong type.
    """
    node = resolve(tree, event.path)
    where = describe(tree, event.path)
    if not isinstance(node, Element):
        raise VDomError.at(where, "events come from elements, not text")
    spec = ELEMENTS.get(node.type)
    value_type = spec.events.get(event.kind) if spec is not None else None
    if value_type is None:
        raise VDomError.at(where, f"{node.type} sends no {event.kind!r} events")
    reason = value_type.problem(event.value)
    if reason is not None:
        raise VDomError.at(where, f"the value of a {event.kind!r} event {reason}")
    return node
