"""How run and step states look outside the board (runs view, details, conductor log): the
same glyph and theme colour as on the board (:data:`symphony_tui.board.canvas.STATE_LOOKS`).

Colours come from the current theme's variables (never fixed values).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.style import Style
from textual.color import Color

from symphony_tui.board.canvas import STATE_LOOKS

if TYPE_CHECKING:
    from textual.app import App

__all__ = ["glyph", "state_style"]


def glyph(state: str) -> str:
    """The state's glyph (``running`` gets the spinner's first, still frame)."""
    look = STATE_LOOKS.get(state)
    return look.glyph if look is not None else "?"


def state_style(app: App[object], state: str) -> Style:
    """The style of ``state`` in the app's current theme."""
    look = STATE_LOOKS.get(state) or STATE_LOOKS[None]
    variables = app.theme_variables
    value = variables.get(look.color)
    if value is None:
        return Style(dim=True)
    background = Color.parse(variables.get("background", "black"))
    colour = (background + Color.parse(value)).rich_color
    return Style(color=colour, bold=state in ("running", "failed", "crashed"))
