"""Motif panels in the TUI: the Textual renderer of virtual-DOM trees and the panel view.

:class:`MotifView` shows one panel of a motif and keeps it up to date;
:class:`TextualTarget` is the :class:`~symphony_sdk.vdom.PatchTarget` that maps elements to
Textual widgets and applies patches in place.
"""

from __future__ import annotations

from symphony_tui.motifs.renderer import MNode, MText, TextualTarget
from symphony_tui.motifs.view import MotifView

__all__ = ["MNode", "MText", "MotifView", "TextualTarget"]
