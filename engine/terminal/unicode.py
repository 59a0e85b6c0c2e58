"""Text clean-up between the UTF-8 decoder and pyavt, so its cell layout matches the program's.

pyavt gives every code point at least one cell, including zero-width ones: a combining accent,
a zero-width joiner or an emoji variation selector each take a column, while the program that
printed them (and tmux, and xterm) counts none. Every later character on the row would then sit
one column to the right of where the program thinks it is. So non-ASCII text is first composed
(NFC turns ``e`` + U+0301 into ``é``, which also covers macOS's decomposed file names), then the
zero-width code points that remain are dropped: they change no layout, and losing an invisible
joiner is better than shifting a row. Combining marks of complex scripts (Devanagari, Thai,
Arabic vowel signs) are not in the dropped set; they still take a cell of their own.

ASCII text, the common case, passes through untouched after one ``str.isascii`` check.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["layout_text"]

_ZERO_WIDTH = re.compile(
    "["
    "\u0300-\u036f"  # combining diacritical marks
    "\u1ab0-\u1aff"  # combining diacritical marks extended
    "\u1dc0-\u1dff"  # combining diacritical marks supplement
    "\u200b-\u200f"  # zero-width space, (non-)joiner, direction marks
    "\u202a-\u202e"  # bidirectional embedding controls
    "\u2060-\u2064"  # word joiner, invisible operators
    "\u20d0-\u20ff"  # combining marks for symbols
    "\ufe00-\ufe0f"  # variation selectors (emoji presentation)
    "\ufe20-\ufe2f"  # combining half marks
    "\ufeff"  # zero-width no-break space
    "\U000e0000-\U000e007f"  # tags
    "\U000e0100-\U000e01ef"  # variation selectors supplement
    "]+"
)


def layout_text(text: str) -> str:
    """``text`` composed to NFC with zero-width code points removed (ASCII returned as is)."""
    if text.isascii():
        return text
    return _ZERO_WIDTH.sub("", unicodedata.normalize("NFC", text))
