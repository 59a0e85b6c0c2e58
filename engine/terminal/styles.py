"""Cell styles: the immutable :class:`Style` and :class:`Segment` a renderer draws, made from pyavt.

pyavt describes a cell's look with a ``Pen`` (mutable, not hashable, colours as tagged objects);
renderers want small immutable values with colours Rich can parse. :class:`StyleCache` turns
pens into shared :class:`Style` objects and rows of cells into runs of equal style. It is on the
screen-reading hot path (a 200x50 screen is 10,000 cells), so it compares pens natively and
converts each distinct pen once. Not thread-safe; owned by one emulator.
"""

from __future__ import annotations

from dataclasses import dataclass

import avt

__all__ = ["DEFAULT_STYLE", "Segment", "Style", "StyleCache"]


@dataclass(frozen=True, slots=True)
class Style:
    """The look of a run of cells.

    Colours are strings Rich understands: ``"color(N)"`` for the 256-colour palette (0-15 are the
    theme's ANSI colours), ``"#rrggbb"`` for truecolor, ``None`` for the terminal default.
    """

    fg: str | None = None
    bg: str | None = None
    bold: bool = False
    dim: bool = False
    italic: bool = False
    underline: bool = False
    blink: bool = False
    reverse: bool = False
    strike: bool = False


DEFAULT_STYLE = Style()


@dataclass(frozen=True, slots=True)
class Segment:
    """A run of characters in one style. A wide character appears once but covers two cells."""

    text: str
    style: Style


def _color(color: avt.Color | None) -> str | None:
    if color is None:
        return None
    if isinstance(color, avt.Color.Indexed):
        return f"color({color[0]})"
    if isinstance(color, avt.Color.RGB):
        return f"#{color[0]:02x}{color[1]:02x}{color[2]:02x}"
    raise TypeError(f"unknown pyavt colour {color!r}")


class StyleCache:
    """Maps pyavt pens to :class:`Style` objects, shared so equal styles are one object.

    Pens are not hashable; their ``repr`` is a complete description and is cheap, so it is the
    key. A screen rarely uses more than a few dozen styles, but the cache is bounded anyway.
    """

    __slots__ = ("_styles",)
    _LIMIT = 4096

    def __init__(self) -> None:
        self._styles: dict[str, Style] = {}

    def get(self, pen: avt.Pen) -> Style:
        """The style of a pen."""
        key = repr(pen)
        style = self._styles.get(key)
        if style is None:
            if pen.is_default():
                style = DEFAULT_STYLE
            else:
                style = Style(
                    fg=_color(pen.foreground),
                    bg=_color(pen.background),
                    bold=pen.bold,
                    dim=pen.faint,
                    italic=pen.italic,
                    underline=pen.underline,
                    blink=pen.blink,
                    reverse=pen.inverse,
                    strike=pen.strikethrough,
                )
            if len(self._styles) >= self._LIMIT:
                self._styles.clear()
            self._styles[key] = style
        return style

    def segments(self, line: avt.Line) -> tuple[Segment, ...]:
        """One row's cells as runs of equal style; wide characters' spacer cells are skipped."""
        cells = line.cells
        if not cells:
            return ()
        out: list[Segment] = []
        chars: list[str] = []
        pen = cells[0].pen
        for cell in cells:
            cell_pen = cell.pen
            if cell_pen != pen:
                if chars:
                    out.append(Segment("".join(chars), self.get(pen)))
                    chars = []
                pen = cell_pen
            if cell.width:
                chars.append(cell.char)
        if chars:
            out.append(Segment("".join(chars), self.get(pen)))
        return tuple(out)
