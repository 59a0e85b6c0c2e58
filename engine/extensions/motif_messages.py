"""Commands, replies and events of motif panels on the bus.

Trees, patches and UI events travel as bytes encoded with :mod:`symphony_sdk.vdom.codec`
(``encode`` / ``decode_tree`` / ``decode_patches`` / ``decode_event``), the same encoding as
between the engine and an extension host, so a panel's tree is never converted twice.

Each panel has a version: the tree an :class:`OpenPanel` reply carries is version ``version``,
and a :class:`PanelPatched` event turns version ``base`` into ``version``. A view applies the
events whose ``base`` is its version, ignores older ones and opens the panel again after a gap.
"""

from __future__ import annotations

import msgspec

from engine.types.messages import Command, Event, Reply

__all__ = [
    "ClosePanel",
    "ListPanels",
    "OpenPanel",
    "PanelEvent",
    "PanelInfo",
    "PanelList",
    "PanelOpened",
    "PanelPatched",
]


class ListPanels(Command, frozen=True, kw_only=True):
    """The panels enabled motifs contribute. Replies :class:`PanelList`."""


class PanelInfo(msgspec.Struct, frozen=True, kw_only=True):
    """One panel: its id (what :class:`OpenPanel` names), tab title and motif."""

    id: str
    title: str
    extension: str


class PanelList(Reply, frozen=True, kw_only=True):
    """Panels, sorted by title."""

    panels: tuple[PanelInfo, ...]


class OpenPanel(Command, frozen=True, kw_only=True):
    """Render panel ``panel`` (activating its motif if need be). Replies :class:`PanelOpened`.

    Each view showing the panel opens it once and closes it once (:class:`ClosePanel`).
    """

    panel: str


class PanelOpened(Reply, frozen=True, kw_only=True):
    """The panel's current tree (``tree``: encoded :class:`~symphony_sdk.vdom.Element`)."""

    panel: str
    title: str
    extension: str
    version: int
    tree: bytes
    #: Why the tree shows an error instead of the motif's panel; empty when it does not.
    error: str = ""


class PanelEvent(Command, frozen=True, kw_only=True):
    """The user did something in the panel (``event``: encoded
    :class:`~symphony_sdk.vdom.UiEvent`, its path in the tree of ``version``). Replies
    :class:`~engine.types.messages.Ack`; the new tree follows as :class:`PanelPatched`."""

    panel: str
    event: bytes
    version: int | None = None


class ClosePanel(Command, frozen=True, kw_only=True):
    """A view of the panel closed. Replies :class:`~engine.types.messages.Ack`."""

    panel: str


class PanelPatched(Event, frozen=True, kw_only=True):
    """The panel's tree changed from version ``base`` to ``version``; ``patches`` (an encoded
    list of patches) turn the one into the other."""

    panel: str
    base: int
    version: int
    patches: bytes
    #: Why the panel now shows an error (a render that failed); empty when it does not.
    error: str = ""
