"""The scrollback of an ``AvtEmulator``, kept cheap to count and to read from the UI thread.

pyavt only hands out its history as a list of every line (``Vt.lines()``, about 1 µs per line
at 200 columns), so counting or reading 10,000 rows of history from the UI thread would cost
~10 ms a frame. So pyavt keeps only the most recent rows (``RECENT`` of them): enough to reflow
them and to pull them back onto the screen when the terminal grows, as tmux does. Rows it
drops off the top are handed over (``feed_str``'s second result) and kept here, in a bounded
deque, as they are. Counting is then O(1) once pyavt's part is full, and reading a range costs
what the range holds, plus at most ``RECENT`` rows.

The price: rows older than the recent part are not reflowed when the width changes (a front end
crops or pads them). ``CSI 3 J`` and a full reset hide the rows held at that moment (pyavt
ignores the first and empties only its own part on the second); hidden rows stay in the
transcript, which is a record rather than a view. Not thread-safe; owned by one emulator.
"""

from __future__ import annotations

from collections import deque
from itertools import islice
from typing import TYPE_CHECKING

from avt.util import TextUnwrapper

if TYPE_CHECKING:
    import avt

__all__ = ["RECENT", "History"]

#: History rows pyavt itself keeps (and reflows on resize).
RECENT = 500


class History:
    """History rows above the screen: older ones here, the most recent inside pyavt.

    Args:
        vt: the pyavt terminal whose history this is.
        limit: how many rows to keep in all; the oldest are dropped first.
        recent: how many of them pyavt keeps; the ``scrollback_limit`` it was made with.
    """

    def __init__(self, vt: avt.Vt, limit: int, recent: int) -> None:
        self._vt = vt
        self._recent_limit = recent
        self._old: deque[avt.Line] = deque(maxlen=max(0, limit - recent))
        # pyavt's own history length: known once it overflowed, else counted when stale.
        self._recent_full = False
        self._recent_count = 0
        self._recent_stale = True
        self._hidden = 0  # rows at the front hidden by CSI 3 J or RIS
        self.dropped = 0
        """Rows that left the front of the visible history so far (for stable scrolling)."""

    def count(self, rows: int) -> int:
        """Visible history rows, given the screen height (the primary screen is assumed)."""
        return len(self._old) + self._recent(rows) - self._hidden

    def lines(self, rows: int, first: int, last: int) -> list[avt.Line]:
        """Visible history rows ``first:last`` (0 <= first <= last <= count), oldest first."""
        first += self._hidden
        last += self._hidden
        held = len(self._old)
        out = list(islice(self._old, first, min(last, held)))
        if last > held:
            recent = self._vt.lines()[: -rows or None]
            out += recent[max(0, first - held) : last - held]
        return out

    def text(self) -> list[str]:
        """Every row held, hidden ones included, as text with wrapped lines joined."""
        unwrapper = TextUnwrapper()
        lines: list[str] = []
        for line in self._old:
            text = unwrapper.push(line)
            if text is not None:
                lines.append(text)
        recent = self._vt.text()  # the primary screen's rows, also on the alternate screen
        pending = unwrapper.flush()
        if pending is not None:  # the oldest recent row continues the last old one
            recent[:1] = [pending + (recent[0] if recent else "")]
        return [line.rstrip(" ") for line in lines] + recent

    # -- changes ----------------------------------------------------------------------------

    def evicted(self, lines: list[avt.Line]) -> None:
        """pyavt dropped these rows off the top of its part: it is full; keep them here."""
        self._recent_full = True
        self._recent_stale = True
        old = self._old
        overflow = max(0, len(old) + len(lines) - (old.maxlen or 0))
        if overflow:
            self.dropped += max(0, overflow - self._hidden)
            self._hidden = max(0, self._hidden - overflow)
        old.extend(lines)

    def grew(self) -> None:
        """pyavt's history may have grown (the screen's top row changed)."""
        self._recent_stale = True

    def resized(self) -> None:
        """pyavt reflowed its part and may have pulled rows back onto the screen."""
        self._recent_full = False
        self._recent_stale = True

    def erase(self, rows: int) -> None:
        """``CSI 3 J``: hide every row held now."""
        visible = self.count(rows)
        self.dropped += visible
        self._hidden += visible

    def reset(self) -> None:
        """A full reset (RIS) emptied pyavt's part; hide the rows held here too."""
        recent = self._recent_limit if self._recent_full else self._recent_count
        self.dropped += max(0, len(self._old) + recent - self._hidden)
        self._hidden = len(self._old)
        self.resized()

    def _recent(self, rows: int) -> int:
        if self._recent_full:
            return self._recent_limit
        if self._recent_stale:
            self._recent_count = len(self._vt.lines()) - rows
            self._recent_stale = False
        return self._recent_count
