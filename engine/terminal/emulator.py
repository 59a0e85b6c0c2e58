"""The terminal emulator: turns a program's output bytes into a screen of styled cells (SPEC §3.9).

Parsing is the hot path of a terminal: ``cat`` of a 20 MB log must not freeze anything. A pure
Python emulator (pyte) manages about 1 MB/s here, so :class:`AvtEmulator` wraps pyavt, a binding
of asciinema's Rust ``avt`` crate that parses whole chunks natively (tens of MB/s, screens equal
to tmux's; ``bench/bench_terminal.py`` measures it). This module adds what pyavt leaves out:
incremental UTF-8 decoding in front of its ``str`` input (with the clean-up of
:mod:`engine.terminal.unicode`), rows of immutable :class:`Segment` runs a renderer can draw
(:mod:`engine.terminal.styles`) behind a per-row cache invalidated by pyavt's dirty-row report,
cheap scrollback accounting, ``CSI 3 J``, and the modes pyavt does not expose
(:mod:`engine.terminal.modes`).

Front ends program against the :class:`Emulator` protocol and get one from
:func:`make_emulator`. Nothing here does I/O, starts threads or locks: the owner
(:class:`engine.terminal.session.PtySession`) serialises access.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import avt

from engine.terminal.history import RECENT, History
from engine.terminal.modes import Modes, ModeScanner
from engine.terminal.styles import DEFAULT_STYLE, Segment, Style, StyleCache
from engine.terminal.unicode import layout_text

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = [
    "DEFAULT_SCROLLBACK",
    "DEFAULT_STYLE",
    "AvtEmulator",
    "Cursor",
    "Emulator",
    "Modes",
    "Segment",
    "Style",
    "make_emulator",
    "render_plain",
]

DEFAULT_SCROLLBACK = 10_000
# Fetching single rows from pyavt beats copying the whole view when at most this many changed.
_FEW_ROWS = 8


@dataclass(frozen=True, slots=True)
class Cursor:
    """Where the cursor is on the visible screen (0-based column ``x`` and row ``y``)."""

    x: int
    y: int
    visible: bool


class Emulator(Protocol):
    """What a terminal front end needs from an emulator. Implementations are not thread-safe."""

    @property
    def cols(self) -> int:
        """Screen width in cells."""
        ...

    @property
    def rows(self) -> int:
        """Screen height in rows."""
        ...

    @property
    def modes(self) -> Modes:
        """The modes that change how input is encoded and what is shown."""
        ...

    @property
    def generation(self) -> int:
        """A counter that increases whenever output or a resize may have changed the screen."""
        ...

    def feed(self, data: bytes) -> None:
        """Process program output; UTF-8 split across calls is decoded correctly."""
        ...

    def resize(self, cols: int, rows: int) -> None:
        """Change the screen size; wrapped lines are reflowed."""
        ...

    def lines(self) -> list[list[Segment]]:
        """The visible screen, one list of segments per row, each row ``cols`` cells wide."""
        ...

    def screen_rows(self) -> tuple[tuple[Segment, ...], ...]:
        """:meth:`lines` as immutable rows, without copying (for snapshots)."""
        ...

    def text(self) -> list[str]:
        """The visible rows, trailing spaces stripped (like ``tmux capture-pane -p``)."""
        ...

    def cursor(self) -> Cursor:
        """The cursor position and visibility."""
        ...

    def scrollback_len(self) -> int:
        """How many history rows are above the screen (0 on the alternate screen)."""
        ...

    def scrollback_lines(self, start: int, end: int) -> list[list[Segment]]:
        """History rows ``start:end`` (slice semantics), oldest first."""
        ...

    @property
    def scrollback_dropped(self) -> int:
        """How many history rows have been dropped from the front so far."""
        ...

    def title(self) -> str:
        """The window title the program last set with OSC 0 or 2 (empty if none)."""
        ...

    def transcript(self) -> str:
        """Everything on the main screen and in its history as text, wrapped lines joined."""
        ...


class AvtEmulator:
    """An :class:`Emulator` on pyavt with a bounded scrollback.

    Args:
        cols: screen width in cells (at least 1).
        rows: screen height in rows (at least 1).
        scrollback: how many history rows to keep; the oldest are dropped first.
    """

    def __init__(self, cols: int, rows: int, scrollback: int = DEFAULT_SCROLLBACK) -> None:
        _check_size(cols, rows)
        if scrollback < 0:
            raise ValueError(f"scrollback must not be negative, got {scrollback}")
        recent = min(scrollback, RECENT)
        self._vt = avt.Vt(cols, rows, scrollback_limit=recent)
        self._history = History(self._vt, scrollback, recent)
        self._cols = cols
        self._rows = rows
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._scanner = ModeScanner()
        self._styles = StyleCache()
        # Converted rows of the visible screen; None where pyavt reported the row changed.
        self._row_cache: list[tuple[Segment, ...] | None] = [None] * rows
        self._generation = 0

    # -- the protocol -----------------------------------------------------------------------

    @property
    def cols(self) -> int:
        """Screen width in cells."""
        return self._cols

    @property
    def rows(self) -> int:
        """Screen height in rows."""
        return self._rows

    @property
    def generation(self) -> int:
        """Increases whenever output or a resize may have changed the screen."""
        return self._generation

    @property
    def modes(self) -> Modes:
        """The current terminal modes."""
        scanner = self._scanner
        return Modes(
            bracketed_paste=scanner.bracketed_paste,
            app_cursor=scanner.app_cursor,
            alt_screen=scanner.alt_screen,
            cursor_visible=self._vt.cursor.visible,
            mouse=scanner.mouse_mode != 0,
            mouse_mode=scanner.mouse_mode,
            mouse_sgr=scanner.mouse_sgr,
            focus_events=scanner.focus_events,
        )

    def feed(self, data: bytes) -> None:
        """Process program output. Invalid UTF-8 becomes U+FFFD, as in most terminals."""
        if not data:
            return
        events = self._scanner.scan(data)
        decode = self._decoder.decode
        if not events:
            self._feed_text(layout_text(decode(data)))
            return
        # ``CSI 3 J`` and RIS change the history as it is at their point of the stream.
        start = 0
        for end, reset in events:
            self._feed_text(layout_text(decode(data[start:end])))
            if reset:
                self._history.reset()
            elif not self._scanner.alt_screen:
                self._history.erase(self._rows)
            start = end
        self._feed_text(layout_text(decode(data[start:])))

    def resize(self, cols: int, rows: int) -> None:
        """Change the screen size; pyavt reflows wrapped lines and pulls history back down."""
        _check_size(cols, rows)
        if (cols, rows) == (self._cols, self._rows):
            return
        _, evicted = self._vt.resize(cols, rows)
        self._history.resized()
        if evicted:
            self._history.evicted(evicted)
        self._cols = cols
        self._rows = rows
        self._row_cache = [None] * rows
        self._generation += 1

    def lines(self) -> list[list[Segment]]:
        """The visible screen, one list of segments per row."""
        return [list(row) for row in self.screen_rows()]

    def screen_rows(self) -> tuple[tuple[Segment, ...], ...]:
        """The visible screen as immutable rows (shared with the cache: no copy is made)."""
        cache = self._row_cache
        if None in cache:
            vt = self._vt
            segments = self._styles.segments
            view = vt.view() if cache.count(None) > _FEW_ROWS else None
            for index, row in enumerate(cache):
                if row is None:
                    cache[index] = segments(view[index] if view is not None else vt[index])
        return tuple(row for row in cache if row is not None)

    def text(self) -> list[str]:
        """The visible rows as text with trailing spaces stripped."""
        return [line.text.rstrip(" ") for line in self._vt.view()]

    def cursor(self) -> Cursor:
        """The cursor; in the pending-wrap state after the last column, ``x`` stays on it."""
        cursor = self._vt.cursor
        return Cursor(min(cursor.col, self._cols - 1), cursor.row, cursor.visible)

    def scrollback_len(self) -> int:
        """How many history rows are above the screen (0 on the alternate screen)."""
        if self._scanner.alt_screen:
            return 0
        return self._history.count(self._rows)

    def scrollback_lines(self, start: int, end: int) -> list[list[Segment]]:
        """History rows ``start:end`` (slice semantics, negative indices allowed), oldest first.

        Rows older than the last :data:`~engine.terminal.history.RECENT` keep the width they
        had when they scrolled off, if the terminal was resized since.
        """
        first, last, _ = slice(start, end).indices(self.scrollback_len())
        if first >= last:
            return []
        segments = self._styles.segments
        return [list(segments(line)) for line in self._history.lines(self._rows, first, last)]

    @property
    def scrollback_dropped(self) -> int:
        """History rows dropped from the front so far; row ``i`` is the ``dropped + i``-th ever.

        A front end scrolled back into the history adds the growth of this number to its
        offset to stay on the same rows while output continues.
        """
        return self._history.dropped

    def title(self) -> str:
        """The window title set with OSC 0 or 2 (empty until a program sets one)."""
        return self._scanner.title

    def transcript(self) -> str:
        """The main screen and its history as text, wrapped lines joined, trailing blanks cut.

        On the alternate screen this is still the main screen's text, the part worth keeping.
        Rows hidden by ``CSI 3 J`` are included: a transcript is a record, not a view.
        """
        lines = self._history.text()
        while lines and not lines[-1]:
            lines.pop()
        return "\n".join(lines) + "\n" if lines else ""

    # -- internals --------------------------------------------------------------------------

    def _feed_text(self, text: str) -> None:
        if not text:
            return
        changed, evicted = self._vt.feed_str(text)
        cache = self._row_cache
        for index in changed:
            if index < len(cache):
                cache[index] = None
        if evicted:
            self._history.evicted(evicted)
        elif 0 in changed:
            # History only grows by scrolling the top row off, which changes that row.
            self._history.grew()
        self._generation += 1

    def _slow_history_count(self) -> int:
        """The history length counted the expensive way, for tests of the cached count."""
        history = self._history
        return len(history._old) + len(self._vt.lines()) - self._rows - history._hidden


def _check_size(cols: int, rows: int) -> None:
    if cols < 1 or rows < 1:
        raise ValueError(f"a terminal needs at least 1x1 cells, got {cols}x{rows}")


def make_emulator(cols: int, rows: int, scrollback: int = DEFAULT_SCROLLBACK) -> Emulator:
    """The emulator Symphony uses (pyavt-backed) at the given size."""
    return AvtEmulator(cols, rows, scrollback)


def render_plain(rows: Iterable[Iterable[Segment]]) -> list[str]:
    """Rows of segments as text with trailing spaces stripped (for logs, tests and copying)."""
    return ["".join(segment.text for segment in row).rstrip(" ") for row in rows]
